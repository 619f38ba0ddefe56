"""Working-time fixtures for the API tests: a professional working at a unit, and one of each working-time
entry with an id (a date override, a time off, a unit closure), made through the routes by the owner."""

from __future__ import annotations

from typing import Any

from tests.api.catalog import created, new_procedure, new_professional
from tests.api.conftest import Api

OVERRIDE_DAY = "2026-06-02"
WINDOW = "from=2026-06-01T00:00:00Z&to=2026-06-08T00:00:00Z"
"""A week, as a query string (instants in UTC: no `+` to escape)."""
DATES = "from=2026-06-01&to=2026-06-30"


async def working_professional(api: Api, owner: str, unit_id: str) -> dict[str, str]:
    """A new procedure and a professional who performs it at the unit, Monday 09:00-17:00."""
    procedure = await new_procedure(api, owner)
    professional = await new_professional(api, owner, procedure_ids=[procedure["id"]], unit_ids=[unit_id])
    week = await api.put(
        f"/v1/professionals/{professional['id']}/working-hours?unit_id={unit_id}",
        {"days": {"monday": [{"start": "09:00", "end": "17:00"}]}},
        owner,
    )
    assert week.status == 200, await week.text()
    return {"procedure_id": procedure["id"], "professional_id": professional["id"]}


async def new_override(api: Api, owner: str, professional_id: str, unit_id: str) -> None:
    put = await api.put(
        f"/v1/professionals/{professional_id}/overrides/{OVERRIDE_DAY}?unit_id={unit_id}",
        {"kind": "closed"},
        owner,
    )
    assert put.status == 200, await put.text()


async def new_time_off(api: Api, owner: str, professional_id: str) -> dict[str, Any]:
    body = {
        "starts_at": "2026-06-03T00:00:00-03:00",
        "ends_at": "2026-06-04T00:00:00-03:00",
        "reason": "Curso",
    }
    return await created(api, f"/v1/professionals/{professional_id}/time-off", body, owner)


async def new_closure(api: Api, owner: str, unit_id: str) -> dict[str, Any]:
    body = {"first_day": "2026-06-04", "reason": "Corpus Christi"}
    return await created(api, f"/v1/units/{unit_id}/closures", body, owner)


async def scheduling_ids(api: Api, owner: str, unit_id: str, professional_id: str) -> dict[str, str]:
    """Ids for the tenant-isolation walker: the professional works at the unit, with one of each entry."""
    week = await api.put(
        f"/v1/professionals/{professional_id}/working-hours?unit_id={unit_id}",
        {"days": {"monday": [{"start": "09:00", "end": "17:00"}]}},
        owner,
    )
    assert week.status == 200, await week.text()
    await new_override(api, owner, professional_id, unit_id)
    return {
        "day": OVERRIDE_DAY,
        "time_off_id": (await new_time_off(api, owner, professional_id))["id"],
        "closure_id": (await new_closure(api, owner, unit_id))["id"],
    }
