"""Working time: a professional's weekly hours and date overrides at a unit, their time off, a unit's closures
and booking rules.

Reading needs ``catalog:read``; changing, ``catalog:write``. Clock times are the unit's local time (its
``timezone``); every change is in the audit trail. Another clinic's ids, and units outside the caller's, are
404; a unit where the professional does not work is 422 ``not_a_unit_of_the_professional``.
"""

from __future__ import annotations

from datetime import date

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires
from clinic_api.availability_query import FromParam, parse_instant, query_uuid, required
from clinic_api.bindings import QueryParam
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, invalid_fields, path_id, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, post, put
from clinic_api.scheduling_schemas import (
    BookingRulesBody,
    BookingRulesOut,
    ClosureList,
    ClosureOut,
    ClosureRequest,
    OverrideList,
    OverrideOut,
    OverrideRequest,
    TimeOffList,
    TimeOffOut,
    TimeOffRequest,
    WeeklyHoursOut,
    WeeklyHoursRequest,
)
from clinic_api.scheduling_services import SchedulingServices
from clinic_core.application.actor import Actor
from clinic_core.catalog.model import ProfessionalId
from clinic_core.scheduling.intervals import Interval
from clinic_core.scheduling.working_time_ports import ClosureId, TimeOffId
from clinic_core.scheduling.working_time_use_cases import (
    AddClosureCommand,
    AddTimeOffCommand,
    PutOverrideCommand,
    SetBookingRulesCommand,
    SetWeeklyHoursCommand,
)
from clinic_core.shared.errors import FieldError
from clinic_core.shared.ids import UnitId
from clinic_core.tenancy.permissions import Permission


def _invalid(name: str, code: str, message: str) -> ProblemRaised:
    return ProblemRaised(invalid_fields([FieldError(name, code, message)]))


def parse_date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise _invalid(name, "invalid_date", "use YYYY-MM-DD") from None


class ProfessionalWorkingTime(APIController):
    def __init__(self, scheduling: SchedulingServices) -> None:
        self._s = scheduling

    @classmethod
    def route(cls) -> str:
        return "/v1/professionals"

    @requires(Permission.CATALOG_READ)
    @documented(200, WeeklyHoursOut, problems=(401, 403, 404, 422))
    @get("/{professional_id}/working-hours")
    async def get_working_hours(
        self, actor: Actor, professional_id: str, unit_id: QueryParam[str] | None = None
    ) -> Response:
        """The professional's weekly hours at a unit, in the unit's local time (every weekday listed).

        @param professional_id: the professional's id (a UUID).
        @param unit_id: the unit (required); one where the professional works.
        """
        pid = ProfessionalId(path_id(professional_id, "professional"))
        unit = UnitId(query_uuid(unit_id, "unit_id"))
        week = unwrap_or_raise(await self._s.get_weekly_hours(actor, pid, unit))
        return json_response(WeeklyHoursOut.of(pid, unit, week))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, WeeklyHoursOut, problems=(401, 403, 404, 422))
    @put("/{professional_id}/working-hours")
    async def set_working_hours(
        self,
        request: Request,
        actor: Actor,
        professional_id: str,
        body: WeeklyHoursRequest,
        unit_id: QueryParam[str] | None = None,
    ) -> Response:
        """Replace the professional's week at a unit. Each day holds spans of local time (`HH:MM`, the end
        up to `24:00`) that do not overlap; a night shift is `20:00-24:00` one day and `00:00-06:00` the
        next. A 09:00-17:00 day stays 09:00-17:00 local on the days the clocks change.

        @param professional_id: the professional's id (a UUID).
        @param unit_id: the unit (required); one where the professional works.
        """
        pid = ProfessionalId(path_id(professional_id, "professional"))
        unit = UnitId(query_uuid(unit_id, "unit_id"))
        command = SetWeeklyHoursCommand(actor, pid, unit, body.pairs(), request_context(request))
        week = unwrap_or_raise(await self._s.set_weekly_hours(command))
        return json_response(WeeklyHoursOut.of(pid, unit, week))

    @requires(Permission.CATALOG_READ)
    @documented(200, OverrideList, problems=(401, 403, 404, 422))
    @get("/{professional_id}/overrides")
    async def list_overrides(
        self,
        actor: Actor,
        professional_id: str,
        unit_id: QueryParam[str] | None = None,
        from_: FromParam | None = None,
        to: QueryParam[str] | None = None,
    ) -> Response:
        """The professional's date overrides at a unit on the local dates `from` to `to` (inclusive, at
        most 366 days), by date.

        @param professional_id: the professional's id (a UUID).
        @param unit_id: the unit (required).
        @param from: the first local date (`YYYY-MM-DD`, required).
        @param to: the last local date (`YYYY-MM-DD`, required).
        """
        pid = ProfessionalId(path_id(professional_id, "professional"))
        unit = UnitId(query_uuid(unit_id, "unit_id"))
        first = parse_date(required(from_, "from"), "from")
        last = parse_date(required(to, "to"), "to")
        found = unwrap_or_raise(await self._s.list_overrides(actor, pid, unit, first, last))
        return json_response(OverrideList(items=[OverrideOut.of(o) for o in found]))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, OverrideOut, problems=(401, 403, 404, 422))
    @put("/{professional_id}/overrides/{day}")
    async def put_override(
        self,
        request: Request,
        actor: Actor,
        professional_id: str,
        day: str,
        body: OverrideRequest,
        unit_id: QueryParam[str] | None = None,
    ) -> Response:
        """Set what changes on one local date: `closed`, `replace` (these spans instead of the weekday's)
        or `extra` (these spans too). Replaces the date's earlier override. A unit closure still wins.

        @param professional_id: the professional's id (a UUID).
        @param day: the local date, `YYYY-MM-DD`.
        @param unit_id: the unit (required).
        """
        pid = ProfessionalId(path_id(professional_id, "professional"))
        when = parse_date(day, "date")
        unit = UnitId(query_uuid(unit_id, "unit_id"))
        command = PutOverrideCommand(
            actor, pid, unit, when, body.kind, body.pairs(), request_context(request)
        )
        return json_response(OverrideOut.of(unwrap_or_raise(await self._s.put_override(command))))

    @requires(Permission.CATALOG_WRITE)
    @documented(204, problems=(401, 403, 404, 422))
    @delete("/{professional_id}/overrides/{day}")
    async def delete_override(
        self,
        request: Request,
        actor: Actor,
        professional_id: str,
        day: str,
        unit_id: QueryParam[str] | None = None,
    ) -> Response:
        """Remove the date's override (the weekday's hours apply again); none there is 404.

        @param professional_id: the professional's id (a UUID).
        @param day: the local date, `YYYY-MM-DD`.
        @param unit_id: the unit (required).
        """
        pid = ProfessionalId(path_id(professional_id, "professional"))
        when = parse_date(day, "date")
        unit = UnitId(query_uuid(unit_id, "unit_id"))
        unwrap_or_raise(await self._s.delete_override(actor, pid, unit, when, request_context(request)))
        return Response(204)

    @requires(Permission.CATALOG_READ)
    @documented(200, TimeOffList, problems=(401, 403, 404, 422))
    @get("/{professional_id}/time-off")
    async def list_time_off(
        self,
        actor: Actor,
        professional_id: str,
        from_: FromParam | None = None,
        to: QueryParam[str] | None = None,
    ) -> Response:
        """The professional's time off that overlaps `[from, to)` (at most 366 days), by start.

        @param professional_id: the professional's id (a UUID).
        @param from: an instant with its UTC offset (required; send `+` as `%2B`).
        @param to: an instant with its UTC offset (required), after `from`.
        """
        pid = ProfessionalId(path_id(professional_id, "professional"))
        start = parse_instant(required(from_, "from"), "from")
        end = parse_instant(required(to, "to"), "to")
        if end <= start:
            raise _invalid("to", "range_reversed", "`to` must be after `from`")
        found = unwrap_or_raise(await self._s.list_time_off(actor, pid, Interval(start, end)))
        return json_response(TimeOffList(items=[TimeOffOut.of(entry) for entry in found]))

    @requires(Permission.CATALOG_WRITE)
    @documented(
        201,
        TimeOffOut,
        problems=(401, 403, 404, 422),
        headers={"Location": HeaderInfo(str, "The URL to delete it by.")},
    )
    @post("/{professional_id}/time-off")
    async def add_time_off(
        self, request: Request, actor: Actor, professional_id: str, body: TimeOffRequest
    ) -> Response:
        """Record time away (holiday, training, leave) at every unit: no slot is offered in it, and no
        appointment's buffers reach into it.

        @param professional_id: the professional's id (a UUID).
        """
        pid = ProfessionalId(path_id(professional_id, "professional"))
        command = AddTimeOffCommand(
            actor, pid, body.starts_at, body.ends_at, body.reason, request_context(request)
        )
        entry = unwrap_or_raise(await self._s.add_time_off(command))
        return json_response(TimeOffOut.of(entry), 201, [("Location", f"/v1/time-off/{entry.id}")])


class TimeOffEntries(APIController):
    def __init__(self, scheduling: SchedulingServices) -> None:
        self._s = scheduling

    @classmethod
    def route(cls) -> str:
        return "/v1/time-off"

    @requires(Permission.CATALOG_WRITE)
    @documented(204, problems=(401, 403, 404))
    @delete("/{time_off_id}")
    async def delete_time_off(self, request: Request, actor: Actor, time_off_id: str) -> Response:
        """Remove a time off entry; another clinic's is 404.

        @param time_off_id: the entry's id (a UUID).
        """
        entry = TimeOffId(path_id(time_off_id, "time off"))
        unwrap_or_raise(await self._s.delete_time_off(actor, entry, request_context(request)))
        return Response(204)


class UnitWorkingTime(APIController):
    def __init__(self, scheduling: SchedulingServices) -> None:
        self._s = scheduling

    @classmethod
    def route(cls) -> str:
        return "/v1/units"

    @requires(Permission.CATALOG_READ)
    @documented(200, ClosureList, problems=(401, 403, 404, 422))
    @get("/{unit_id}/closures")
    async def list_closures(
        self,
        actor: Actor,
        unit_id: str,
        from_: FromParam | None = None,
        to: QueryParam[str] | None = None,
    ) -> Response:
        """The unit's closures and holidays that meet the local dates `from` to `to` (at most 3 years).

        @param unit_id: the unit's id (a UUID).
        @param from: the first local date (`YYYY-MM-DD`, required).
        @param to: the last local date (`YYYY-MM-DD`, required).
        """
        unit = UnitId(path_id(unit_id, "unit"))
        first = parse_date(required(from_, "from"), "from")
        last = parse_date(required(to, "to"), "to")
        found = unwrap_or_raise(await self._s.list_closures(actor, unit, first, last))
        return json_response(ClosureList(items=[ClosureOut.of(entry) for entry in found]))

    @requires(Permission.CATALOG_WRITE)
    @documented(201, ClosureOut, problems=(401, 403, 404, 422))
    @post("/{unit_id}/closures")
    async def add_closure(
        self, request: Request, actor: Actor, unit_id: str, body: ClosureRequest
    ) -> Response:
        """Close the unit on the local dates `first_day` to `last_day` (a holiday): it wins over weekly
        hours and every override.

        @param unit_id: the unit's id (a UUID).
        """
        unit = UnitId(path_id(unit_id, "unit"))
        command = AddClosureCommand(
            actor,
            unit,
            body.first_day,
            body.last_day or body.first_day,
            body.reason,
            request_context(request),
        )
        entry = unwrap_or_raise(await self._s.add_closure(command))
        return json_response(ClosureOut.of(entry), 201)

    @requires(Permission.CATALOG_WRITE)
    @documented(204, problems=(401, 403, 404))
    @delete("/{unit_id}/closures/{closure_id}")
    async def delete_closure(self, request: Request, actor: Actor, unit_id: str, closure_id: str) -> Response:
        """Reopen the dates of a closure.

        @param unit_id: the unit's id (a UUID).
        @param closure_id: the closure's id (a UUID).
        """
        unit = UnitId(path_id(unit_id, "unit"))
        closure = ClosureId(path_id(closure_id, "closure"))
        unwrap_or_raise(await self._s.delete_closure(actor, unit, closure, request_context(request)))
        return Response(204)

    @requires(Permission.CATALOG_READ)
    @documented(200, BookingRulesOut, problems=(401, 403, 404))
    @get("/{unit_id}/booking-rules")
    async def get_booking_rules(self, actor: Actor, unit_id: str) -> Response:
        """How soon, how far ahead and on what local grid the unit's slots are offered, within how many
        hours of the start a cancellation is late, and how many minutes a waitlist offer stays open (the
        defaults, 60 minutes, 90 days, 15 minutes, 24 hours and 120 minutes, until set).

        @param unit_id: the unit's id (a UUID).
        """
        unit = UnitId(path_id(unit_id, "unit"))
        rules = unwrap_or_raise(await self._s.get_booking_rules(actor, unit))
        return json_response(BookingRulesOut.of(unit, rules))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, BookingRulesOut, problems=(401, 403, 404, 422))
    @put("/{unit_id}/booking-rules")
    async def set_booking_rules(
        self, request: Request, actor: Actor, unit_id: str, body: BookingRulesBody
    ) -> Response:
        """Set the unit's booking rules: `min_notice_minutes` (0 to 43,200), `horizon_days` (1 to 730,
        beyond the notice), `slot_step_minutes` (5, 10, 15, 20, 30 or 60), `cancellation_window_hours`
        (0 to 336, default 24: a cancellation less than this before the start is marked late) and
        `waitlist_offer_minutes` (15 to 2,880, default 120: how long a waitlist offer stays open).

        @param unit_id: the unit's id (a UUID).
        """
        unit = UnitId(path_id(unit_id, "unit"))
        command = SetBookingRulesCommand(
            actor,
            unit,
            body.min_notice_minutes,
            body.horizon_days,
            body.slot_step_minutes,
            request_context(request),
            body.cancellation_window_hours,
            body.waitlist_offer_minutes,
        )
        rules = unwrap_or_raise(await self._s.set_booking_rules(command))
        return json_response(BookingRulesOut.of(unit, rules))
