"""Booking data for API tests that reach into the app's store: a procedure and a professional (the owner)
of the world's clinic, and appointments made by its owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from clinic_core.application.unit_of_work import Scope
from clinic_core.scheduling.working_time import ClockSpan, Weekday, WeeklySchedule
from clinic_core.scheduling.working_time_ports import WeeklyHours
from clinic_core.shared.ids import TenantId, UnitId, UserId
from clinic_core.testing.catalog import a_procedure, a_professional
from tests.api.conftest import Api, body_of

FIRST_DAY = (datetime.now(UTC) + timedelta(days=10)).replace(hour=12, minute=0, second=0, microsecond=0)


async def catalog_of(api: Api, owner_token: str, unit_id: str, cache: dict[str, str]) -> dict[str, str]:
    """A procedure and a professional (the owner, working in ``unit_id``), made on first use."""
    if "procedure_id" not in cache:
        me = await body_of(await api.get("/v1/me", owner_token))
        tenant = TenantId(UUID(me["tenant"]["id"]))
        procedure = a_procedure(tenant, "Consulta", minutes=30)
        professional = a_professional(
            tenant,
            UserId(UUID(me["user"]["id"])),
            procedure_ids=frozenset({procedure.id}),
            unit_ids=frozenset({UnitId(UUID(unit_id))}),
        )
        # Around the clock, every day: clients book only within working time, and the tests pick any hour.
        week = WeeklySchedule({day: (ClockSpan(0, 24 * 60),) for day in Weekday})
        async with api.uow(Scope(tenant_id=tenant)) as tx:
            await tx.procedures.add(procedure)
            await tx.professionals.add(professional)
            await tx.working_time.save_week(
                WeeklyHours(tenant, professional.id, UnitId(UUID(unit_id)), week, datetime.now(UTC))
            )
            await tx.commit()
        cache.update(procedure_id=str(procedure.id), professional_id=str(professional.id))
    return cache


def booking_body(catalog: dict[str, str], unit_id: str, patient_id: str, start: datetime) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "professional_id": catalog["professional_id"],
        "unit_id": unit_id,
        "start": start.isoformat(),
        "procedure_ids": [catalog["procedure_id"]],
    }


async def booked(
    api: Api,
    owner_token: str,
    unit_id: str,
    cache: dict[str, str],
    patient_id: str,
    start: datetime,
    *steps: str,
) -> str:
    """An appointment booked by the owner, moved through ``steps`` (``confirm``, ``check-in``...)."""
    catalog = await catalog_of(api, owner_token, unit_id, cache)
    created = await api.post(
        "/v1/appointments", booking_body(catalog, unit_id, patient_id, start), owner_token
    )
    assert created.status == 201, await created.text()
    appointment_id = str((await body_of(created))["id"])
    for step in steps:
        moved = await api.post(f"/v1/appointments/{appointment_id}/{step}", {}, owner_token)
        assert moved.status == 200, await moved.text()
    return appointment_id


async def booking_ids(api: Api, owner_token: str, unit_id: str, patient_id: str) -> dict[str, str]:
    """Tenant A's booking ids for the route walker: an appointment in the state each lifecycle route
    needs, two open waitlist offers and a waiting entry."""
    cache: dict[str, str] = {}
    catalog = await catalog_of(api, owner_token, unit_id, cache)
    patients = [patient_id]
    for n in range(3):
        created = await api.post(
            "/v1/patients", {"kind": "person", "name": f"Fila {chr(65 + n)}"}, owner_token
        )
        assert created.status == 201, await created.text()
        patients.append(str((await body_of(created))["id"]))
    hour = iter(range(1000))

    async def at(*steps: str, start: datetime | None = None) -> str:
        when = start or FIRST_DAY + timedelta(hours=2 * next(hour))
        return await booked(api, owner_token, unit_id, cache, patient_id, when, *steps)

    ids = {
        "professional_id": catalog["professional_id"],
        "appointment_id": await at(),
        "appointment_to_confirm": await at(),
        "appointment_to_check_in": await at(),
        "appointment_to_start": await at("check-in"),
        "appointment_to_complete": await at("check-in", "start"),
        "appointment_to_cancel": await at(),
        "appointment_to_reschedule": await at(),
        "appointment_to_miss": await at(start=datetime.now(UTC) - timedelta(minutes=10)),
    }
    freed_at = FIRST_DAY + timedelta(days=20)
    for waiting in patients[1:3]:
        joined = await api.post(
            "/v1/waitlist",
            {
                "patient_id": waiting,
                "procedure_id": catalog["procedure_id"],
                "unit_id": unit_id,
                "earliest": (freed_at - timedelta(hours=1)).isoformat(),
                "latest": (freed_at + timedelta(hours=1)).isoformat(),
            },
            owner_token,
        )
        assert joined.status == 201, await joined.text()
    await booked(api, owner_token, unit_id, cache, patients[3], freed_at, "cancel")
    listed = await body_of(await api.get("/v1/waitlist", owner_token))
    offers = [o["id"] for e in listed["items"] for o in e["offers"]]
    assert len(offers) == 2, listed
    late = await api.post(
        "/v1/waitlist",
        {
            "patient_id": patients[3],
            "procedure_id": catalog["procedure_id"],
            "unit_id": unit_id,
            "earliest": FIRST_DAY.isoformat(),
            "latest": (FIRST_DAY + timedelta(days=1)).isoformat(),
        },
        owner_token,
    )
    assert late.status == 201, await late.text()
    ids.update(offer_id=offers[0], offer_to_accept=offers[0], offer_to_decline=offers[1])
    ids["entry_id"] = (await body_of(late))["id"]
    return ids
