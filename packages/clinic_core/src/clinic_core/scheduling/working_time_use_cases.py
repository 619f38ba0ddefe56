"""Use cases of working time (weekly hours, date overrides, time off, unit closures, booking rules) and of
availability. Reading needs ``catalog:read`` and changing ``catalog:write``; availability needs
``appointments:read`` (it shows when professionals are taken). Units outside the caller's units, and every
id of another tenant, are 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.catalog.model import Procedure, ProcedureId, Professional, ProfessionalId, RoomId
from clinic_core.catalog.ports import ProfessionalQuery
from clinic_core.scheduling.availability import (
    DEFAULT_CANCELLATION_WINDOW,
    DEFAULT_WAITLIST_OFFER,
    AvailabilityQuery,
    BookingRules,
    ProcedureDemand,
    ProfessionalCalendar,
    RoomCalendar,
    find_slots,
)
from clinic_core.scheduling.intervals import Interval
from clinic_core.scheduling.working_time import (
    DateOverride,
    TimeOff,
    UnitClosure,
    WeeklySchedule,
    expand_working_time,
    local_dates_covering,
)
from clinic_core.scheduling.working_time_ports import (
    ClosureEntry,
    ClosureId,
    ProfessionalOverride,
    TimeOffEntry,
    TimeOffId,
    WeeklyHours,
)
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import UnitId, new_uuid
from clinic_core.shared.values import has_control_characters
from clinic_core.tenancy.model import Unit
from clinic_core.tenancy.permissions import Permission

MAX_AVAILABILITY_RANGE = timedelta(days=31)
MAX_LIST_RANGE = timedelta(days=366)
MAX_PROCEDURES = 10

T = TypeVar("T")
Spans = Sequence[tuple[str, str]]


def _scope(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


async def _audit(
    uow: UnitOfWork,
    actor: Actor,
    action: AuditAction,
    target: tuple[str, UUID],
    at: datetime,
    context: RequestContext,
    **details: Any,
) -> None:
    """Record a working-time change: who, when, on what (a professional or a unit), with small facts."""
    await uow.audit.add(
        AuditEvent.record(
            action,
            tenant_id=actor.tenant_id,
            at=at,
            context=context,
            target=AuditTarget(target[0], str(target[1])),
            **acted_by(actor),
            **details,
        )
    )


async def _unit(uow: UnitOfWork, actor: Actor, unit_id: UnitId) -> Result[Unit, NotFound]:
    unit = await uow.units.get(unit_id) if actor.sees_unit(unit_id) else None
    return Success(unit) if unit is not None else Failure(NotFound("unit", str(unit_id)))


async def _professional(uow: UnitOfWork, professional_id: ProfessionalId) -> Result[Professional, NotFound]:
    professional = await uow.professionals.get(professional_id)
    if professional is None:
        return Failure(NotFound("professional", str(professional_id)))
    return Success(professional)


async def _at_unit(
    uow: UnitOfWork, actor: Actor, professional_id: ProfessionalId, unit_id: UnitId
) -> Result[tuple[Professional, Unit], NotFound | InvalidInput]:
    """The professional and the unit, when both are the caller's to see and the professional works there."""
    professional = await _professional(uow, professional_id)
    if isinstance(professional, Failure):
        return professional
    unit = await _unit(uow, actor, unit_id)
    if isinstance(unit, Failure):
        return unit
    if unit_id not in professional.unwrap().unit_ids:
        return Failure(
            InvalidInput.of(
                "unit_id", "not_a_unit_of_the_professional", "the professional does not work here"
            )
        )
    return Success((professional.unwrap(), unit.unwrap()))


async def _at_unit_then(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    permission: Permission,
    professional_id: ProfessionalId,
    unit_id: UnitId,
    work: Callable[[UnitOfWork], Awaitable[Result[T, NotFound | InvalidInput]]],
    *,
    read_only: bool = False,
) -> Result[T, Forbidden | NotFound | InvalidInput]:
    """What the use cases of one professional's time at one unit share: the permission, one unit of work,
    the professional and the unit visible to the caller (404 first) and related (422); then ``work`` in that
    unit of work (which commits, if it writes)."""
    allowed = actor.authorize(permission)
    if isinstance(allowed, Failure):
        return allowed
    async with uow_factory(_scope(actor), read_only=read_only) as uow:
        found = await _at_unit(uow, actor, professional_id, unit_id)
        if isinstance(found, Failure):
            return found
        return await work(uow)


def _reason(raw: str, field: str = "reason") -> Result[str, InvalidInput]:
    reason = " ".join(raw.split())
    if len(reason) > 200:
        return Failure(InvalidInput.of(field, "too_long", "use at most 200 characters"))
    if has_control_characters(reason):
        return Failure(InvalidInput.of(field, "invalid_characters", "control characters are not allowed"))
    return Success(reason)


def _date_range(first: date, last: date, limit: timedelta = MAX_LIST_RANGE) -> InvalidInput | None:
    if last < first:
        return InvalidInput.of("to", "range_reversed", "the end date is before the start date")
    if last - first >= limit:
        return InvalidInput.of("to", "range_too_long", f"at most {limit.days} days")
    return None


# -- weekly hours ----------------------------------------------------------------------------------------


class GetWeeklyHours:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, professional_id: ProfessionalId, unit_id: UnitId
    ) -> Result[WeeklySchedule, Forbidden | NotFound | InvalidInput]:
        async def read(uow: UnitOfWork) -> Result[WeeklySchedule, NotFound | InvalidInput]:
            hours = await uow.working_time.get_week(professional_id, unit_id)
            return Success(hours.schedule if hours is not None else WeeklySchedule())

        return await _at_unit_then(
            self._uow, actor, Permission.CATALOG_READ, professional_id, unit_id, read, read_only=True
        )


@dataclass(frozen=True, slots=True)
class SetWeeklyHoursCommand:
    actor: Actor
    professional_id: ProfessionalId
    unit_id: UnitId
    days: Mapping[str, Spans]
    context: RequestContext = NO_CONTEXT


class SetWeeklyHours:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: SetWeeklyHoursCommand
    ) -> Result[WeeklySchedule, Forbidden | NotFound | InvalidInput]:
        schedule = WeeklySchedule.parse(cmd.days)

        async def write(uow: UnitOfWork) -> Result[WeeklySchedule, NotFound | InvalidInput]:
            if isinstance(schedule, Failure):
                return schedule
            now = self._clock.now()
            await uow.working_time.save_week(
                WeeklyHours(
                    tenant_id=cmd.actor.tenant_id,
                    professional_id=cmd.professional_id,
                    unit_id=cmd.unit_id,
                    schedule=schedule.unwrap(),
                    updated_at=now,
                )
            )
            await _audit(
                uow,
                cmd.actor,
                AuditAction.WORKING_HOURS_CHANGED,
                ("professional", cmd.professional_id),
                now,
                cmd.context,
                unit_id=str(cmd.unit_id),
                weekdays=len(schedule.unwrap().days),
            )
            await uow.commit()
            return schedule

        return await _at_unit_then(
            self._uow, cmd.actor, Permission.CATALOG_WRITE, cmd.professional_id, cmd.unit_id, write
        )


# -- date overrides ----------------------------------------------------------------------------------------


class ListOverrides:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, professional_id: ProfessionalId, unit_id: UnitId, first: date, last: date
    ) -> Result[list[DateOverride], Forbidden | NotFound | InvalidInput]:
        async def read(uow: UnitOfWork) -> Result[list[DateOverride], NotFound | InvalidInput]:
            bad_range = _date_range(first, last)
            if bad_range is not None:
                return Failure(bad_range)
            rows = await uow.working_time.overrides(unit_id, [professional_id], first, last)
            return Success([row.override for row in rows])

        return await _at_unit_then(
            self._uow, actor, Permission.CATALOG_READ, professional_id, unit_id, read, read_only=True
        )


@dataclass(frozen=True, slots=True)
class PutOverrideCommand:
    actor: Actor
    professional_id: ProfessionalId
    unit_id: UnitId
    day: date
    kind: str
    spans: Spans = ()
    context: RequestContext = NO_CONTEXT


class PutOverride:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: PutOverrideCommand
    ) -> Result[DateOverride, Forbidden | NotFound | InvalidInput]:
        override = DateOverride.parse(cmd.day, cmd.kind, cmd.spans)

        async def write(uow: UnitOfWork) -> Result[DateOverride, NotFound | InvalidInput]:
            if isinstance(override, Failure):
                return override
            now = self._clock.now()
            await uow.working_time.put_override(
                ProfessionalOverride(
                    tenant_id=cmd.actor.tenant_id,
                    professional_id=cmd.professional_id,
                    unit_id=cmd.unit_id,
                    override=override.unwrap(),
                    updated_at=now,
                )
            )
            await _audit(
                uow,
                cmd.actor,
                AuditAction.DATE_OVERRIDE_SET,
                ("professional", cmd.professional_id),
                now,
                cmd.context,
                unit_id=str(cmd.unit_id),
                date=cmd.day.isoformat(),
                kind=override.unwrap().kind.value,
            )
            await uow.commit()
            return override

        return await _at_unit_then(
            self._uow, cmd.actor, Permission.CATALOG_WRITE, cmd.professional_id, cmd.unit_id, write
        )


class DeleteOverride:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self,
        actor: Actor,
        professional_id: ProfessionalId,
        unit_id: UnitId,
        day: date,
        context: RequestContext = NO_CONTEXT,
    ) -> Result[None, Forbidden | NotFound | InvalidInput]:
        async def delete(uow: UnitOfWork) -> Result[None, NotFound | InvalidInput]:
            if not await uow.working_time.delete_override(professional_id, unit_id, day):
                return Failure(NotFound("override", day.isoformat()))
            await _audit(
                uow,
                actor,
                AuditAction.DATE_OVERRIDE_REMOVED,
                ("professional", professional_id),
                self._clock.now(),
                context,
                unit_id=str(unit_id),
                date=day.isoformat(),
            )
            await uow.commit()
            return Success(None)

        return await _at_unit_then(
            self._uow, actor, Permission.CATALOG_WRITE, professional_id, unit_id, delete
        )


# -- time off ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddTimeOffCommand:
    actor: Actor
    professional_id: ProfessionalId
    starts_at: datetime
    ends_at: datetime
    reason: str = ""
    context: RequestContext = NO_CONTEXT


class AddTimeOff:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: AddTimeOffCommand
    ) -> Result[TimeOffEntry, Forbidden | NotFound | InvalidInput]:
        allowed = cmd.actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        reason = _reason(cmd.reason)
        async with self._uow(_scope(cmd.actor)) as uow:
            professional = await _professional(uow, cmd.professional_id)
            if isinstance(professional, Failure):
                return professional
            if isinstance(reason, Failure):
                return reason
            if cmd.starts_at.utcoffset() is None or cmd.ends_at.utcoffset() is None:
                return Failure(InvalidInput.of("starts_at", "offset_required", "give the UTC offset"))
            if cmd.ends_at <= cmd.starts_at:
                return Failure(
                    InvalidInput.of("ends_at", "range_reversed", "the end must be after the start")
                )
            if cmd.ends_at - cmd.starts_at > MAX_LIST_RANGE:
                return Failure(InvalidInput.of("ends_at", "range_too_long", "at most 366 days at a time"))
            entry = TimeOffEntry(
                tenant_id=cmd.actor.tenant_id,
                id=TimeOffId(new_uuid()),
                professional_id=cmd.professional_id,
                time_off=TimeOff(Interval(cmd.starts_at, cmd.ends_at), reason.unwrap()),
                created_at=self._clock.now(),
            )
            await uow.working_time.add_time_off(entry)
            await _audit(
                uow,
                cmd.actor,
                AuditAction.TIME_OFF_ADDED,
                ("professional", cmd.professional_id),
                entry.created_at,
                cmd.context,
                time_off_id=str(entry.id),
            )
            await uow.commit()
        return Success(entry)


class ListTimeOff:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, professional_id: ProfessionalId, window: Interval
    ) -> Result[list[TimeOffEntry], Forbidden | NotFound | InvalidInput]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            professional = await _professional(uow, professional_id)
            if isinstance(professional, Failure):
                return professional
            if window.duration > MAX_LIST_RANGE:
                return Failure(InvalidInput.of("to", "range_too_long", "at most 366 days"))
            entries = await uow.working_time.time_off([professional_id], window)
        if Permission.CATALOG_WRITE in actor.permissions:
            return Success(entries)
        # The reason (sick leave, a family matter) is for those who manage working time, not for clients
        # or the front desk: they see when, not why.
        return Success([replace(e, time_off=replace(e.time_off, reason="")) for e in entries])


class DeleteTimeOff:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, time_off_id: TimeOffId, context: RequestContext = NO_CONTEXT
    ) -> Result[None, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor)) as uow:
            entry = await uow.working_time.get_time_off(time_off_id)
            if entry is None or not await uow.working_time.delete_time_off(time_off_id):
                return Failure(NotFound("time off", str(time_off_id)))
            await _audit(
                uow,
                actor,
                AuditAction.TIME_OFF_REMOVED,
                ("professional", entry.professional_id),
                self._clock.now(),
                context,
                time_off_id=str(time_off_id),
            )
            await uow.commit()
        return Success(None)


# -- unit closures -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddClosureCommand:
    actor: Actor
    unit_id: UnitId
    first_day: date
    last_day: date
    reason: str = ""
    context: RequestContext = NO_CONTEXT


class AddClosure:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: AddClosureCommand
    ) -> Result[ClosureEntry, Forbidden | NotFound | InvalidInput]:
        allowed = cmd.actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        reason = _reason(cmd.reason)
        async with self._uow(_scope(cmd.actor)) as uow:
            unit = await _unit(uow, cmd.actor, cmd.unit_id)
            if isinstance(unit, Failure):
                return unit
            bad_range = _date_range(cmd.first_day, cmd.last_day)
            if bad_range is not None:
                return Failure(
                    InvalidInput.of("last_day", bad_range.errors[0].code, bad_range.errors[0].message)
                )
            if isinstance(reason, Failure):
                return reason
            entry = ClosureEntry(
                tenant_id=cmd.actor.tenant_id,
                id=ClosureId(new_uuid()),
                unit_id=cmd.unit_id,
                closure=UnitClosure(cmd.first_day, cmd.last_day, reason.unwrap()),
                created_at=self._clock.now(),
            )
            await uow.working_time.add_closure(entry)
            await _audit(
                uow,
                cmd.actor,
                AuditAction.UNIT_CLOSURE_ADDED,
                ("unit", cmd.unit_id),
                entry.created_at,
                cmd.context,
                closure_id=str(entry.id),
                first_day=cmd.first_day.isoformat(),
                last_day=cmd.last_day.isoformat(),
            )
            await uow.commit()
        return Success(entry)


class ListClosures:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, unit_id: UnitId, first: date, last: date
    ) -> Result[list[ClosureEntry], Forbidden | NotFound | InvalidInput]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            unit = await _unit(uow, actor, unit_id)
            if isinstance(unit, Failure):
                return unit
            bad_range = _date_range(first, last, timedelta(days=3 * 366))
            if bad_range is not None:
                return Failure(bad_range)
            return Success(await uow.working_time.closures(unit_id, first, last))


class DeleteClosure:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, unit_id: UnitId, closure_id: ClosureId, context: RequestContext = NO_CONTEXT
    ) -> Result[None, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor)) as uow:
            entry = await uow.working_time.get_closure(closure_id)
            if entry is None or entry.unit_id != unit_id or not actor.sees_unit(unit_id):
                return Failure(NotFound("closure", str(closure_id)))
            await uow.working_time.delete_closure(closure_id)
            await _audit(
                uow,
                actor,
                AuditAction.UNIT_CLOSURE_REMOVED,
                ("unit", unit_id),
                self._clock.now(),
                context,
                closure_id=str(closure_id),
            )
            await uow.commit()
        return Success(None)


# -- booking rules --------------------------------------------------------------------------------------------


class GetBookingRules:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, unit_id: UnitId) -> Result[BookingRules, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            unit = await _unit(uow, actor, unit_id)
            if isinstance(unit, Failure):
                return unit
            return Success(await uow.working_time.booking_rules(unit_id) or BookingRules())


@dataclass(frozen=True, slots=True)
class SetBookingRulesCommand:
    actor: Actor
    unit_id: UnitId
    min_notice_minutes: int
    horizon_days: int
    slot_step_minutes: int
    context: RequestContext = NO_CONTEXT
    cancellation_window_hours: int = DEFAULT_CANCELLATION_WINDOW // timedelta(hours=1)
    waitlist_offer_minutes: int = DEFAULT_WAITLIST_OFFER // timedelta(minutes=1)


class SetBookingRules:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: SetBookingRulesCommand
    ) -> Result[BookingRules, Forbidden | NotFound | InvalidInput]:
        allowed = cmd.actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        rules = BookingRules.parse(
            cmd.min_notice_minutes,
            cmd.horizon_days,
            cmd.slot_step_minutes,
            cmd.cancellation_window_hours,
            cmd.waitlist_offer_minutes,
        )
        async with self._uow(_scope(cmd.actor)) as uow:
            unit = await _unit(uow, cmd.actor, cmd.unit_id)
            if isinstance(unit, Failure):
                return unit
            if isinstance(rules, Failure):
                return rules
            now = self._clock.now()
            await uow.working_time.save_booking_rules(cmd.unit_id, rules.unwrap(), now)
            await _audit(
                uow,
                cmd.actor,
                AuditAction.BOOKING_RULES_CHANGED,
                ("unit", cmd.unit_id),
                now,
                cmd.context,
                min_notice_minutes=rules.unwrap().min_notice_minutes,
                horizon_days=rules.unwrap().horizon_days,
                slot_step_minutes=rules.unwrap().slot_step_minutes,
                cancellation_window_hours=rules.unwrap().cancellation_window_hours,
                waitlist_offer_minutes=rules.unwrap().waitlist_offer_minutes,
            )
            await uow.commit()
        return Success(rules.unwrap())


# -- availability ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvailabilityRequest:
    actor: Actor
    unit_id: UnitId
    procedure_ids: Sequence[ProcedureId]
    starts_from: datetime
    starts_before: datetime
    professional_id: ProfessionalId | None = None


@dataclass(frozen=True, slots=True)
class Availability:
    unit: Unit
    zone: ZoneInfo
    procedures: list[Procedure]
    professionals: dict[ProfessionalId, Professional]
    slots: dict[ProfessionalId, list[datetime]]
    """Free start times (UTC) of each professional who can take the appointment, even with none."""


class AvailabilityAsked(Protocol):
    """What an availability search asks, whoever asks it (staff through ``AvailabilityRequest``, the public
    booking page through ``PublicAvailabilityRequest``)."""

    @property
    def unit_id(self) -> UnitId: ...
    @property
    def procedure_ids(self) -> Sequence[ProcedureId]: ...
    @property
    def starts_from(self) -> datetime: ...
    @property
    def starts_before(self) -> datetime: ...
    @property
    def professional_id(self) -> ProfessionalId | None: ...


def check_availability_request(request: AvailabilityAsked) -> InvalidInput | None:
    if request.starts_from.utcoffset() is None or request.starts_before.utcoffset() is None:
        return InvalidInput.of(
            "from", "offset_required", "give the UTC offset, e.g. 2026-06-01T00:00:00-03:00"
        )
    if request.starts_before <= request.starts_from:
        return InvalidInput.of("to", "range_reversed", "`to` must be after `from`")
    if request.starts_before - request.starts_from > MAX_AVAILABILITY_RANGE:
        return InvalidInput.of("to", "range_too_long", "at most 31 days at a time")
    if not 1 <= len(request.procedure_ids) <= MAX_PROCEDURES:
        return InvalidInput.of("procedure_ids", "out_of_range", f"give 1 to {MAX_PROCEDURES} procedures")
    return None


class GetAvailability:
    """The free start times of an appointment of these procedures, in order, at the unit."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, request: AvailabilityRequest
    ) -> Result[Availability, Forbidden | NotFound | InvalidInput]:
        allowed = request.actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        problem = check_availability_request(request)
        if problem is not None:
            return Failure(problem)
        async with self._uow(_scope(request.actor), read_only=True) as uow:
            return await self._compute(uow, request)

    async def _compute(
        self, uow: UnitOfWork, request: AvailabilityRequest
    ) -> Result[Availability, Forbidden | NotFound | InvalidInput]:
        unit = await _unit(uow, request.actor, request.unit_id)
        if isinstance(unit, Failure):
            return unit
        return await self.at_unit(uow, unit.unwrap(), request)

    async def at_unit(
        self, uow: UnitOfWork, unit: Unit, request: AvailabilityAsked
    ) -> Result[Availability, NotFound | InvalidInput]:
        """The search at a unit already found (and allowed) in ``uow``'s tenant: active procedures and
        professionals only, the unit's booking rules always. Busy times are intervals only: no patient and
        no reason of time off reaches the result."""
        zone = unit.timezone.zone
        found = await uow.procedures.get_many(set(request.procedure_ids))
        for procedure_id in request.procedure_ids:
            if procedure_id not in found or not found[procedure_id].active:
                return Failure(NotFound("procedure", str(procedure_id)))
        procedures = [found[procedure_id] for procedure_id in request.procedure_ids]
        room_types = {p.room_type for p in procedures if p.room_type}
        if len(room_types) > 1:
            return Failure(
                InvalidInput.of("procedure_ids", "mixed_room_types", "these procedures need different rooms")
            )
        professionals = await self._professionals(uow, request)
        if isinstance(professionals, Failure):
            return professionals
        by_id = {p.id: p for p in professionals.unwrap()}
        window = Interval(request.starts_from, request.starts_before)
        first, last = local_dates_covering(window, zone)
        ids = list(by_id)
        weeks = {w.professional_id: w.schedule for w in await uow.working_time.weeks(request.unit_id, ids)}
        overrides: dict[ProfessionalId, list[DateOverride]] = {}
        for row in await uow.working_time.overrides(request.unit_id, ids, first, last):
            overrides.setdefault(row.professional_id, []).append(row.override)
        closures = [entry.closure for entry in await uow.working_time.closures(request.unit_id, first, last)]
        wide = Interval(window.start - timedelta(days=1), window.end + timedelta(days=1))
        busy = await uow.busy_times.professionals(ids, wide)
        for entry in await uow.working_time.time_off(ids, wide):
            busy.setdefault(entry.professional_id, []).append(entry.time_off.interval)
        rooms: list[RoomCalendar[RoomId]] | None = None
        if room_types:
            unit_rooms = await uow.rooms.list(request.unit_id, active=True, type=next(iter(room_types)))
            room_busy = await uow.busy_times.rooms([room.id for room in unit_rooms], wide)
            rooms = [RoomCalendar(room.id, room_busy.get(room.id, [])) for room in unit_rooms]
        rules = await uow.working_time.booking_rules(request.unit_id) or BookingRules()
        calendars = [
            ProfessionalCalendar(
                pid,
                frozenset(by_id[pid].procedure_ids),
                expand_working_time(weeks[pid], zone, first, last, overrides.get(pid, ()), closures),
                busy.get(pid, []),
            )
            for pid in ids
            if pid in weeks
        ]
        query = AvailabilityQuery(
            procedures=[
                ProcedureDemand(
                    p.id,
                    timedelta(minutes=p.duration_minutes),
                    timedelta(minutes=p.buffer_before_minutes),
                    timedelta(minutes=p.buffer_after_minutes),
                )
                for p in procedures
            ],
            window=window,
            zone=zone,
            rules=rules,
            now=self._clock.now(),
            professional_id=request.professional_id,
            rooms=rooms,
        )
        slots = find_slots(query, calendars)
        for pid in ids:  # those without weekly hours here: no slots, but listed
            if pid not in slots and by_id[pid].procedure_ids >= set(request.procedure_ids):
                slots[pid] = []
        return Success(Availability(unit, zone, procedures, by_id, dict(sorted(slots.items()))))

    async def _professionals(
        self, uow: UnitOfWork, request: AvailabilityAsked
    ) -> Result[list[Professional], NotFound]:
        if request.professional_id is not None:
            professional = await uow.professionals.get(request.professional_id)
            if professional is None:
                return Failure(NotFound("professional", str(request.professional_id)))
            usable = professional.active and request.unit_id in professional.unit_ids
            return Success([professional] if usable else [])
        query = ProfessionalQuery(
            active=True, unit_id=request.unit_id, procedure_ids=frozenset(request.procedure_ids)
        )
        found: list[Professional] = []
        page = PageRequest(None, 200)
        while True:
            batch = await uow.professionals.list(query, page)
            found.extend(batch.items)
            if batch.next_after is None:
                return Success(found)
            page = PageRequest(batch.next_after, 200)
