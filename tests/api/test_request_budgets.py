"""The general request budgets: per IP while anonymous, per person and per clinic (by plan) once signed
in, and what happens to each route class when the limiter cannot be reached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from clinic_api.composition import Settings, rate_limits
from clinic_api.services import RateLimit, RouteClass
from clinic_core.application.ports import RateDecision
from clinic_core.tenancy.model import Plan
from clinic_infra.ratelimit import InMemoryRateLimiter
from tests.api.conftest import GENEROUS_LIMITS, Api, body_of


class SwitchableLimiter:
    """The in-memory bucket, or an outage when ``down``."""

    def __init__(self) -> None:
        self.down = False
        self._buckets = InMemoryRateLimiter()

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        if self.down:
            raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")
        return await self._buckets.hit(key, limit, window_seconds)


async def _api(make_api: Callable[..., Any], limiter: object = None, **limits: Any) -> Api:
    built: Api = await make_api(
        rate_limiter=limiter or InMemoryRateLimiter(), limits=replace(GENEROUS_LIMITS, **limits)
    )
    return built


async def test_anonymous_callers_share_one_budget_per_address(make_api: Callable[..., Any]) -> None:
    api = await _api(make_api, anonymous_per_ip=RateLimit(3))
    answers = [(await api.get("/.well-known/jwks.json")).status for _ in range(3)]
    refused = await api.get("/v1/units")  # a protected route: counted before it is refused as anonymous
    assert answers == [200, 200, 200]
    assert refused.status == 429
    assert (await body_of(refused))["code"] == "rate_limited"
    assert refused.get_first_header(b"Retry-After") is not None
    assert (await api.get("/health/live")).status == 200  # probes are never counted


async def test_signed_in_staff_behind_one_address_are_not_counted_per_address(
    make_api: Callable[..., Any],
) -> None:
    api = await _api(make_api, anonymous_per_ip=RateLimit(6))
    ana, _ = await api.owner_token("ana@example.com", "Clínica A")  # sign-up and login: 2 anonymous
    bruno, _ = await api.member_token(ana, "bruno@example.com", ["receptionist"])  # accept, login: 2
    for _ in range(10):
        assert (await api.get("/v1/units", ana)).status == 200
        assert (await api.get("/v1/units", bruno)).status == 200


async def test_each_person_has_a_budget_of_their_own(make_api: Callable[..., Any]) -> None:
    api = await _api(make_api, per_user=RateLimit(3))
    ana, _ = await api.owner_token("ana@example.com", "Clínica A")
    bruno, _ = await api.member_token(ana, "bruno@example.com", ["receptionist"])
    ana_answers = [(await api.get("/v1/me", ana)).status for _ in range(4)]
    # Inviting Bruno and reading her clinic's slug took two of Ana's three; Bruno's budget is his own.
    assert ana_answers == [200, 429, 429, 429]
    assert (await api.get("/v1/me", bruno)).status == 200


async def test_a_clinic_shares_its_plans_budget_and_a_bigger_plan_gets_more(
    make_api: Callable[..., Any],
) -> None:
    api = await _api(make_api, per_tenant_plan=((Plan.TRIAL, RateLimit(5)), (Plan.CLINIC, RateLimit(1_000))))
    ana, _ = await api.owner_token("ana@example.com", "Clínica A")
    bruno, _ = await api.member_token(ana, "bruno@example.com", ["receptionist"])  # Ana spends 2 here
    statuses = [(await api.get("/v1/units", token)).status for token in (ana, bruno, ana, bruno, ana)]
    assert statuses == [200, 200, 200, 429, 429]  # five in all, whoever sent them

    (tenant,) = api.memory.store.tables.tenants.values()
    tenant.plan = Plan.CLINIC  # an upgrade takes effect on the next session check (cache off in tests)
    assert (await api.get("/v1/units", bruno)).status == 200


async def test_reads_fail_open_and_writes_fail_closed_while_the_limiter_is_down(
    make_api: Callable[..., Any],
) -> None:
    limiter = SwitchableLimiter()
    api = await _api(make_api, limiter)
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    limiter.down = True

    read = await api.get("/v1/units", token)
    assert read.status == 200
    assert read.get_first_header(b"RateLimit-Limit") is None  # nothing was counted, nothing is claimed

    write = await api.post("/v1/units", {"name": "Filial", "timezone": "America/Sao_Paulo"}, token)
    assert write.status == 503
    assert (await body_of(write))["code"] == "service_unavailable"
    assert write.get_first_header(b"Retry-After") == b"5"
    login = await api.post("/v1/auth/login", {"email": "ana@example.com", "password": "whatever it is"})
    assert login.status == 503

    metrics = (await (await api.get("/metrics")).text()).splitlines()
    assert 'rate_limiter_unavailable_total{outcome="served",route_class="read"} 1.0' in metrics
    # The unit and the login: both writes, refused before anything else is tried.
    assert 'rate_limiter_unavailable_total{outcome="refused",route_class="write"} 2.0' in metrics


async def test_fail_open_is_chosen_per_route_class(make_api: Callable[..., Any]) -> None:
    limiter = SwitchableLimiter()
    api = await _api(make_api, limiter, fail_open=frozenset({RouteClass.WRITE}))
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    limiter.down = True
    assert (await api.get("/v1/units", token)).status == 503
    created = await api.post("/v1/units", {"name": "Filial", "timezone": "America/Sao_Paulo"}, token)
    assert created.status == 201


def test_the_settings_name_the_budgets_and_refuse_unknown_classes_and_plans() -> None:
    limits = rate_limits(
        Settings(
            rate_limit_per_tenant_plan={"trial": 50, "franchise": 9000},
            rate_limit_fail_open="read, refresh",
            rate_limit_signup_per_ip=2,
        )
    )
    assert limits.per_tenant(Plan.FRANCHISE) == RateLimit(9000)
    assert limits.per_tenant(Plan.CLINIC) == RateLimit(50)  # a plan left out gets the trial's budget
    assert limits.fail_open == {RouteClass.READ, RouteClass.REFRESH}
    assert limits.signup_per_ip == RateLimit(2, 3600)
    with pytest.raises(ValueError, match="unknown route classes \\['reads'\\]"):
        rate_limits(Settings(rate_limit_fail_open="reads"))
    with pytest.raises(ValidationError, match="unknown plans"):
        Settings(rate_limit_per_tenant_plan={"gold": 10})


async def test_an_api_key_spends_its_own_budget_and_its_clinics(make_api: Callable[..., Any]) -> None:
    api = await _api(
        make_api,
        per_api_key=RateLimit(3),
        per_tenant_plan=((Plan.TRIAL, RateLimit(1_000)), (Plan.CLINIC, RateLimit(4))),
    )
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    created = await api.post("/v1/api-keys", {"name": "ERP", "scopes": ["units:read"]}, owner)
    assert created.status == 201, await created.text()
    key = (await body_of(created))["key"]

    async def with_key() -> int:
        return (await api.client.get("/v1/units", headers={"X-API-Key": key})).status

    assert [await with_key() for _ in range(4)] == [200, 200, 200, 429]
    assert (await api.get("/v1/units", owner)).status == 200  # the person's budget is theirs

    (tenant,) = api.memory.store.tables.tenants.values()
    tenant.plan = Plan.CLINIC  # a small plan budget: the key and the person now share four a minute
    statuses = [(await api.get("/v1/units", owner)).status for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
