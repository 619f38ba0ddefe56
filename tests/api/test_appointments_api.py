"""The booking routes over HTTP: the lifecycle, Idempotency-Key, conflicts with their intervals, the
waitlist after a cancellation, rescheduling history, views, and another clinic's ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from blacksheep import Content

from clinic_core.application.unit_of_work import Scope
from clinic_core.catalog.model import Procedure, Professional
from clinic_core.shared.ids import TenantId, UnitId, UserId
from clinic_core.testing.catalog import a_procedure, a_professional
from tests.api.conftest import Api, auth_header, body_of

START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=13, minute=0, second=0, microsecond=0)


@dataclass
class Clinic:
    token: str
    tenant_id: TenantId
    unit_id: str
    procedure: Procedure
    professional: Professional
    patients: list[str]


async def a_clinic(api: Api, tag: str = "a", patients: int = 2) -> Clinic:
    token, signed = await api.owner_token(f"owner-{tag}@example.com", f"Clínica {tag.upper()}")
    full = await api.put("/v1/tenant/security-policy", {"unverified_email_access": "full"}, token)
    assert full.status == 200, await full.text()
    me = await body_of(await api.get("/v1/me", token))
    tenant = TenantId(UUID(me["tenant"]["id"]))
    unit_id = signed["unit"]["id"]
    procedure = a_procedure(tenant, "Limpeza de pele", minutes=45, buffer_after_minutes=15)
    professional = a_professional(
        tenant,
        UserId(UUID(me["user"]["id"])),
        procedure_ids=frozenset({procedure.id}),
        unit_ids=frozenset({UnitId(UUID(unit_id))}),
    )
    async with api.memory(Scope(tenant_id=tenant)) as tx:
        await tx.procedures.add(procedure)
        await tx.professionals.add(professional)
        await tx.commit()
    ids = []
    for i in range(patients):
        created = await api.post(
            "/v1/patients", {"kind": "person", "name": f"Paciente {tag} {chr(65 + i)}"}, token
        )
        assert created.status == 201, await created.text()
        ids.append((await body_of(created))["id"])
    return Clinic(token, tenant, unit_id, procedure, professional, ids)


def booking(clinic: Clinic, patient: int = 0, start: datetime = START) -> dict[str, Any]:
    return {
        "patient_id": clinic.patients[patient],
        "professional_id": str(clinic.professional.id),
        "unit_id": clinic.unit_id,
        "start": start.isoformat(),
        "procedure_ids": [str(clinic.procedure.id)],
    }


async def post_with_key(api: Api, path: str, body: object, token: str, key: str) -> Any:
    headers = {**(auth_header(token) or {}), "Idempotency-Key": key}
    return await api.client.post(
        path, headers=headers, content=Content(b"application/json", json.dumps(body).encode())
    )


async def test_the_lifecycle_over_http(api: Api) -> None:
    clinic = await a_clinic(api)
    created = await api.post("/v1/appointments", booking(clinic), clinic.token)
    assert created.status == 201, await created.text()
    appointment = await body_of(created)
    path = f"/v1/appointments/{appointment['id']}"
    assert created.get_first_header(b"Location") == path.encode()
    assert appointment["status"] == "pending"
    assert appointment["total"] == "150.00"
    assert appointment["currency"] == "BRL"
    assert appointment["items"][0]["name"] == "Limpeza de pele"
    assert datetime.fromisoformat(appointment["block_end"]) == START + timedelta(minutes=60)
    assert set(appointment["allowed"]) == {"confirmed", "checked_in", "cancelled", "no_show", "rescheduled"}
    for step, status in (("confirm", "confirmed"), ("check-in", "checked_in"), ("start", "in_progress")):
        moved = await api.post(f"{path}/{step}", {}, clinic.token)
        assert moved.status == 200, await moved.text()
        assert (await body_of(moved))["status"] == status
    done = await body_of(await api.post(f"{path}/complete", {}, clinic.token))
    assert done["status"] == "completed"
    assert [h["transition"] for h in done["history"]] == [
        "created",
        "confirmed",
        "checked_in",
        "started",
        "completed",
    ]
    refused = await api.post(f"{path}/cancel", {"reason": "late"}, clinic.token)
    assert refused.status == 409
    assert (await body_of(refused))["code"] == "invalid_transition"
    got = await api.get(path, clinic.token)
    assert got.status == 200
    assert got.get_first_header(b"ETag") == b'"5"'


async def test_a_no_show_before_the_start_is_refused(api: Api) -> None:
    clinic = await a_clinic(api)
    appointment = await body_of(await api.post("/v1/appointments", booking(clinic), clinic.token))
    early = await api.post(f"/v1/appointments/{appointment['id']}/no-show", {}, clinic.token)
    assert early.status == 409
    assert (await body_of(early))["code"] == "appointment_not_started"


async def test_idempotency_key_replays_and_refuses_another_body(api: Api) -> None:
    clinic = await a_clinic(api)
    first = await post_with_key(api, "/v1/appointments", booking(clinic), clinic.token, "key-1")
    assert first.status == 201
    again = await post_with_key(api, "/v1/appointments", booking(clinic), clinic.token, "key-1")
    assert again.status == 201
    assert again.get_first_header(b"Idempotent-Replayed") == b"true"
    assert (await body_of(again))["id"] == (await body_of(first))["id"]
    assert again.get_first_header(b"Location") == first.get_first_header(b"Location")
    other = await post_with_key(api, "/v1/appointments", booking(clinic, 1), clinic.token, "key-1")
    assert other.status == 422
    assert (await body_of(other))["code"] == "idempotency_key_reused"
    bad = await post_with_key(api, "/v1/appointments", booking(clinic), clinic.token, "ç")
    assert bad.status == 422
    listed = await body_of(await api.get("/v1/appointments", clinic.token))
    assert len(listed["items"]) == 1  # one booking, however many requests


async def test_a_taken_slot_is_409_with_the_interval_then_freed_by_cancelling(api: Api) -> None:
    clinic = await a_clinic(api, patients=3)
    first = await body_of(await api.post("/v1/appointments", booking(clinic, 0), clinic.token))
    joined = await api.post(
        "/v1/waitlist",
        {
            "patient_id": clinic.patients[2],
            "procedure_id": str(clinic.procedure.id),
            "unit_id": clinic.unit_id,
            "earliest": (START - timedelta(hours=5)).isoformat(),
            "latest": (START + timedelta(hours=5)).isoformat(),
        },
        clinic.token,
    )
    assert joined.status == 201, await joined.text()
    clash = await api.post(
        "/v1/appointments", booking(clinic, 1, START + timedelta(minutes=30)), clinic.token
    )
    assert clash.status == 409
    problem = await body_of(clash)
    assert problem["code"] == "slot_taken"
    assert problem["conflicts"] == [
        {
            "resource": "professional",
            "start": START.isoformat(),
            "end": (START + timedelta(minutes=60)).isoformat(),
        }
    ]
    cancelled = await api.post(f"/v1/appointments/{first['id']}/cancel", {"reason": "gripe"}, clinic.token)
    assert cancelled.status == 200
    assert (await body_of(cancelled))["cancellation"]["late"] is False
    waitlist = await body_of(await api.get("/v1/waitlist", clinic.token))
    [entry] = waitlist["items"]
    assert entry["status"] == "offered"
    [offer] = entry["offers"]
    assert datetime.fromisoformat(offer["start"]) == START
    accepted = await api.post(f"/v1/waitlist/offers/{offer['id']}/accept", {}, clinic.token)
    assert accepted.status == 201, await accepted.text()
    assert (await body_of(accepted))["patient_id"] == clinic.patients[2]
    again = await api.post(f"/v1/waitlist/offers/{offer['id']}/accept", {}, clinic.token)
    assert again.status == 409
    assert (await body_of(again))["code"] == "offer_closed"


async def test_reschedule_keeps_history(api: Api) -> None:
    clinic = await a_clinic(api)
    created = await body_of(await api.post("/v1/appointments", booking(clinic), clinic.token))
    later = START + timedelta(days=1)
    moved = await api.post(
        f"/v1/appointments/{created['id']}/reschedule",
        {"start": later.isoformat(), "reason": "chuva"},
        clinic.token,
    )
    assert moved.status == 200, await moved.text()
    body = await body_of(moved)
    assert datetime.fromisoformat(body["start"]) == later
    last = body["history"][-1]
    assert last["transition"] == "rescheduled"
    assert datetime.fromisoformat(last["from_start"]) == START
    assert last["reason"] == "chuva"
    # The old time is free again.
    assert (await api.post("/v1/appointments", booking(clinic, 1), clinic.token)).status == 201


async def test_views_agenda_calendar_patient_and_dashboard(api: Api) -> None:
    clinic = await a_clinic(api)
    await api.post("/v1/appointments", booking(clinic, 0), clinic.token)
    await api.post("/v1/appointments", booking(clinic, 1, START + timedelta(hours=2)), clinic.token)
    local_day = START.astimezone(__import__("zoneinfo").ZoneInfo("America/Sao_Paulo")).date().isoformat()
    agenda = await api.get(
        f"/v1/professionals/{clinic.professional.id}/agenda", clinic.token, date=local_day, days="7"
    )
    assert agenda.status == 200, await agenda.text()
    assert [a["patient_id"] for a in (await body_of(agenda))["items"]] == clinic.patients
    assert (await body_of(agenda))["timezone"] == "America/Sao_Paulo"
    calendar = await api.get(f"/v1/units/{clinic.unit_id}/calendar", clinic.token, date=local_day)
    assert len((await body_of(calendar))["items"]) == 2
    mine = await api.get(f"/v1/patients/{clinic.patients[0]}/appointments", clinic.token)
    assert len((await body_of(mine))["items"]) == 1
    board = await api.get("/v1/dashboard", clinic.token, unit_id=clinic.unit_id)
    assert board.status == 200
    dashboard = await body_of(board)
    assert dashboard["awaiting_confirmation"] == 2
    assert dashboard["no_show_rate"] is None
    bad = await api.get("/v1/appointments", clinic.token, status="sleeping")
    assert bad.status == 422
    bad_date = await api.get(f"/v1/units/{clinic.unit_id}/calendar", clinic.token, date="10/03/2026")
    assert bad_date.status == 422


async def test_another_clinics_ids_are_404(api: Api) -> None:
    mine = await a_clinic(api, "a")
    theirs = await a_clinic(api, "b")
    their = await body_of(await api.post("/v1/appointments", booking(theirs), theirs.token))
    for path in (
        f"/v1/appointments/{their['id']}",
        f"/v1/patients/{theirs.patients[0]}/appointments",
        f"/v1/units/{theirs.unit_id}/calendar?date=2030-01-01",
    ):
        got = await api.client.get(path, headers=auth_header(mine.token))
        assert got.status == 404, path
    for action in ("confirm", "cancel", "check-in"):
        refused = await api.post(f"/v1/appointments/{their['id']}/{action}", {}, mine.token)
        assert refused.status == 404
    # Booking their patient with my professional: their patient is unknown here.
    smuggled = await api.post(
        "/v1/appointments", {**booking(mine), "patient_id": theirs.patients[0]}, mine.token
    )
    assert smuggled.status == 404
    assert (await api.get("/v1/appointments/not-an-id", mine.token)).status == 404
