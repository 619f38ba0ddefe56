"""Throttling over HTTP: the per-email login budget counts the account, not the spelling (every way of
writing an address that logs into one account spends that account's budget); throttled responses say what
is left in RateLimit-* fields; a limiter that cannot count answers 503."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from blacksheep import Response
from blacksheep.server import Application
from blacksheep.testing import TestClient

from clinic_api.app import create_app
from clinic_api.rate_limiting import email_key
from clinic_api.services import RateLimit, RateLimits
from clinic_core.application.ports import RateLimiter
from clinic_core.testing import InMemoryUnitOfWorkFactory
from clinic_infra.ratelimit import InMemoryRateLimiter, RedisRateLimiter
from clinic_infra.redis_connection import create_redis
from tests.api.conftest import PASSWORD, Api, body_of, make_services, start, stop

EMAIL = "vet@demo.example.com"
DEAD_REDIS = "redis://127.0.0.1:1/0"
# A fullwidth d (U+FF44): UTS-46 maps the domain onto demo.example.com, so it logs into the same account.
FULLWIDTH_SPELLING = "vet@\uff44emo.example.com"


@pytest.mark.parametrize(
    "spelling",
    [
        " VET@Demo.Example.COM ",
        FULLWIDTH_SPELLING,
        "\uff36\uff25\uff34@demo.example.com",  # a fullwidth local part, NFKC-normalised by Email.parse
    ],
)
def test_spellings_of_one_address_share_a_key(spelling: str) -> None:
    assert email_key(spelling) == email_key(EMAIL)


def test_an_unparseable_address_still_gets_a_key() -> None:
    assert email_key(" Not An Email ") == email_key("not an email")


async def test_another_spelling_of_the_email_gets_no_fresh_budget(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(limits=RateLimits(login_per_email=RateLimit(3)))
    await api.sign_up(EMAIL, "Clínica Demo")
    for _ in range(3):
        response = await api.post("/v1/auth/login", {"email": EMAIL, "password": "wrong password!"})
        assert response.status == 401
    response = await api.post("/v1/auth/login", {"email": FULLWIDTH_SPELLING, "password": PASSWORD})
    assert response.status == 429, await response.text()


# RateLimit-Limit, -Remaining and -Reset (draft-ietf-httpapi-ratelimit-headers) on the real in-memory bucket.

RATE_LIMIT_FIELDS = (b"RateLimit-Limit", b"RateLimit-Remaining", b"RateLimit-Reset")
WRONG_PASSWORD = "wrong password!"


def rate_limit_fields(response: Response) -> tuple[int, int, int] | None:
    values = [response.get_first_header(name) for name in RATE_LIMIT_FIELDS]
    if all(value is None for value in values):
        return None
    assert all(value is not None and value.isdigit() for value in values), values
    limit, remaining, reset = (int(value or b"") for value in values)
    return limit, remaining, reset


@pytest.fixture
async def throttled_api() -> AsyncIterator[Callable[..., Awaitable[Api]]]:
    """Build an Api on the in-memory token bucket."""
    apps: list[Application] = []

    async def build(limits: RateLimits, rate_limiter: RateLimiter | None = None) -> Api:
        uow = InMemoryUnitOfWorkFactory()
        services = make_services(uow, rate_limiter=rate_limiter or InMemoryRateLimiter(), limits=limits)
        app = create_app(services)
        await start(app)
        apps.append(app)
        return Api(app, TestClient(app), services, uow)

    yield build
    for app in apps:
        await stop(app)


async def test_a_login_says_what_is_left_of_its_tightest_budget(
    throttled_api: Callable[..., Awaitable[Api]],
) -> None:
    # Per IP 20 a minute (a token every 3 s); per email 4 a minute (a token every 15 s): the email's is tighter.
    api = await throttled_api(RateLimits(login_per_ip=RateLimit(20), login_per_email=RateLimit(4)))
    await api.sign_up(EMAIL, "Clínica Demo")
    ok = await api.post("/v1/auth/login", {"email": EMAIL, "password": PASSWORD})
    assert ok.status == 200, await ok.text()
    assert rate_limit_fields(ok) == (4, 3, 15)
    refused = await api.post("/v1/auth/login", {"email": EMAIL, "password": WRONG_PASSWORD})
    assert refused.status == 401
    assert rate_limit_fields(refused) == (4, 2, 30)


async def test_the_budget_with_fewer_hits_left_is_the_one_shown(
    throttled_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await throttled_api(RateLimits(login_per_ip=RateLimit(3), login_per_email=RateLimit(10)))
    responses = [
        await api.post("/v1/auth/login", {"email": f"user{n}@example.com", "password": WRONG_PASSWORD})
        for n in range(2)
    ]
    # Each email is fresh (9 left of 10); the IP's budget drains (2, then 1 left of 3).
    assert [rate_limit_fields(r) for r in responses] == [(3, 2, 20), (3, 1, 40)]


async def test_the_429_keeps_retry_after_and_its_problem_and_says_nothing_is_left(
    throttled_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await throttled_api(RateLimits(login_per_email=RateLimit(2)))
    for _ in range(2):
        await api.post("/v1/auth/login", {"email": EMAIL, "password": WRONG_PASSWORD})
    response = await api.post("/v1/auth/login", {"email": EMAIL, "password": WRONG_PASSWORD})
    assert response.status == 429
    assert response.content_type() == b"application/problem+json"
    problem = await body_of(response)
    assert (problem["status"], problem["code"]) == (429, "rate_limited")
    assert response.get_first_header(b"Retry-After") == b"30"  # a token every 30 s
    assert rate_limit_fields(response) == (2, 0, 60)


async def test_a_429_carries_the_fields_even_without_the_middleware(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(
        rate_limiter=InMemoryRateLimiter(), limits=RateLimits(signup_per_ip=RateLimit(1))
    )
    await api.sign_up("first@example.com", "Primeira")
    response = await api.post(
        "/v1/signup",
        {
            "tenant_name": "Segunda",
            "unit_name": "Centro",
            "timezone": "America/Sao_Paulo",
            "owner_name": "Bia Lima",
            "email": "second@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status == 429
    assert response.get_first_header(b"Retry-After") == b"60"
    assert rate_limit_fields(response) == (1, 0, 60)


async def test_signed_in_requests_show_the_persons_general_budget(
    throttled_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await throttled_api(RateLimits())
    token, _ = await api.owner_token(EMAIL, "Clínica Demo")
    me = await api.get("/v1/me", token)
    assert me.status == 200
    fields = rate_limit_fields(me)
    assert fields is not None
    assert fields[:2] == (300, 299)  # the person's 300 a minute is tighter than the trial clinic's 600


async def test_a_login_body_that_does_not_bind_spends_no_login_attempt(
    throttled_api: Callable[..., Awaitable[Api]],
) -> None:
    api = await throttled_api(RateLimits())
    response = await api.post("/v1/auth/login", {"email": EMAIL})
    assert response.status == 422
    assert rate_limit_fields(response) == (100, 99, 1)  # only the anonymous general budget was spent
    attempt = await api.post("/v1/auth/login", {"email": EMAIL, "password": WRONG_PASSWORD})
    assert attempt.status == 401
    assert rate_limit_fields(attempt) == (5, 4, 12)  # the first login attempt of this address


async def test_the_app_itself_sends_the_fields_on_every_throttled_response(
    make_api: Callable[..., Any],
) -> None:
    api: Api = await make_api(rate_limiter=InMemoryRateLimiter())
    response = await api.post("/v1/auth/login", {"email": EMAIL, "password": WRONG_PASSWORD})
    assert response.status == 401
    assert rate_limit_fields(response) is not None


async def test_a_dead_redis_behind_the_limiter_is_503(
    throttled_api: Callable[..., Awaitable[Api]],
) -> None:
    client = create_redis(DEAD_REDIS)
    try:
        api = await throttled_api(RateLimits(), RedisRateLimiter(client))
        response = await api.post("/v1/auth/login", {"email": EMAIL, "password": PASSWORD})
        assert response.status == 503
        assert (await body_of(response))["code"] == "service_unavailable"
        assert response.get_first_header(b"Retry-After") == b"5"
        assert rate_limit_fields(response) is None
    finally:
        await client.aclose()
