"""The working-time routes and GET /v1/availability through HTTP: shapes, 422 field errors, 404 for other
clinics' ids, the audit trail, and local times with their UTC offsets across a DST change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from blacksheep.testing import TestClient

from clinic_api.app import create_app
from clinic_api.scheduling_services import SchedulingServices
from clinic_core.shared.clock import FixedClock
from clinic_core.testing.memory import InMemoryUnitOfWorkFactory
from tests.api.catalog import new_procedure, new_professional
from tests.api.conftest import Api, body_of, make_services, start, stop

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]


@pytest.fixture
async def clinic_api() -> AsyncIterator[Api]:
    """The app on fakes with the scheduling use cases on a fixed clock (1 March 2026, noon UTC)."""
    uow = InMemoryUnitOfWorkFactory()
    services = make_services(uow, scheduling=SchedulingServices.from_ports(uow, FixedClock(NOW)))
    app = create_app(services)
    await start(app)
    yield Api(app, TestClient(app), services, uow)
    await stop(app)


async def _new_york_clinic(api: Api, email: str = "ana@example.com") -> dict[str, Any]:
    """A clinic with a unit in New York, a 30-minute procedure and a professional who works there."""
    owner, _ = await api.owner_token(email, "Clínica NY")
    created = await api.post("/v1/units", {"name": "Manhattan", "timezone": "America/New_York"}, owner)
    assert created.status == 201, await created.text()
    unit = (await body_of(created))["id"]
    procedure = await new_procedure(api, owner, duration_minutes=30)
    professional = await new_professional(
        api, owner, procedure_ids=[procedure["id"]], unit_ids=[unit], display_name="Dra. Lia"
    )
    return {"owner": owner, "unit": unit, "procedure": procedure["id"], "professional": professional["id"]}


async def _availability(api: Api, token: str, **query: str) -> Any:
    return await api.get("/v1/availability", token, **query)


async def test_a_working_day_on_the_spring_forward_date_keeps_local_hours_and_changes_offset(
    clinic_api: Api,
) -> None:
    api = clinic_api
    c = await _new_york_clinic(api)
    path = f"/v1/professionals/{c['professional']}/working-hours?unit_id={c['unit']}"
    week = await api.put(path, {"days": {"saturday": NINE_TO_FIVE, "sunday": NINE_TO_FIVE}}, c["owner"])
    assert week.status == 200, await week.text()
    assert (await body_of(week))["days"]["sunday"] == NINE_TO_FIVE
    rules = await api.put(
        f"/v1/units/{c['unit']}/booking-rules",
        {"min_notice_minutes": 0, "horizon_days": 30, "slot_step_minutes": 60},
        c["owner"],
    )
    assert rules.status == 200, await rules.text()
    assert (await body_of(rules))["cancellation_window_hours"] == 24  # left out: the default
    windows = {"cancellation_window_hours": 48, "waitlist_offer_minutes": 30}
    changed = await api.put(
        f"/v1/units/{c['unit']}/booking-rules",
        {"min_notice_minutes": 0, "horizon_days": 30, "slot_step_minutes": 60} | windows,
        c["owner"],
    )
    assert changed.status == 200, await changed.text()
    read = await body_of(await api.get(f"/v1/units/{c['unit']}/booking-rules", c["owner"]))
    assert {k: read[k] for k in windows} == windows

    found = await _availability(
        api,
        c["owner"],
        unit_id=c["unit"],
        procedure_ids=c["procedure"],
        **{"from": "2026-03-07T00:00:00-05:00", "to": "2026-03-09T00:00:00-04:00"},
    )
    assert found.status == 200, await found.text()
    body = await body_of(found)
    assert body["timezone"] == "America/New_York"
    assert body["duration_minutes"] == 30
    assert body["professionals"] == [{"id": c["professional"], "display_name": "Dra. Lia", "slot_count": 16}]
    days = {day["date"]: day["professionals"] for day in body["days"]}
    assert list(days) == ["2026-03-07", "2026-03-08"]
    saturday = days["2026-03-07"][0]["slots"]
    sunday = days["2026-03-08"][0]["slots"]
    # 09:00 to 16:00 local on both days: the day before the change in EST, the change day in EDT.
    assert saturday == [f"2026-03-07T{h:02d}:00:00-05:00" for h in range(9, 17)]
    assert sunday == [f"2026-03-08T{h:02d}:00:00-04:00" for h in range(9, 17)]


async def test_offsets_change_inside_one_day_when_the_hours_span_the_jump(clinic_api: Api) -> None:
    api = clinic_api
    c = await _new_york_clinic(api)
    path = f"/v1/professionals/{c['professional']}/working-hours?unit_id={c['unit']}"
    night = [{"start": "00:00", "end": "06:00"}]
    assert (await api.put(path, {"days": {"sunday": night}}, c["owner"])).status == 200
    rules = {"min_notice_minutes": 0, "horizon_days": 30, "slot_step_minutes": 60}
    assert (await api.put(f"/v1/units/{c['unit']}/booking-rules", rules, c["owner"])).status == 200

    found = await _availability(
        api,
        c["owner"],
        unit_id=c["unit"],
        procedure_ids=c["procedure"],
        professional_id=c["professional"],
        **{"from": "2026-03-08T00:00:00-05:00", "to": "2026-03-09T00:00:00-04:00"},
    )
    assert found.status == 200, await found.text()
    slots = (await body_of(found))["days"][0]["professionals"][0]["slots"]
    # 02:00 local does not exist that night: 00:00 and 01:00 in EST, then 03:00 to 05:00 in EDT.
    assert slots == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
        "2026-03-08T05:00:00-04:00",
    ]


async def test_overrides_time_off_and_closures_shape_the_slots_and_are_audited(clinic_api: Api) -> None:
    api = clinic_api
    c = await _new_york_clinic(api)
    owner, pro, unit = c["owner"], c["professional"], c["unit"]
    weekdays = dict.fromkeys(("monday", "tuesday", "wednesday", "thursday", "friday"), NINE_TO_FIVE)
    assert (
        await api.put(f"/v1/professionals/{pro}/working-hours?unit_id={unit}", {"days": weekdays}, owner)
    ).status == 200
    rules = {"min_notice_minutes": 0, "horizon_days": 60, "slot_step_minutes": 60}
    assert (await api.put(f"/v1/units/{unit}/booking-rules", rules, owner)).status == 200

    # Monday 16 March: only 14:00-16:00; Tuesday 17: closed unit; Wednesday 18: time off until 12:00.
    override = await api.put(
        f"/v1/professionals/{pro}/overrides/2026-03-16?unit_id={unit}",
        {"kind": "replace", "spans": [{"start": "14:00", "end": "16:00"}]},
        owner,
    )
    assert override.status == 200, await override.text()
    closure = await api.post(
        f"/v1/units/{unit}/closures", {"first_day": "2026-03-17", "reason": "Feriado"}, owner
    )
    assert closure.status == 201, await closure.text()
    closure_body = await body_of(closure)
    assert closure_body["last_day"] == "2026-03-17"
    off = await api.post(
        f"/v1/professionals/{pro}/time-off",
        {"starts_at": "2026-03-18T00:00:00-04:00", "ends_at": "2026-03-18T12:00:00-04:00", "reason": "Curso"},
        owner,
    )
    assert off.status == 201, await off.text()
    off_body = await body_of(off)
    assert off.get_first_header(b"Location") == f"/v1/time-off/{off_body['id']}".encode()

    window = {"from": "2026-03-16T00:00:00-04:00", "to": "2026-03-19T00:00:00-04:00"}
    query = {"unit_id": unit, "procedure_ids": c["procedure"], **window}
    days = {
        d["date"]: d["professionals"][0]["slots"]
        for d in (await body_of(await _availability(api, owner, **query)))["days"]
    }
    assert days == {
        "2026-03-16": ["2026-03-16T14:00:00-04:00", "2026-03-16T15:00:00-04:00"],
        "2026-03-18": [f"2026-03-18T{h}:00:00-04:00" for h in range(12, 17)],
    }

    listed = await api.get(
        f"/v1/professionals/{pro}/overrides",
        owner,
        unit_id=unit,
        **{"from": "2026-03-01", "to": "2026-03-31"},
    )
    assert (await body_of(listed))["items"] == [
        {"date": "2026-03-16", "kind": "replace", "spans": [{"start": "14:00", "end": "16:00"}]}
    ]
    offs = await api.get(
        f"/v1/professionals/{pro}/time-off",
        owner,
        **{"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
    )
    assert [item["id"] for item in (await body_of(offs))["items"]] == [off_body["id"]]
    closures = await api.get(
        f"/v1/units/{unit}/closures", owner, **{"from": "2026-03-01", "to": "2026-03-31"}
    )
    assert [item["id"] for item in (await body_of(closures))["items"]] == [closure_body["id"]]

    # Undo all three: the week's hours come back.
    assert (
        await api.client.delete(
            f"/v1/professionals/{pro}/overrides/2026-03-16?unit_id={unit}", headers=_auth(owner)
        )
    ).status == 204
    assert (
        await api.client.delete(f"/v1/units/{unit}/closures/{closure_body['id']}", headers=_auth(owner))
    ).status == 204
    assert (await api.client.delete(f"/v1/time-off/{off_body['id']}", headers=_auth(owner))).status == 204
    again = await api.client.delete(f"/v1/time-off/{off_body['id']}", headers=_auth(owner))
    assert again.status == 404
    days = {
        d["date"]: d["professionals"][0]["slots"]
        for d in (await body_of(await _availability(api, owner, **query)))["days"]
    }
    assert [len(days[d]) for d in ("2026-03-16", "2026-03-17", "2026-03-18")] == [8, 8, 8]

    trail = await body_of(await api.get("/v1/audit-events", owner, limit="100"))
    actions = [event["action"] for event in trail["items"]]
    for action in (
        "working_hours.changed",
        "working_hours.override_set",
        "working_hours.override_removed",
        "time_off.added",
        "time_off.removed",
        "unit.closure_added",
        "unit.closure_removed",
        "unit.booking_rules_changed",
    ):
        assert action in actions, action


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"unit_id": ""}, "unit_id", "required"),
        ({"unit_id": "nope"}, "unit_id", "invalid_value"),
        ({"procedure_ids": "x"}, "procedure_ids[0]", "invalid_value"),
        ({"procedure_ids": ""}, "procedure_ids", "required"),
        ({"from": "2026-03-08"}, "from", "offset_required"),
        ({"from": "yesterday"}, "from", "invalid_datetime"),
        ({"to": "2026-03-08T00:00:00-05:00"}, "to", "range_reversed"),
        ({"to": "2026-05-08T00:00:00-05:00"}, "to", "range_too_long"),
    ],
)
async def test_malformed_availability_queries_are_field_errors(
    clinic_api: Api, query: dict[str, str], field: str, code: str
) -> None:
    api = clinic_api
    c = await _new_york_clinic(api)
    base = {
        "unit_id": c["unit"],
        "procedure_ids": c["procedure"],
        "from": "2026-03-09T00:00:00-04:00",
        "to": "2026-03-10T00:00:00-04:00",
    }
    response = await _availability(api, c["owner"], **{**base, **query})
    assert response.status == 422, await response.text()
    errors = (await body_of(response))["errors"]
    assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in errors]


async def test_malformed_working_time_bodies_are_field_errors(clinic_api: Api) -> None:
    api = clinic_api
    c = await _new_york_clinic(api)
    owner, pro, unit = c["owner"], c["professional"], c["unit"]
    cases: list[tuple[str, str, dict[str, Any], str, str]] = [
        (
            "PUT",
            f"/v1/professionals/{pro}/working-hours?unit_id={unit}",
            {"days": {"funday": NINE_TO_FIVE}},
            "days.funday",
            "invalid_weekday",
        ),
        (
            "PUT",
            f"/v1/professionals/{pro}/working-hours?unit_id={unit}",
            {"days": {"monday": [{"start": "09:00", "end": "25:00"}]}},
            "days.monday[0].end",
            "invalid_time",
        ),
        (
            "PUT",
            f"/v1/professionals/{pro}/working-hours?unit_id={unit}",
            {"days": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}},
            "days.monday",
            "overlapping_spans",
        ),
        ("PUT", f"/v1/professionals/{pro}/working-hours", {"days": {}}, "unit_id", "required"),
        (
            "PUT",
            f"/v1/professionals/{pro}/overrides/2026-02-30?unit_id={unit}",
            {"kind": "closed"},
            "date",
            "invalid_date",
        ),
        (
            "PUT",
            f"/v1/professionals/{pro}/overrides/2026-03-10?unit_id={unit}",
            {"kind": "holiday"},
            "kind",
            "invalid_kind",
        ),
        (
            "PUT",
            f"/v1/professionals/{pro}/overrides/2026-03-10?unit_id={unit}",
            {"kind": "extra"},
            "spans",
            "spans_required",
        ),
        (
            "POST",
            f"/v1/professionals/{pro}/time-off",
            {"starts_at": "2026-03-10T10:00:00", "ends_at": "2026-03-10T12:00:00"},
            "starts_at",
            "offset_required",
        ),
        (
            "POST",
            f"/v1/professionals/{pro}/time-off",
            {"starts_at": "2026-03-10T10:00:00Z", "ends_at": "2026-03-10T09:00:00Z"},
            "ends_at",
            "range_reversed",
        ),
        (
            "POST",
            f"/v1/units/{unit}/closures",
            {"first_day": "2026-03-10", "last_day": "2026-03-01"},
            "last_day",
            "range_reversed",
        ),
        (
            "PUT",
            f"/v1/units/{unit}/booking-rules",
            {"min_notice_minutes": 0, "horizon_days": 30, "slot_step_minutes": 7},
            "slot_step_minutes",
            "invalid_slot_step",
        ),
        (
            "PUT",
            f"/v1/units/{unit}/booking-rules",
            {"min_notice_minutes": -5, "horizon_days": 30, "slot_step_minutes": 15},
            "min_notice_minutes",
            "out_of_range",
        ),
        (
            "PUT",
            f"/v1/units/{unit}/booking-rules",
            {
                "min_notice_minutes": 0,
                "horizon_days": 30,
                "slot_step_minutes": 15,
                "cancellation_window_hours": 400,
            },
            "cancellation_window_hours",
            "out_of_range",
        ),
        (
            "PUT",
            f"/v1/units/{unit}/booking-rules",
            {
                "min_notice_minutes": 0,
                "horizon_days": 30,
                "slot_step_minutes": 15,
                "waitlist_offer_minutes": 5,
            },
            "waitlist_offer_minutes",
            "out_of_range",
        ),
    ]
    for method, path, body, field, code in cases:
        response = await (api.put(path, body, owner) if method == "PUT" else api.post(path, body, owner))
        assert response.status == 422, (path, body, await response.text())
        errors = [(e["field"], e["code"]) for e in (await body_of(response))["errors"]]
        assert (field, code) in errors, (path, body, errors)


async def test_a_unit_where_the_professional_does_not_work_is_refused_and_other_clinics_ids_are_404(
    clinic_api: Api,
) -> None:
    api = clinic_api
    mine = await _new_york_clinic(api)
    theirs = await _new_york_clinic(api, "bia@example.com")
    owner = mine["owner"]
    other_unit = await api.post("/v1/units", {"name": "Brooklyn", "timezone": "America/New_York"}, owner)
    brooklyn = (await body_of(other_unit))["id"]
    refused = await api.get(
        f"/v1/professionals/{mine['professional']}/working-hours", owner, unit_id=brooklyn
    )
    assert refused.status == 422
    assert (await body_of(refused))["errors"][0]["code"] == "not_a_unit_of_the_professional"

    for path, query in (
        (f"/v1/professionals/{theirs['professional']}/working-hours", {"unit_id": mine["unit"]}),
        (f"/v1/professionals/{mine['professional']}/working-hours", {"unit_id": theirs["unit"]}),
        (
            "/v1/availability",
            {
                "unit_id": theirs["unit"],
                "procedure_ids": mine["procedure"],
                "from": "2026-03-09T00:00:00Z",
                "to": "2026-03-10T00:00:00Z",
            },
        ),
        (
            "/v1/availability",
            {
                "unit_id": mine["unit"],
                "procedure_ids": theirs["procedure"],
                "from": "2026-03-09T00:00:00Z",
                "to": "2026-03-10T00:00:00Z",
            },
        ),
        (f"/v1/units/{theirs['unit']}/booking-rules", {}),
    ):
        response = await api.get(path, owner, **query)
        assert response.status == 404, (path, query, await response.text())
        assert (await body_of(response))["code"] == "not_found"


async def test_a_client_sees_when_a_professional_is_away_but_not_why(clinic_api: Api) -> None:
    api = clinic_api
    c = await _new_york_clinic(api)
    off = await api.post(
        f"/v1/professionals/{c['professional']}/time-off",
        {"starts_at": "2026-03-18T00:00:00Z", "ends_at": "2026-03-19T00:00:00Z", "reason": "Licença médica"},
        c["owner"],
    )
    assert off.status == 201, await off.text()
    window = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
    path = f"/v1/professionals/{c['professional']}/time-off"
    as_owner = (await body_of(await api.get(path, c["owner"], **window)))["items"]
    assert [item["reason"] for item in as_owner] == ["Licença médica"]
    client, _ = await api.member_token(c["owner"], "cliente@example.com", ["client"])
    as_client = await api.get(path, client, **window)
    assert as_client.status == 200, await as_client.text()
    items = (await body_of(as_client))["items"]
    assert [(item["starts_at"], item["reason"]) for item in items] == [("2026-03-18T00:00:00Z", "")]


async def test_a_unit_restricted_member_gets_404_for_the_other_units(clinic_api: Api) -> None:
    api = clinic_api
    c = await _new_york_clinic(api)
    owner = c["owner"]
    created = await api.post("/v1/units", {"name": "Queens", "timezone": "America/New_York"}, owner)
    queens = (await body_of(created))["id"]
    manager, _ = await api.member_token(owner, "gil@example.com", ["manager"], [queens])
    window = {"from": "2026-03-09T00:00:00Z", "to": "2026-03-10T00:00:00Z"}
    for path, query in (
        (f"/v1/professionals/{c['professional']}/working-hours", {"unit_id": c["unit"]}),
        (f"/v1/units/{c['unit']}/booking-rules", {}),
        (f"/v1/units/{c['unit']}/closures", {"from": "2026-03-01", "to": "2026-03-31"}),
        ("/v1/availability", {"unit_id": c["unit"], "procedure_ids": c["procedure"], **window}),
    ):
        response = await api.get(path, manager, **query)
        assert response.status == 404, (path, await response.text())
    rules = {"min_notice_minutes": 0, "horizon_days": 30, "slot_step_minutes": 30}
    assert (await api.put(f"/v1/units/{c['unit']}/booking-rules", rules, manager)).status == 404
    assert (await api.put(f"/v1/units/{queens}/booking-rules", rules, manager)).status == 200
