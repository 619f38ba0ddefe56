"""docs/API.md stays true: its walkthrough runs against a real ``clinic-api``, and it lists what the code has.

- The ```bash blocks of the walkthrough section run, in order, as one ``bash -euo pipefail`` script
  against a ``clinic-api --migrate`` process on a temporary SQLite database (the embedded defaults), with
  ``API`` set to its URL. They need ``curl`` and ``jq``, as a reader does.
- Every route of the app built by ``create_app``, every problem ``code`` the API can answer with, and every
  rate limit with its default value and setting appear in the guide: a route or code added to the code
  and not to the guide fails here.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import fields

import pytest
from blacksheep.server import Application

import clinic_core
from clinic_api.app import create_app
from clinic_api.error_handling import _CODE_OF_STATUS, INTERNAL_ERROR
from clinic_api.problems import status_of
from clinic_api.rate_limiting import LIMITER_DOWN, too_many_requests
from clinic_api.services import AppServices, RateLimit, RateLimits
from clinic_core.audit.model import AuditAction
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.errors import DomainError
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    FakeSecretBox,
    InMemoryUnitOfWorkFactory,
)
from clinic_core.testing.blobs import InMemoryBlobStore
from clinic_infra.ratelimit import InMemoryRateLimiter
from clinic_infra.settings import Settings
from tests.docs.markdown import DOCS, sections_with
from tests.e2e.conftest import serving

GUIDE = DOCS / "API.md"
WALKTHROUGH = "Walkthrough: from sign-up to refresh"
STARTUP_SECONDS = 60


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


# --- what the guide lists --------------------------------------------------------------------------------


@pytest.fixture
async def app() -> AsyncIterator[Application]:
    issuer = FakeAccessTokenIssuer()
    services = AppServices.from_ports(
        uow=InMemoryUnitOfWorkFactory(),
        hasher=FakePasswordHasher(),
        issuer=issuer,
        tokens=issuer,
        clock=SystemClock(),
        jwks=lambda: {"keys": []},
        rate_limiter=InMemoryRateLimiter(),
        secret_box=FakeSecretBox(),
        blobs=InMemoryBlobStore(),
    )
    built = create_app(services)
    # Routes move from the controllers' registry into the router at start. BlackSheep leaves start/stop
    # unannotated.
    await built.start()  # type: ignore[no-untyped-call]
    yield built
    await built.stop()  # type: ignore[no-untyped-call]


async def test_every_route_is_in_the_guide(app: Application) -> None:
    routes = {
        f"{method.decode()} {route.mustache_pattern}"
        for method, by_method in app.router.routes.items()
        for route in by_method
        if method.decode() in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        # The Swagger UI's own copies of the spec, not part of the API.
        and not route.mustache_pattern.startswith("/docs/")
    }
    assert len(routes) > 10, routes  # the app really was built with its controllers
    table_rows = [line for line in guide().splitlines() if line.startswith("| `")]
    missing = sorted(r for r in routes if not any(f"`{r}`" in row for row in table_rows))
    assert missing == [], "routes missing from the table in docs/API.md"


def _domain_errors() -> set[type[DomainError]]:
    for info in pkgutil.walk_packages(clinic_core.__path__, "clinic_core."):
        importlib.import_module(info.name)
    found: set[type[DomainError]] = set()
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            # dataclass(slots=True) replaces a class by a new one; the replaced one is not importable.
            module = sys.modules.get(subclass.__module__)
            if getattr(module, subclass.__name__, None) is subclass:
                found.add(subclass)
    return found


def test_every_problem_code_is_in_the_guide_with_its_status() -> None:
    rows = {
        (int(status), code)
        for status, code in re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", guide(), flags=re.MULTILINE)
    }
    expected = {(status_of(error())[0], error.code) for error in _domain_errors()}
    expected |= set(_CODE_OF_STATUS.items())
    expected |= {
        (INTERNAL_ERROR.status, INTERNAL_ERROR.code),
        (LIMITER_DOWN.status, LIMITER_DOWN.code),
        (too_many_requests(1).status, too_many_requests(1).code),
        (503, "not_ready"),  # written by the readiness endpoint itself
    }
    assert len(expected) > 15
    assert sorted(expected - rows) == [], "codes missing from the error table in docs/API.md"
    assert sorted(rows - expected) == [], "the error table in docs/API.md lists codes the API does not have"


def test_rate_limits_in_the_guide_are_the_defaults() -> None:
    text = guide()
    defaults, settings = RateLimits(), Settings()
    for limit in fields(RateLimits):
        if not isinstance(getattr(defaults, limit.name), RateLimit):
            continue
        variable = f"CLINIC_RATE_LIMIT_{limit.name.upper()}"
        value = getattr(defaults, limit.name).limit
        assert getattr(settings, f"rate_limit_{limit.name}") == value, "the setting and RateLimits disagree"
        rows = [line for line in text.splitlines() if f"`{variable}`" in line]
        assert len(rows) == 1, f"{variable} should have one row in docs/API.md"
        assert f"| {value} |" in rows[0], f"{variable}: the guide does not give its default, {value}"
    plans = {plan.value: budget.limit for plan, budget in defaults.per_tenant_plan}
    assert settings.rate_limit_per_tenant_plan == plans
    for plan, value in plans.items():
        assert f"| {plan} | {value} |" in text, f"the guide does not give the {plan} plan's budget"
    assert {c.value for c in defaults.fail_open} == set(settings.rate_limit_fail_open.split(","))


# --- the walkthrough, run ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``clinic-api --migrate`` on the embedded defaults: a SQLite file, in-process limiter, generated key."""
    with serving(tmp_path_factory.mktemp("api-guide"), {}, "--migrate") as running:
        yield running.url


def test_the_walkthrough_runs_against_a_real_server(server: str) -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    assert missing == [], f"the API.md walkthrough needs {', '.join(missing)} on the PATH"
    sections = {s.heading: s for s in sections_with(guide(), "bash")}
    assert WALKTHROUGH in sections, f"docs/API.md has no '## {WALKTHROUGH}' section with bash blocks"
    script = "".join(block.source for block in sections[WALKTHROUGH].blocks)

    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],  # noqa: S607 - bash from the PATH, as a reader runs it
        env={**os.environ, "API": server},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert completed.stderr == ""
    out = completed.stdout
    assert '"slug": "clinica-bela-vista"' in out
    assert '"phone": "+5511987654321"' in out
    assert '"Unidade Jardins"\n]' in out  # Bruno's unit list holds his unit only
    reused, after = (line for line in out.splitlines() if '"code":' in line and "refresh" in line)
    assert "refresh_token_reused" in reused
    assert "invalid_refresh_token" in after


def test_every_audit_action_is_in_the_guide() -> None:
    rows = {line.split("|")[1].strip().strip("`") for line in guide().splitlines() if line.startswith("| `")}
    assert sorted(action.value for action in AuditAction if action.value not in rows) == []
