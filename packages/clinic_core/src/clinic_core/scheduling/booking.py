"""Booking and the appointment lifecycle, race-free.

A booking runs in one transaction: it checks who may book for whom (staff: a patient they see; a client
through the portal: themself or a patient they are guardian of), that the professional works in the unit
and performs every procedure, and that the room (given, or the first free one of the type the procedures
need) is in the unit. Then it takes the booking locks of the professional, the rooms and the patient (in
that order), looks for an active appointment whose block overlaps the new one for any of them, and only
then inserts. The store's exclusion constraints refuse what the check would have missed; a deadlock or
serialisation failure reruns the whole transaction a few times, with jitter.

Every change writes its outbox event (``appointment.*``) and the patient's timeline entry (kind
``appointment``) in the same transaction. A cancellation also offers the freed time to the waitlist.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, TypeVar

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import UnitOfWork, UnitOfWorkFactory
from clinic_core.catalog.model import Procedure, Room
from clinic_core.clinical.timeline import TimelineEntry, TimelineEntryId, summary_of
from clinic_core.patients.guardians import family_of
from clinic_core.patients.model import PatientId, PatientStatus
from clinic_core.patients.use_cases import scope_of, visible_patient
from clinic_core.scheduling.appointments import (
    MAX_ITEMS,
    MAX_REASON,
    Appointment,
    AppointmentId,
    AppointmentItem,
    BookingSource,
    By,
    InvalidTransition,
    ProcedureId,
    ProfessionalId,
    RoomId,
    StaleAppointment,
    TooEarly,
    layout,
)
from clinic_core.scheduling.availability import BookingRules
from clinic_core.scheduling.booking_ports import BlockTaken, TransientConflict
from clinic_core.scheduling.intervals import Interval
from clinic_core.scheduling.working_time import expand_working_time, local_dates_covering
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import UnitId, new_uuid, parse_uuid
from clinic_core.tenancy.permissions import Permission, Role

TIMELINE_KIND = "appointment"
MAX_NOTES = 500
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BookingPolicy:
    """The rules of booking that are not the unit's (its ``BookingRules``: minimum notice and horizon,
    which bind clients with the professional's working time; the cancellation window and the waitlist
    offers' lifetime). The staff may book any time from now on, outside working hours too (a fit-in), and
    ``staff_grace`` in the past (a walk-in being typed in)."""

    staff_grace: timedelta = timedelta(minutes=15)
    attempts: int = 4
    """How many times a transaction the database gave up (deadlock, serialisation) is run."""


# --- errors -------------------------------------------------------------------------------------------


class Resource(StrEnum):
    PROFESSIONAL = "professional"
    ROOM = "room"
    PATIENT = "patient"


@dataclass(frozen=True, slots=True)
class BusyInterval:
    """An interval that is taken, and for which of the booking's resources (never whose appointment)."""

    resource: Resource
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SlotTaken(Conflict):
    code: ClassVar[str] = "slot_taken"
    conflicts: tuple[BusyInterval, ...] = field(default_factory=tuple)

    @property
    def detail(self) -> str:
        taken = ", ".join(sorted({c.resource.value for c in self.conflicts})) or "the time"
        return f"the time asked for overlaps another appointment of the same {taken}"


_CONSTRAINT_RESOURCE = {
    "ex_appointments_professional": Resource.PROFESSIONAL,
    "ex_appointments_room": Resource.ROOM,
    "ex_appointments_patient": Resource.PATIENT,
}


# --- shared helpers -----------------------------------------------------------------------------------


def by_of(actor: Actor) -> By:
    if actor.api_key_id is not None:
        return By(api_key_id=actor.api_key_id)
    return By(user_id=actor.user_id)


def is_client(actor: Actor) -> bool:
    """A client acts through the portal: on their own and their dependants' appointments only."""
    return actor.api_key_id is None and Role.CLIENT in actor.roles and not (actor.roles - {Role.CLIENT})


async def retrying(attempts: int, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` (one whole transaction) again when the database gave it up, with jittered backoff."""
    for attempt in range(attempts):
        try:
            return await work()
        except TransientConflict:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0.005, 0.02) * 2**attempt)  # noqa: S311 - jitter, not secrets
    raise AssertionError("unreachable")


async def record_on_timeline(uow: UnitOfWork, appointment: Appointment, actor: Actor | None) -> None:
    """The patient's timeline entry of the appointment: when it is, what it is, its status now. ``actor``
    None: the system did it (a sweep)."""
    names = ", ".join(item.name for item in appointment.items)
    await uow.timeline.record(
        TimelineEntry(
            tenant_id=appointment.tenant_id,
            id=TimelineEntryId(new_uuid()),
            patient_id=appointment.patient_id,
            occurred_at=appointment.start,
            kind=TIMELINE_KIND,
            ref_id=appointment.id,
            summary=summary_of(names),
            status=appointment.status.value,
            actor_id=actor.user_id if actor is not None and actor.api_key_id is None else None,
        )
    )


async def visible_appointment(
    uow: UnitOfWork, actor: Actor, appointment_id: AppointmentId
) -> Appointment | None:
    """The appointment if ``actor`` may see it: staff, in one of their units; a client, of their family."""
    appointment = await uow.appointments.get(appointment_id)
    if appointment is None:
        return None
    if is_client(actor):
        _, family = await family_of(uow, actor)
        return appointment if appointment.patient_id in family else None
    return appointment if actor.sees_unit(appointment.unit_id) else None


def _parse_id(raw: str, name: str, errors: list[FieldError]) -> object | None:
    parsed = parse_uuid(raw)
    if parsed is None:
        errors.append(FieldError(name, "invalid_id", "not an id"))
    return parsed


def _aware(at: datetime, name: str, errors: list[FieldError]) -> None:
    if at.utcoffset() is None:
        errors.append(FieldError(name, "naive_datetime", "give the time with its UTC offset"))


def _reason(raw: str | None, errors: list[FieldError], name: str = "reason") -> str | None:
    if raw is None:
        return None
    text = " ".join(raw.split())
    if len(text) > MAX_REASON:
        errors.append(FieldError(name, "too_long", f"at most {MAX_REASON} characters"))
    return text or None


def _notice_problem(actor: Actor, start: datetime, now: datetime, policy: BookingPolicy) -> FieldError | None:
    """Staff may not book in the past (beyond a grace for a walk-in); clients get the unit's rules, inside
    the transaction (``_client_rules_problem``), and never a start that has passed."""
    grace = timedelta(0) if is_client(actor) else policy.staff_grace
    if start < now - grace:
        return FieldError("start", "in_the_past", "the start has passed")
    return None


async def _client_rules_problem(
    uow: UnitOfWork,
    unit_id: UnitId,
    professional_id: ProfessionalId,
    block: Interval,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    notice: bool,
) -> FieldError | None:
    """What binds a client's booking: the unit's booking rules (minimum notice, horizon) and the
    professional's working time there (weekly hours, overrides, closures; not during time off)."""
    rules = await uow.working_time.booking_rules(unit_id) or BookingRules()
    if notice and start < now + rules.min_notice:
        return FieldError("start", "too_soon", f"book at least {rules.min_notice_minutes} minutes ahead")
    if start >= now + rules.horizon:
        return FieldError("start", "too_far", f"book less than {rules.horizon_days} days ahead")
    unit = await uow.units.get(unit_id)
    weeks = await uow.working_time.weeks(unit_id, [professional_id])
    if unit is None or not weeks:
        return FieldError("start", "outside_working_hours", "the professional does not work then")
    zone = unit.timezone.zone
    first, last = local_dates_covering(Interval(start, end), zone)
    overrides = [
        o.override for o in await uow.working_time.overrides(unit_id, [professional_id], first, last)
    ]
    closures = [c.closure for c in await uow.working_time.closures(unit_id, first, last)]
    working = expand_working_time(weeks[0].schedule, zone, first, last, overrides, closures)
    if not any(w.start <= start and end <= w.end for w in working):
        return FieldError("start", "outside_working_hours", "the professional does not work then")
    if await uow.working_time.time_off([professional_id], block):
        return FieldError("start", "outside_working_hours", "the professional is away then")
    return None


async def _find_conflicts(
    uow: UnitOfWork,
    *,
    block_start: datetime,
    block_end: datetime,
    professional_id: ProfessionalId,
    room_candidates: Sequence[RoomId],
    patient_id: PatientId,
    excluding: AppointmentId | None,
) -> tuple[RoomId | None, tuple[BusyInterval, ...]]:
    """Under the locks: the first free candidate room (None when none is needed) and what is busy."""
    found = await uow.appointments.overlapping(
        block_start=block_start,
        block_end=block_end,
        professional_id=professional_id,
        room_id=None,
        patient_id=patient_id,
        excluding=excluding,
    )
    busy = [
        BusyInterval(
            Resource.PROFESSIONAL if a.professional_id == professional_id else Resource.PATIENT,
            a.block_start,
            a.block_end,
        )
        for a in found
    ]
    if busy:
        return None, tuple(busy)
    if not room_candidates:
        return None, ()
    room_busy: list[BusyInterval] = []
    for room_id in room_candidates:
        taken = [
            a
            for a in await uow.appointments.overlapping(
                block_start=block_start,
                block_end=block_end,
                professional_id=professional_id,
                room_id=room_id,
                patient_id=patient_id,
                excluding=excluding,
            )
            if a.room_id == room_id
        ]
        if not taken:
            return room_id, ()
        room_busy.extend(BusyInterval(Resource.ROOM, a.block_start, a.block_end) for a in taken)
    return None, tuple(room_busy)


def _taken(violation: BlockTaken, start: datetime, end: datetime) -> SlotTaken:
    resource = _CONSTRAINT_RESOURCE.get(violation.constraint, Resource.PROFESSIONAL)
    return SlotTaken(conflicts=(BusyInterval(resource, start, end),))


# --- book ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookAppointmentCommand:
    actor: Actor
    patient_id: str
    professional_id: str
    unit_id: str
    start: datetime
    procedure_ids: tuple[str, ...]
    room_id: str | None = None
    notes: str | None = None
    source: BookingSource | None = None
    """None: ``portal`` for a client, ``staff`` for anyone else."""
    context: RequestContext = NO_CONTEXT


BookingFailure = Forbidden | NotFound | InvalidInput | SlotTaken


@dataclass(frozen=True, slots=True)
class _Parsed:
    patient_id: PatientId
    professional_id: ProfessionalId
    unit_id: UnitId
    procedure_ids: tuple[ProcedureId, ...]
    room_id: RoomId | None
    notes: str | None


def _parse_booking(cmd: BookAppointmentCommand) -> Result[_Parsed, InvalidInput]:
    errors: list[FieldError] = []
    patient = _parse_id(cmd.patient_id, "patient_id", errors)
    professional = _parse_id(cmd.professional_id, "professional_id", errors)
    unit = _parse_id(cmd.unit_id, "unit_id", errors)
    room = _parse_id(cmd.room_id, "room_id", errors) if cmd.room_id is not None else None
    _aware(cmd.start, "start", errors)
    if not 1 <= len(cmd.procedure_ids) <= MAX_ITEMS:
        errors.append(FieldError("procedure_ids", "out_of_range", f"1 to {MAX_ITEMS} procedures"))
    procedures = [_parse_id(raw, f"procedure_ids.{i}", errors) for i, raw in enumerate(cmd.procedure_ids)]
    notes = _reason(cmd.notes, errors, "notes")
    if errors:
        return Failure(InvalidInput(tuple(errors)))
    return Success(
        _Parsed(
            patient_id=PatientId(patient),  # type: ignore[arg-type]
            professional_id=ProfessionalId(professional),  # type: ignore[arg-type]
            unit_id=UnitId(unit),  # type: ignore[arg-type]
            procedure_ids=tuple(ProcedureId(p) for p in procedures),  # type: ignore[arg-type]
            room_id=RoomId(room) if room is not None else None,  # type: ignore[arg-type]
            notes=notes,
        )
    )


def _snapshot(procedure: Procedure) -> AppointmentItem:
    return AppointmentItem(
        procedure_id=procedure.id,
        name=procedure.name,
        duration_minutes=procedure.duration_minutes,
        price=procedure.price,
        buffer_before_minutes=procedure.buffer_before_minutes,
        buffer_after_minutes=procedure.buffer_after_minutes,
    )


class BookAppointment:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: BookingPolicy | None = None) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy or BookingPolicy()

    async def __call__(self, cmd: BookAppointmentCommand) -> Result[Appointment, BookingFailure]:
        checked = self._precheck(cmd, notice=True)
        if isinstance(checked, Failure):
            return checked
        wanted, now = checked.unwrap()

        async def attempt() -> Result[Appointment, BookingFailure]:
            async with self._uow(scope_of(cmd.actor)) as uow:
                booked = await self._book(uow, cmd, wanted, now)
                if isinstance(booked, Success):
                    await uow.commit()
            return booked

        return await retrying(self._policy.attempts, attempt)

    async def within(
        self, uow: UnitOfWork, cmd: BookAppointmentCommand, *, notice: bool = True
    ) -> Result[Appointment, BookingFailure]:
        """Book inside a unit of work the caller opened (and commits): for a use case that books as part of
        a larger change, such as accepting a waitlist offer. ``notice=False`` waives the clients' minimum
        notice (the clinic itself offered the time), never the start being in the future."""
        checked = self._precheck(cmd, notice=notice)
        if isinstance(checked, Failure):
            return checked
        wanted, now = checked.unwrap()
        return await self._book(uow, cmd, wanted, now, notice=notice)

    def _precheck(
        self, cmd: BookAppointmentCommand, *, notice: bool
    ) -> Result[tuple[_Parsed, datetime], BookingFailure]:
        allowed = cmd.actor.authorize(Permission.APPOINTMENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        parsed = _parse_booking(cmd)
        if isinstance(parsed, Failure):
            return parsed
        now = self._clock.now()
        problem = _notice_problem(cmd.actor, cmd.start, now, self._policy)
        if problem is not None:
            return Failure(InvalidInput((problem,)))
        return Success((parsed.unwrap(), now))

    async def _book(
        self,
        uow: UnitOfWork,
        cmd: BookAppointmentCommand,
        wanted: _Parsed,
        now: datetime,
        *,
        notice: bool = True,
    ) -> Result[Appointment, BookingFailure]:
        actor = cmd.actor
        if is_client(actor):
            _, family = await family_of(uow, actor)
            patient = await uow.patients.get(wanted.patient_id) if wanted.patient_id in family else None
        else:
            patient = await visible_patient(uow, actor, wanted.patient_id)
        if patient is None:
            return Failure(NotFound("patient", str(wanted.patient_id)))
        if patient.status is not PatientStatus.ACTIVE:
            return Failure(InvalidInput.of("patient_id", "inactive_patient", "the patient is not active"))
        checked = await self._check_catalog(uow, actor, wanted)
        if isinstance(checked, Failure):
            return checked
        items, candidates = checked.unwrap()
        placed = layout(cmd.start, items)
        block = placed.block
        if is_client(actor):
            problem = await _client_rules_problem(
                uow,
                wanted.unit_id,
                wanted.professional_id,
                block,
                placed.start,
                placed.end,
                now,
                notice=notice,
            )
            if problem is not None:
                return Failure(InvalidInput((problem,)))
        await uow.appointment_locks.acquire(wanted.professional_id, candidates, wanted.patient_id)
        room_id, busy = await _find_conflicts(
            uow,
            block_start=block.start,
            block_end=block.end,
            professional_id=wanted.professional_id,
            room_candidates=candidates,
            patient_id=wanted.patient_id,
            excluding=None,
        )
        if busy:
            return Failure(SlotTaken(conflicts=busy))
        source = cmd.source or (BookingSource.PORTAL if is_client(actor) else BookingSource.STAFF)
        appointment = Appointment.book(
            tenant_id=actor.tenant_id,
            id=AppointmentId(new_uuid()),
            patient_id=wanted.patient_id,
            professional_id=wanted.professional_id,
            unit_id=wanted.unit_id,
            room_id=room_id,
            start=cmd.start,
            items=items,
            booked_by=by_of(actor),
            source=source,
            at=now,
            notes=wanted.notes,
        )
        try:
            await uow.appointments.add(appointment)
        except BlockTaken as violation:
            return Failure(_taken(violation, block.start, block.end))
        await record_on_timeline(uow, appointment, actor)
        return Success(appointment)

    async def _check_catalog(
        self, uow: UnitOfWork, actor: Actor, wanted: _Parsed
    ) -> Result[tuple[tuple[AppointmentItem, ...], list[RoomId]], InvalidInput]:
        """The item snapshots and the candidate rooms (the one asked for, or every active room of the type
        the procedures need; none when they need none)."""
        errors: list[FieldError] = []
        if not actor.sees_unit(wanted.unit_id) or not await uow.units.existing(frozenset({wanted.unit_id})):
            errors.append(FieldError("unit_id", "unknown_unit", "no such unit in this clinic"))
        professional = await uow.professionals.get(wanted.professional_id)
        if professional is None or not professional.active:
            errors.append(FieldError("professional_id", "unknown_professional", "no such professional"))
        elif wanted.unit_id not in professional.unit_ids:
            errors.append(
                FieldError("professional_id", "not_in_unit", "the professional does not work in this unit")
            )
        procedures = await uow.procedures.get_many(frozenset(wanted.procedure_ids))
        for i, procedure_id in enumerate(wanted.procedure_ids):
            procedure = procedures.get(procedure_id)
            if procedure is None or not procedure.active:
                errors.append(FieldError(f"procedure_ids.{i}", "unknown_procedure", "no such procedure"))
            elif professional is not None and procedure_id not in professional.procedure_ids:
                errors.append(
                    FieldError(f"procedure_ids.{i}", "not_performed", "the professional does not perform it")
                )
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        ordered = [procedures[p] for p in wanted.procedure_ids]
        if len({p.price.currency for p in ordered}) != 1:
            return Failure(
                InvalidInput.of(
                    "procedure_ids", "mixed_currencies", "the procedures' prices differ in currency"
                )
            )
        room_types = {p.room_type for p in ordered if p.room_type}
        if len(room_types) > 1:
            return Failure(
                InvalidInput.of(
                    "procedure_ids", "several_room_types", "the procedures need different kinds of room"
                )
            )
        needed = next(iter(room_types), None)
        candidates: list[Room] = []
        if wanted.room_id is not None:
            room = await uow.rooms.get(wanted.room_id)
            if room is None or not room.active or room.unit_id != wanted.unit_id:
                return Failure(InvalidInput.of("room_id", "unknown_room", "no such room in this unit"))
            if needed is not None and room.type != needed:
                return Failure(
                    InvalidInput.of(
                        "room_id", "wrong_room_type", f"the procedures need a room of type {needed}"
                    )
                )
            candidates = [room]
        elif needed is not None:
            candidates = await uow.rooms.list(wanted.unit_id, active=True, type=needed)
            if not candidates:
                return Failure(
                    InvalidInput.of("procedure_ids", "no_room", f"the unit has no room of type {needed}")
                )
        items = tuple(_snapshot(p) for p in ordered)
        return Success((items, sorted(r.id for r in candidates)))


# --- the lifecycle ------------------------------------------------------------------------------------


class Action(StrEnum):
    CONFIRM = "confirm"
    CHECK_IN = "check_in"
    START = "start"
    COMPLETE = "complete"
    NO_SHOW = "no_show"


_CLIENT_ACTIONS = frozenset({Action.CONFIRM, Action.CHECK_IN})
"""What a client may do to their own appointment: confirm it, and check in (a kiosk, or the portal)."""
_NEEDS = {
    Action.START: Permission.CLINICAL_WRITE,
    Action.COMPLETE: Permission.CLINICAL_WRITE,
    Action.NO_SHOW: Permission.PATIENTS_WRITE,
}
"""Starting and completing are the clinical staff's acts; marking a no-show, the front desk's."""


@dataclass(frozen=True, slots=True)
class ChangeStatusCommand:
    actor: Actor
    appointment_id: AppointmentId
    action: Action
    context: RequestContext = NO_CONTEXT


ChangeFailure = Forbidden | NotFound | InvalidTransition | TooEarly | StaleAppointment


class ChangeAppointmentStatus:
    """Confirm, check in, start, complete, or mark a no-show. A client may only confirm."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: ChangeStatusCommand) -> Result[Appointment, ChangeFailure]:
        actor = cmd.actor
        for needed in (Permission.APPOINTMENTS_WRITE, _NEEDS.get(cmd.action, Permission.APPOINTMENTS_WRITE)):
            allowed = actor.authorize(needed)
            if isinstance(allowed, Failure):
                return allowed
        now = self._clock.now()
        async with self._uow(scope_of(actor)) as uow:
            appointment = await visible_appointment(uow, actor, cmd.appointment_id)
            if appointment is None:
                return Failure(NotFound("appointment", str(cmd.appointment_id)))
            if is_client(actor) and cmd.action not in _CLIENT_ACTIONS:
                return Failure(
                    Forbidden(permission=_NEEDS.get(cmd.action, Permission.APPOINTMENTS_WRITE).value)
                )
            changed = await change_status(uow, appointment, cmd.action, by_of(actor), now, actor)
            if isinstance(changed, Failure):
                return changed
            await uow.commit()
        return Success(appointment)


async def change_status(
    uow: UnitOfWork,
    appointment: Appointment,
    action: Action,
    by: By,
    now: datetime,
    actor: Actor | None,
) -> Result[None, InvalidTransition | TooEarly | StaleAppointment]:
    """Apply ``action`` to ``appointment`` (its history entry and event), save it over the version it was
    read at, and update the patient's timeline, in the caller's unit of work. ``actor`` None: the system
    (a sweep), which no permission binds."""
    moved: Result[None, InvalidTransition] | Result[None, InvalidTransition | TooEarly]
    match action:
        case Action.CONFIRM:
            moved = appointment.confirm(by, now)
        case Action.CHECK_IN:
            moved = appointment.check_in(by, now)
        case Action.START:
            moved = appointment.begin(by, now)
        case Action.COMPLETE:
            moved = appointment.complete(by, now)
        case Action.NO_SHOW:
            moved = appointment.mark_no_show(by, now)
    if isinstance(moved, Failure):
        return moved
    if not await uow.appointments.save(appointment):
        return Failure(StaleAppointment())
    await record_on_timeline(uow, appointment, actor)
    return Success(None)


@dataclass(frozen=True, slots=True)
class CancelAppointmentCommand:
    actor: Actor
    appointment_id: AppointmentId
    reason: str | None = None
    context: RequestContext = NO_CONTEXT


class CancelAppointment:
    """Cancel (late inside the unit's cancellation window, from its booking rules) and offer the freed time to the waitlist, in one
    transaction."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: BookingPolicy | None = None) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy or BookingPolicy()

    async def __call__(
        self, cmd: CancelAppointmentCommand
    ) -> Result[Appointment, Forbidden | NotFound | InvalidInput | InvalidTransition | StaleAppointment]:
        from clinic_core.scheduling.waitlist import offer_freed_time

        actor = cmd.actor
        allowed = actor.authorize(Permission.APPOINTMENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        errors: list[FieldError] = []
        reason = _reason(cmd.reason, errors)
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        now = self._clock.now()
        async with self._uow(scope_of(actor)) as uow:
            appointment = await visible_appointment(uow, actor, cmd.appointment_id)
            if appointment is None:
                return Failure(NotFound("appointment", str(cmd.appointment_id)))
            rules = await uow.working_time.booking_rules(appointment.unit_id) or BookingRules()
            cancelled = appointment.cancel(by_of(actor), now, reason, window=rules.cancellation_window)
            if isinstance(cancelled, Failure):
                return cancelled
            if not await uow.appointments.save(appointment):
                return Failure(StaleAppointment())
            await record_on_timeline(uow, appointment, actor)
            if appointment.start > now:
                await offer_freed_time(uow, appointment, now, rules.waitlist_offer)
            await uow.commit()
        return Success(appointment)


@dataclass(frozen=True, slots=True)
class RescheduleCommand:
    actor: Actor
    appointment_id: AppointmentId
    start: datetime
    reason: str | None = None
    context: RequestContext = NO_CONTEXT


class RescheduleAppointment:
    """Move an appointment under the same locks and checks as a booking; the old time is offered to the
    waitlist."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: BookingPolicy | None = None) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy or BookingPolicy()

    async def __call__(
        self, cmd: RescheduleCommand
    ) -> Result[
        Appointment, Forbidden | NotFound | InvalidInput | InvalidTransition | SlotTaken | StaleAppointment
    ]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.APPOINTMENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        errors: list[FieldError] = []
        _aware(cmd.start, "start", errors)
        reason = _reason(cmd.reason, errors)
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        now = self._clock.now()
        problem = _notice_problem(actor, cmd.start, now, self._policy)
        if problem is not None:
            return Failure(InvalidInput((problem,)))
        return await retrying(self._policy.attempts, lambda: self._move(cmd, reason, now))

    async def _move(
        self, cmd: RescheduleCommand, reason: str | None, now: datetime
    ) -> Result[
        Appointment, Forbidden | NotFound | InvalidInput | InvalidTransition | SlotTaken | StaleAppointment
    ]:
        from clinic_core.scheduling.waitlist import offer_freed_time

        actor = cmd.actor
        async with self._uow(scope_of(actor)) as uow:
            appointment = await visible_appointment(uow, actor, cmd.appointment_id)
            if appointment is None:
                return Failure(NotFound("appointment", str(cmd.appointment_id)))
            rooms = [appointment.room_id] if appointment.room_id is not None else []
            await uow.appointment_locks.acquire(appointment.professional_id, rooms, appointment.patient_id)
            before = (appointment.start, appointment.end, appointment.block_start, appointment.block_end)
            moved = appointment.reschedule(cmd.start, by_of(actor), now, reason)
            if isinstance(moved, Failure):
                return moved
            _, busy = await _find_conflicts(
                uow,
                block_start=appointment.block_start,
                block_end=appointment.block_end,
                professional_id=appointment.professional_id,
                room_candidates=rooms,
                patient_id=appointment.patient_id,
                excluding=appointment.id,
            )
            if busy:
                return Failure(SlotTaken(conflicts=busy))
            try:
                saved = await uow.appointments.save(appointment)
            except BlockTaken as violation:
                return Failure(_taken(violation, appointment.block_start, appointment.block_end))
            if not saved:
                return Failure(StaleAppointment())
            await record_on_timeline(uow, appointment, actor)
            if before[0] > now:
                rules = await uow.working_time.booking_rules(appointment.unit_id) or BookingRules()
                await offer_freed_time(
                    uow, appointment, now, rules.waitlist_offer, freed=(before[0], before[1])
                )
            await uow.commit()
        return Success(appointment)
