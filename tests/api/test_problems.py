"""Every way a request fails is an RFC 9457 problem, with a stable code and nothing it should not say."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from blacksheep import Content
from returns.result import Result

import clinic_core
from clinic_api.app import create_app
from clinic_api.error_handling import http_problem
from clinic_api.logging_setup import RequestContextFilter
from clinic_api.problems import PROBLEM_BASE_URL, STATUS_OF, status_of
from clinic_api.services import RateLimit, RateLimits
from clinic_core.application.actor import Actor
from clinic_core.application.ports import RateDecision
from clinic_core.identity.me import GetMe, Me
from clinic_core.shared.errors import DomainError, NotFound
from tests.api.conftest import PASSWORD, Api, FixedWindowRateLimiter, body_of, make_services, start, stop

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code", "request_id"}


async def problem_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type() == b"application/problem+json"
    body = await body_of(response)
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == PROBLEM_BASE_URL + code
    assert body["request_id"] == response.get_first_header(b"X-Request-ID").decode()
    return body


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem["errors"]}


async def test_malformed_json_is_a_422_on_the_body(api: Api) -> None:
    response = await api.client.post(
        "/v1/signup", content=Content(b"application/json", b'{"tenant_name": "A",')
    )
    problem = await problem_of(response, 422, "validation_failed")
    assert problem["errors"] == [
        {"field": "body", "code": "invalid_json", "message": "the body is not valid JSON"}
    ]
    assert problem["instance"] == "/v1/signup"


async def test_missing_and_mistyped_fields_are_all_reported_with_their_paths(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    response = await api.post(
        "/v1/units",
        {"timezone": 3, "address": {"line1": "Rua A", "state": "SP", "postal_code": "01000"}},
        token,
    )
    problem = await problem_of(response, 422, "validation_failed")
    assert fields_of(problem) == {"name", "timezone", "address.city"}
    assert {e["code"] for e in problem["errors"] if e["field"] == "name"} == {"required"}


async def test_domain_validation_reports_every_bad_field(api: Api) -> None:
    response = await api.post(
        "/v1/signup",
        {
            "tenant_name": "X",
            "unit_name": "Centro",
            "timezone": "-03:00",
            "owner_name": "Ana",
            "email": "not-an-email",
            "password": "xyzzy",
        },
    )
    problem = await problem_of(response, 422, "validation_failed")
    assert fields_of(problem) == {"tenant_name", "timezone", "email", "password"}
    assert "xyzzy" not in str(problem)  # the password is never echoed back


async def test_a_password_of_the_wrong_shape_is_never_echoed(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hunter2-" * 200
    response = await api.post("/v1/auth/login", {"email": "ana@example.com", "password": secret})
    problem = await problem_of(response, 422, "validation_failed")
    assert fields_of(problem) == {"password"}
    assert "hunter2" not in str(problem)
    assert "hunter2" not in caplog.text


async def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    response = await api.client.post("/v1/auth/login", content=Content(b"text/plain", b"email=ana"))
    await problem_of(response, 415, "unsupported_media_type")


async def test_a_missing_body_is_a_422(api: Api) -> None:
    response = await api.client.post("/v1/auth/login")
    problem = await problem_of(response, 422, "validation_failed")
    assert fields_of(problem) == {"body"}


async def test_query_parameters_of_the_wrong_type_name_the_parameter(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    not_a_number = await problem_of(await api.get("/v1/units", token, limit="many"), 422, "validation_failed")
    assert fields_of(not_a_number) == {"limit"}
    out_of_range = await problem_of(await api.get("/v1/units", token, limit="0"), 422, "validation_failed")
    assert fields_of(out_of_range) == {"limit"}
    bad_cursor = await problem_of(await api.get("/v1/units", token, cursor="!!"), 422, "validation_failed")
    assert fields_of(bad_cursor) == {"cursor"}


async def test_no_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    response = await api.get("/v1/me")
    await problem_of(response, 401, "unauthenticated")
    assert response.get_first_header(b"WWW-Authenticate") == b'Bearer realm="clinic"'


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer ", "Basic YW5hOnB3", "Bearer {}"])
async def test_a_bad_token_is_401(api: Api, authorization: str) -> None:
    response = await api.client.get("/v1/me", headers={"Authorization": authorization})
    await problem_of(response, 401, "unauthenticated")
    assert (response.get_first_header(b"WWW-Authenticate") or b"").startswith(b'Bearer realm="clinic"')


async def test_a_rejected_token_is_named_in_the_challenge(api: Api) -> None:
    response = await api.client.get("/v1/me", headers={"Authorization": "Bearer forged"})
    assert response.get_first_header(b"WWW-Authenticate") == b'Bearer realm="clinic", error="invalid_token"'


async def test_a_receptionist_cannot_create_a_unit(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    receptionist, _ = await api.member_token(owner, "bruno@example.com", ["receptionist"])
    response = await api.post("/v1/units", {"name": "Filial", "timezone": "America/Sao_Paulo"}, receptionist)
    problem = await problem_of(response, 403, "forbidden")
    assert "units:write" in problem["detail"]


async def test_unknown_route_is_404_even_without_a_token(api: Api) -> None:
    await problem_of(await api.get("/v1/nothing-here"), 404, "not_found")
    await problem_of(await api.get("/"), 404, "not_found")


async def test_wrong_method_is_405_with_allow(api: Api) -> None:
    response = await api.client.delete("/v1/units")
    await problem_of(response, 405, "method_not_allowed")
    assert response.get_first_header(b"Allow") == b"GET, POST"


async def test_conflicts_are_409(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    response = await api.post(
        "/v1/signup",
        {
            "tenant_name": "Clínica B",
            "unit_name": "Centro",
            "timezone": "America/Sao_Paulo",
            "owner_name": "Ana Souza",
            "email": "ana@example.com",
            "password": PASSWORD,
        },
    )
    await problem_of(response, 409, "email_already_registered")


async def test_a_used_up_invitation_is_410(api: Api) -> None:
    await problem_of(
        await api.post("/v1/invitations/accept", {"token": "nonsense", "password": PASSWORD}),
        410,
        "invitation_not_usable",
    )


async def test_login_is_429_after_its_budget_with_retry_after(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(limits=RateLimits(login_per_email=RateLimit(3)))
    for _ in range(3):
        response = await api.post("/v1/auth/login", {"email": "ana@example.com", "password": "x" * 12})
        assert response.status == 401
    response = await api.post("/v1/auth/login", {"email": "ANA@example.com ", "password": "x" * 12})
    await problem_of(response, 429, "rate_limited")
    assert int(response.get_first_header(b"Retry-After") or b"0") >= 1


async def test_rate_limit_keys_hold_no_email_in_clear(make_api: Callable[..., Any]) -> None:
    limiter = FixedWindowRateLimiter()
    api: Api = await make_api(rate_limiter=limiter)
    await api.post("/v1/auth/login", {"email": "ana@example.com", "password": "x" * 12})
    login_keys = [key for key in limiter.keys if key.startswith("login:")]
    assert login_keys[0] == "login:ip:127.0.0.1"
    assert login_keys[1].startswith("login:email:")
    assert not [key for key in limiter.keys if "ana" in key]


class RedisIsDown:
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        raise ConnectionError("Error 111 connecting to redis://:s3cret@cache:6379")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/auth/login", {"email": "ana@example.com", "password": PASSWORD}),
        ("/v1/auth/refresh", {"refresh_token": "whatever"}),
        ("/v1/invitations/accept", {"token": "whatever", "password": PASSWORD}),
    ],
)
async def test_a_rate_limiter_outage_is_503_not_500(
    make_api: Callable[..., Any], path: str, body: dict[str, str]
) -> None:
    api: Api = await make_api(rate_limiter=RedisIsDown())
    response = await api.post(path, body)
    problem = await problem_of(response, 503, "service_unavailable")
    assert "s3cret" not in str(problem)
    assert response.get_first_header(b"Retry-After") is not None


class ExplodingGetMe(GetMe):
    async def __call__(self, actor: Actor) -> Result[Me, NotFound]:
        raise RuntimeError("connection to postgres://clinic:s3cret@db failed")


async def test_an_unexpected_exception_is_a_generic_500_logged_with_the_request_id(
    make_api: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestContextFilter())
    plain: Api = await make_api()
    api: Api = await make_api(get_me=ExplodingGetMe(plain.services.get_me._uow))
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    response = await api.client.get(
        "/v1/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me-123"}
    )
    problem = await problem_of(response, 500, "internal_error")
    text = await response.text()
    assert "s3cret" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    failures = [record for record in caplog.records if record.exc_info]
    assert [getattr(record, "request_id", None) for record in failures] == ["trace-me-123"]
    assert problem["request_id"] == "trace-me-123"


class DatabaseDown(Exception):
    """Stands for a driver's connection error; the composition root lists the real ones."""


class UnreachableGetMe(GetMe):
    async def __call__(self, actor: Actor) -> Result[Me, NotFound]:
        raise DatabaseDown("connection to postgres://clinic:s3cret@db refused")


async def test_a_dependency_outage_is_a_503_with_retry_after(make_api: Callable[..., Any]) -> None:
    plain: Api = await make_api()
    api: Api = await make_api(
        get_me=UnreachableGetMe(plain.services.get_me._uow), unavailable=(DatabaseDown,)
    )
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    response = await api.get("/v1/me", token)
    problem = await problem_of(response, 503, "service_unavailable")
    assert response.get_first_header(b"Retry-After") == b"5"
    assert "s3cret" not in str(problem)


def test_the_composition_root_names_the_drivers_outage_errors() -> None:
    import redis.exceptions
    import sqlalchemy.exc

    from clinic_api.composition import UNAVAILABLE

    assert {sqlalchemy.exc.OperationalError, redis.exceptions.ConnectionError} <= set(UNAVAILABLE)


def all_domain_errors() -> set[type[DomainError]]:
    for module in pkgutil.walk_packages(clinic_core.__path__, "clinic_core."):
        importlib.import_module(module.name)
    found: set[type[DomainError]] = set()
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            # @dataclass(slots=True) replaces the class it decorates; the replaced one lingers in
            # __subclasses__ until collected. Only the class its module exports is real.
            if getattr(sys.modules[sub.__module__], sub.__qualname__, None) is sub:
                found.add(sub)
    return found


def test_every_domain_error_of_clinic_core_has_a_status_other_than_the_fallback() -> None:
    errors = all_domain_errors()
    assert len(errors) >= 10
    assert {error.__name__ for error in errors if status_of(error()) == STATUS_OF[DomainError]} == set()


def test_subclasses_map_by_their_base() -> None:
    from clinic_core.identity.model import RefreshTokenReused
    from clinic_core.identity.sessions import AlreadyInTenant
    from clinic_core.tenancy.members import InvitationForAnotherAccount, SignInRequired
    from clinic_core.tenancy.model import TenantSuspended
    from clinic_core.tenancy.signup import EmailAlreadyRegistered

    assert status_of(RefreshTokenReused())[0] == 401
    assert status_of(SignInRequired())[0] == 401
    assert status_of(TenantSuspended())[0] == 403
    assert status_of(InvitationForAnotherAccount())[0] == 403
    assert status_of(EmailAlreadyRegistered())[0] == 409
    assert status_of(AlreadyInTenant())[0] == 409


def test_http_statuses_become_problems_even_unusual_ones() -> None:
    assert http_problem(503).code == "service_unavailable"
    assert http_problem(418).code == "i_m_a_teapot"
    unusual = http_problem(599)
    assert (unusual.status, unusual.title) == (599, "Error")


async def test_a_body_over_the_limit_is_413(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(max_request_body_bytes=1000)
    oversized = {"email": "ana@example.com", "password": "x" * 2000}
    await problem_of(await api.post("/v1/auth/login", oversized), 413, "payload_too_large")
    assert (
        await api.post("/v1/auth/login", {"email": "ana@example.com", "password": "x" * 20})
    ).status == 401


async def test_a_streamed_body_is_cut_off_at_the_limit() -> None:
    app = create_app(make_services(max_request_body_bytes=1000))
    await start(app)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "ana@example.com", "password": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            declared = await client.post(
                "/v1/auth/login",
                content=b"{" + b" " * 5000 + b"}",
                headers={"content-type": "application/json"},
            )
            streamed = await client.post(
                "/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
            )
    finally:
        await stop(app)
    assert declared.status_code == 413
    assert "content-length" in {k.lower() for k in declared.request.headers}
    assert streamed.status_code == 413
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert streamed.headers["content-type"] == "application/problem+json"
