"""What the API logs about a failed request says what failed and where, never about whom: no query string,
no email, CPF, name, token or body, whatever the logger (BlackSheep's own included)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from returns.result import Result

from clinic_api.logging_setup import RequestContextFilter
from clinic_core.application.actor import Actor
from clinic_core.shared.errors import Forbidden, NotFound
from clinic_core.shared.ids import UnitId
from clinic_core.tenancy.model import Unit
from clinic_core.tenancy.units import GetUnit
from clinic_infra.db.engine import create_engine
from tests.api.conftest import Api

CPF = "12345678909"
EMAIL = "maria.silva@example.com"
NAME = "Maria Silva"
QUERY = {"cpf": CPF, "email": EMAIL, "name": NAME}
PERSONAL = (CPF, EMAIL, "maria.silva", "Maria", "cpf=", "email=")


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Each record's message, arguments, extra fields and traceback, as one text to search."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr({k: v for k, v in vars(record).items() if k not in ("exc_info", "args")}))
    return "\n".join(parts)


def assert_nothing_personal(caplog: pytest.LogCaptureFixture) -> None:
    logged = everything_logged(caplog)
    leaked = [value for value in PERSONAL if value in logged]
    assert not leaked, f"{leaked} logged in:\n{logged}"


@pytest.fixture(autouse=True)
def capture_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RequestContextFilter())


async def test_a_404_for_a_bad_id_logs_the_route_not_the_query(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    caplog.clear()
    response = await api.get("/v1/units/zzz", token, **QUERY)
    assert response.status == 404
    assert caplog.records, "the failed request was not logged at all"
    assert_nothing_personal(caplog)
    assert any("/v1/units/{unit_id}" in record.getMessage() for record in caplog.records)


async def test_an_unknown_route_logs_no_query(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    response = await api.get("/v1/no-such-thing", **QUERY)
    assert response.status == 404
    assert_nothing_personal(caplog)


async def test_an_invalid_body_is_not_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    response = await api.post("/v1/auth/login", {"email": EMAIL, "password": 12345678909})
    assert response.status == 422
    assert_nothing_personal(caplog)


class ExplodingGetUnit(GetUnit):
    async def __call__(self, actor: Actor, unit_id: UnitId) -> Result[Unit, Forbidden | NotFound]:
        raise RuntimeError("the unit store is unreachable")


async def test_a_500_logs_its_traceback_and_request_id_but_no_query(
    make_api: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    plain: Api = await make_api()
    api: Api = await make_api(get_unit=ExplodingGetUnit(plain.services.get_unit._uow))
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    caplog.clear()
    response = await api.client.get(
        f"/v1/units/{uuid.uuid4()}",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me-456"},
        query=QUERY,
    )
    assert response.status == 500
    assert_nothing_personal(caplog)
    [failure] = [record for record in caplog.records if record.exc_info]
    assert getattr(failure, "request_id", None) == "trace-me-456"
    assert "/v1/units/{unit_id}" in failure.getMessage()
    assert "the unit store is unreachable" in caplog.text  # the traceback is still there


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "postgresql://clinic@127.0.0.1:1/clinic"])
async def test_engines_never_log_sql_parameters(url: str) -> None:
    engine = create_engine(url)
    try:
        assert engine.sync_engine.hide_parameters
    finally:
        await engine.dispose()
