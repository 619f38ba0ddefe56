"""The public booking page: a clinic's catalog and free times by its slug, with no sign-in, rate-limited as
every anonymous route is, and showing nothing a clinic keeps internal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from clinic_api.services import RateLimit
from clinic_core.application.unit_of_work import Scope
from clinic_core.shared.ids import TenantId
from clinic_infra.ratelimit import InMemoryRateLimiter
from tests.api.booking import FIRST_DAY, booked, catalog_of
from tests.api.catalog import new_category, new_procedure
from tests.api.conftest import GENEROUS_LIMITS, Api, body_of

INTERNAL = {"sort_order", "buffer_before_minutes", "buffer_after_minutes", "room_type", "professional_ids"}


async def _clinic(api: Api, email: str = "ana@example.com", name: str = "Clínica Bela") -> dict[str, Any]:
    token, signed_up = await api.owner_token(email, name)
    # Health data needs a verified email unless the clinic allows full access before it.
    full = await api.put("/v1/tenant/security-policy", {"unverified_email_access": "full"}, token)
    assert full.status == 200, await full.text()
    return {
        "token": token,
        "slug": signed_up["tenant"]["slug"],
        "tenant_id": signed_up["tenant"]["id"],
        "unit_id": signed_up["unit"]["id"],
    }


def _window(day: datetime) -> dict[str, str]:
    return {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}


def _starts(found: dict[str, Any]) -> set[datetime]:
    return {
        datetime.fromisoformat(slot)
        for day in found["days"]
        for pro in day["professionals"]
        for slot in pro["slots"]
    }


async def test_the_catalog_lists_active_procedures_with_prices_and_nothing_internal(api: Api) -> None:
    clinic = await _clinic(api)
    category = await new_category(api, clinic["token"], "Facial")
    shown = await new_procedure(
        api,
        clinic["token"],
        name="Limpeza de pele",
        category_id=category["id"],
        price={"amount": "180.00"},
        buffer_after_minutes=10,
    )
    hidden = await new_procedure(api, clinic["token"], name="Peeling antigo")
    assert (
        await api.patch(f"/v1/procedures/{hidden['id']}", {"active": False}, clinic["token"])
    ).status == 200

    response = await api.get(f"/v1/public/clinics/{clinic['slug']}")  # no token
    assert response.status == 200, await response.text()
    catalog = await body_of(response)
    assert catalog["slug"] == clinic["slug"]
    assert catalog["name"] == "Clínica Bela"
    assert [u["id"] for u in catalog["units"]] == [clinic["unit_id"]]
    assert [p["id"] for p in catalog["procedures"]] == [shown["id"]]
    procedure = catalog["procedures"][0]
    assert procedure["name"] == "Limpeza de pele"
    assert procedure["category_id"] == category["id"]
    assert procedure["duration_minutes"] == 30
    assert procedure["price"]["amount"] == "180.00"
    assert procedure["price"]["currency"] == "BRL"
    assert not INTERNAL & procedure.keys()
    assert [c["id"] for c in catalog["categories"]] == [category["id"]]


async def test_an_unknown_or_suspended_clinic_is_not_found(api: Api) -> None:
    for slug in ("nao-existe", "NOT%20a%20slug%21", "x" * 300):
        response = await api.get(f"/v1/public/clinics/{slug}")
        assert response.status == 404, slug
        assert (await body_of(response))["code"] == "not_found"
    clinic = await _clinic(api)
    async with api.uow(Scope()) as tx:
        tenant = await tx.tenants.get(TenantId(UUID(clinic["tenant_id"])))
        assert tenant is not None
        tenant.suspend()
        await tx.tenants.save(tenant)
        await tx.commit()
    for path in (f"/v1/public/clinics/{clinic['slug']}", f"/v1/public/clinics/{clinic['slug']}/availability"):
        query = {"unit_id": clinic["unit_id"], "procedure_ids": clinic["unit_id"], **_window(FIRST_DAY)}
        response = await api.get(path, **query)
        assert response.status == 404, await response.text()
        assert (await body_of(response))["code"] == "not_found"


async def test_availability_offers_working_time_and_leaves_out_a_booked_appointment(api: Api) -> None:
    clinic = await _clinic(api)
    cache: dict[str, str] = {}
    ids = await catalog_of(api, clinic["token"], clinic["unit_id"], cache)
    day = FIRST_DAY.replace(hour=0)
    query = {"unit_id": clinic["unit_id"], "procedure_ids": ids["procedure_id"], **_window(day)}

    before = await api.get(f"/v1/public/clinics/{clinic['slug']}/availability", **query)
    assert before.status == 200, await before.text()
    free = await body_of(before)
    assert free["unit_id"] == clinic["unit_id"]
    assert free["timezone"] == "America/Sao_Paulo"
    assert free["duration_minutes"] == 30
    assert [p["id"] for p in free["professionals"]] == [ids["professional_id"]]
    assert FIRST_DAY in _starts(free)
    assert all(s.utcoffset() == timedelta(hours=-3) for s in _starts(free))  # local time, with its offset

    created = await api.post("/v1/patients", {"kind": "person", "name": "Paciente Sigilosa"}, clinic["token"])
    assert created.status == 201, await created.text()
    await booked(api, clinic["token"], clinic["unit_id"], cache, (await body_of(created))["id"], FIRST_DAY)

    after = await api.get(f"/v1/public/clinics/{clinic['slug']}/availability", **query)
    assert after.status == 200, await after.text()
    starts = _starts(await body_of(after))
    taken = [s for s in starts if FIRST_DAY - timedelta(minutes=30) < s < FIRST_DAY + timedelta(minutes=30)]
    assert taken == []
    assert FIRST_DAY + timedelta(minutes=30) in starts
    assert "Sigilosa" not in await after.text()


async def test_availability_is_only_for_the_clinics_own_units_and_active_procedures(api: Api) -> None:
    clinic = await _clinic(api)
    other = await _clinic(api, "bia@example.com", "Outra Clínica")
    ids = await catalog_of(api, clinic["token"], clinic["unit_id"], {})
    query = {"procedure_ids": ids["procedure_id"], **_window(FIRST_DAY)}
    path = f"/v1/public/clinics/{clinic['slug']}/availability"

    foreign_unit = await api.get(path, unit_id=other["unit_id"], **query)
    assert foreign_unit.status == 404
    # The other clinic's slug does not reach this clinic's procedures either.
    crossed = await api.get(
        f"/v1/public/clinics/{other['slug']}/availability", unit_id=other["unit_id"], **query
    )
    assert crossed.status == 404
    assert (
        await api.patch(f"/v1/procedures/{ids['procedure_id']}", {"active": False}, clinic["token"])
    ).status == 200
    inactive = await api.get(path, unit_id=clinic["unit_id"], **query)
    assert inactive.status == 404
    assert (await body_of(inactive))["code"] == "not_found"


async def test_booking_rules_always_apply(api: Api) -> None:
    clinic = await _clinic(api)
    ids = await catalog_of(api, clinic["token"], clinic["unit_id"], {})
    far = FIRST_DAY + timedelta(days=200)  # beyond the default 90-day horizon
    response = await api.get(
        f"/v1/public/clinics/{clinic['slug']}/availability",
        unit_id=clinic["unit_id"],
        procedure_ids=ids["procedure_id"],
        **_window(far),
    )
    assert response.status == 200, await response.text()
    assert _starts(await body_of(response)) == set()


async def test_a_malformed_query_is_422_naming_the_field(api: Api) -> None:
    clinic = await _clinic(api)
    path = f"/v1/public/clinics/{clinic['slug']}/availability"
    good = {"unit_id": clinic["unit_id"], "procedure_ids": clinic["unit_id"], **_window(FIRST_DAY)}
    cases = {
        "unit_id": {**good, "unit_id": "not-a-uuid"},
        "procedure_ids[0]": {**good, "procedure_ids": "nope"},
        "from": {**good, "from": "2030-01-01T10:00:00"},  # no offset
        "to": {k: v for k, v in good.items() if k != "to"},
    }
    for field, query in cases.items():
        response = await api.get(path, **query)
        assert response.status == 422, (field, await response.text())
        problem = await body_of(response)
        assert field in [e["field"] for e in problem["errors"]], problem
    reversed_window = await api.get(path, **{**good, "to": (FIRST_DAY - timedelta(days=1)).isoformat()})
    assert reversed_window.status == 422


async def test_the_anonymous_budget_applies(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(
        rate_limiter=InMemoryRateLimiter(), limits=replace(GENEROUS_LIMITS, anonymous_per_ip=RateLimit(2))
    )
    answers = [(await api.get("/v1/public/clinics/nao-existe")).status for _ in range(2)]
    refused = await api.get("/v1/public/clinics/nao-existe/availability")
    assert answers == [404, 404]
    assert refused.status == 429
    assert (await body_of(refused))["code"] == "rate_limited"
