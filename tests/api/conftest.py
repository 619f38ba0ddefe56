"""The HTTP host on the in-memory fakes: no database, no Redis, no real signing keys."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from blacksheep import Content, Response
from blacksheep.server import Application
from blacksheep.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_api.app import create_app
from clinic_api.services import AppServices, RateLimit, RateLimits
from clinic_core.application.ports import RateDecision
from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.shared.clock import SystemClock
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    FakeSecretBox,
    InMemoryUnitOfWorkFactory,
)
from clinic_core.testing.blobs import InMemoryBlobStore
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory

PASSWORD = "correct horse battery staple"
JWKS = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": "test-key",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        }
    ]
}


class FixedWindowRateLimiter:
    """Counts per key in fixed windows, in a dict: the RateLimiter contract without Redis."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.keys: list[str] = []

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = time.time()
        window = int(now // window_seconds)
        self.keys.append(key)
        count = self.counts.get((key, window), 0) + 1
        self.counts[(key, window)] = count
        retry_after = int((window + 1) * window_seconds - now) + 1
        return RateDecision(count <= limit, max(0, limit - count), 0 if count <= limit else retry_after)


GENEROUS_LIMITS = RateLimits(
    login_per_ip=RateLimit(1_000),
    login_per_email=RateLimit(1_000),
    signup_per_ip=RateLimit(1_000, 3600),
    anonymous_per_ip=RateLimit(10_000),
    per_user=RateLimit(10_000),
)
"""Tests sign up and sign in far more often than people do; the tests of the budgets set their own."""


def make_services(uow: UnitOfWorkFactory | None = None, **overrides: Any) -> AppServices:
    """The app's services on fakes. The session cache is off, so a revocation shows on the next request.

    ``blobs`` and ``attachment_max_bytes`` among the overrides build the attachment use cases on them."""
    issuer = FakeAccessTokenIssuer()
    attachments: dict[str, Any] = {
        "blobs": overrides.pop("blobs", None) or InMemoryBlobStore(),
        **(
            {"attachment_max_bytes": overrides.pop("attachment_max_bytes")}
            if "attachment_max_bytes" in overrides
            else {}
        ),
    }
    services = AppServices.from_ports(
        uow=uow or InMemoryUnitOfWorkFactory(),
        hasher=FakePasswordHasher(),
        issuer=issuer,
        tokens=issuer,
        clock=SystemClock(),
        jwks=lambda: JWKS,
        rate_limiter=FixedWindowRateLimiter(),
        secret_box=FakeSecretBox(),
        **attachments,
    )
    return replace(services, **{"session_cache_seconds": 0, "limits": GENEROUS_LIMITS, **overrides})


@dataclass
class Api:
    """A started app and a client for it, with the calls most tests make."""

    app: Application
    client: TestClient
    services: AppServices
    uow: UnitOfWorkFactory
    """The app's database: tests read it, and change what no endpoint changes yet."""

    @property
    def memory(self) -> InMemoryUnitOfWorkFactory:
        """The in-memory database behind the app, for tests that reach into it."""
        assert isinstance(self.uow, InMemoryUnitOfWorkFactory), "this app runs on SQL"
        return self.uow

    async def post(self, path: str, body: object, token: str | None = None) -> Response:
        content = Content(b"application/json", json.dumps(body).encode())
        return await self.client.post(path, headers=auth_header(token), content=content)

    async def put(self, path: str, body: object, token: str | None = None) -> Response:
        content = Content(b"application/json", json.dumps(body).encode())
        return await self.client.put(path, headers=auth_header(token), content=content)

    async def patch(
        self, path: str, body: object, token: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        content = Content(b"application/json", json.dumps(body).encode())
        return await self.client.patch(
            path, headers={**(auth_header(token) or {}), **(headers or {})}, content=content
        )

    async def get(self, path: str, token: str | None = None, **query: str) -> Response:
        return await self.client.get(path, headers=auth_header(token), query=query or None)

    async def sign_up(self, email: str, tenant_name: str, unit_name: str = "Centro") -> dict[str, Any]:
        response = await self.post(
            "/v1/signup",
            {
                "tenant_name": tenant_name,
                "unit_name": unit_name,
                "timezone": "America/Sao_Paulo",
                "owner_name": "Ana Souza",
                "email": email,
                "password": PASSWORD,
            },
        )
        assert response.status == 201, await response.text()
        return await body_of(response)

    async def log_in(
        self, email: str, password: str = PASSWORD, tenant_slug: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(
            "/v1/auth/login", {"email": email, "password": password, "tenant_slug": tenant_slug}
        )
        assert response.status == 200, await response.text()
        return await body_of(response)

    async def owner_token(self, email: str, tenant_name: str) -> tuple[str, dict[str, Any]]:
        signed_up = await self.sign_up(email, tenant_name)
        return (await self.log_in(email))["access_token"], signed_up

    async def member_token(
        self,
        owner_token: str,
        email: str,
        roles: list[str],
        unit_ids: list[str] | None = None,
        *,
        signed_in_as: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Invite ``email`` into the owner's clinic, accept, and sign in there: the member's access token.

        A new person accepts with a name and a password; someone with an account accepts signed in as it
        (``signed_in_as``: one of their access tokens).
        """
        invited = await self.post(
            "/v1/invitations", {"email": email, "roles": roles, "unit_ids": unit_ids or []}, owner_token
        )
        assert invited.status == 201, await invited.text()
        token = (await body_of(invited))["token"]
        if signed_in_as is None:
            body = {"token": token, "password": PASSWORD, "name": "Bruno Lima"}
        else:
            body = {"token": token}
        accepted = await self.post("/v1/invitations/accept", body, signed_in_as)
        assert accepted.status == 201, await accepted.text()
        clinic = (await body_of(await self.get("/v1/me", owner_token)))["tenant"]["slug"]
        return (await self.log_in(email, tenant_slug=clinic))["access_token"], await body_of(accepted)


def auth_header(token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {token}"} if token else None


async def body_of(response: Response) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await response.text())
    return data


async def start(app: Application) -> None:
    await app.start()  # type: ignore[no-untyped-call]  # BlackSheep leaves Application.start unannotated


async def stop(app: Application) -> None:
    await app.stop()  # type: ignore[no-untyped-call]  # BlackSheep leaves Application.stop unannotated


@pytest.fixture
async def make_api() -> AsyncIterator[Callable[..., Any]]:
    """Build an Api on fakes, optionally replacing some services (``make_api(rate_limiter=...)``)."""
    apps: list[Application] = []

    async def build(**overrides: Any) -> Api:
        uow = InMemoryUnitOfWorkFactory()
        services = make_services(uow, **overrides)
        app = create_app(services)
        await start(app)
        apps.append(app)
        return Api(app, TestClient(app), services, uow)

    yield build
    for app in apps:
        await stop(app)


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Api:
    built: Api = await make_api()
    return built


@pytest.fixture
async def pg_api(pg_app_engine: AsyncEngine) -> AsyncIterator[Api]:
    """The app on the real SQL repositories, connected as the clinic_app login (row-level security on)."""
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    services = make_services(uow)
    app = create_app(services)
    await start(app)
    yield Api(app, TestClient(app), services, uow)
    await stop(app)
