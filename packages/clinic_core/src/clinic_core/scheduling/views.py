"""Reading appointments: one, a filtered list, a professional's agenda, a unit's calendar, a patient's
appointments (a read of the patient's record, written to the access log), and the clinic's dashboard.

Days are the unit's local days: "the 10th of March" in a unit in America/Sao_Paulo is from 00:00 to 24:00
there, whatever UTC says, and a day when the clocks change is 23 or 25 hours long.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import UnitOfWork, UnitOfWorkFactory
from clinic_core.patients.guardians import family_of
from clinic_core.patients.model import AccessAction, PatientId
from clinic_core.patients.use_cases import log_access, scope_of, visible_patient
from clinic_core.scheduling.appointments import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentId,
    AppointmentStatus,
    ProfessionalId,
)
from clinic_core.scheduling.booking import is_client, visible_appointment
from clinic_core.scheduling.booking_ports import AppointmentQuery
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import FieldError, Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import UnitId
from clinic_core.tenancy.permissions import Permission

MAX_LIST = 500
MAX_RANGE = timedelta(days=62)
NO_SHOW_WINDOW = timedelta(days=30)


def local_window(day: date, days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``days`` local days from ``day`` as UTC instants (a DST day is 23 or 25 hours)."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=days), time(0), zone)
    return start, end


async def _unit_zone(uow: UnitOfWork, unit_id: UnitId) -> ZoneInfo | None:
    unit = await uow.units.get(unit_id)
    return unit.timezone.zone if unit is not None else None


class GetAppointment:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, appointment_id: AppointmentId
    ) -> Result[Appointment, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            appointment = await visible_appointment(uow, actor, appointment_id)
        if appointment is None:
            return Failure(NotFound("appointment", str(appointment_id)))
        return Success(appointment)


@dataclass(frozen=True, slots=True)
class AppointmentFilter:
    professional_id: ProfessionalId | None = None
    unit_id: UnitId | None = None
    patient_id: PatientId | None = None
    statuses: frozenset[AppointmentStatus] | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    limit: int = 100
    after: tuple[datetime, AppointmentId] | None = None


def check_range(starts_from: datetime | None, starts_before: datetime | None) -> list[FieldError]:
    errors = []
    for name, at in (("from", starts_from), ("to", starts_before)):
        if at is not None and at.utcoffset() is None:
            errors.append(FieldError(name, "naive_datetime", "give the time with its UTC offset"))
    if not errors and starts_from is not None and starts_before is not None:
        if starts_before <= starts_from:
            errors.append(FieldError("to", "out_of_range", "to comes after from"))
        elif starts_before - starts_from > MAX_RANGE:
            errors.append(FieldError("to", "out_of_range", f"at most {MAX_RANGE.days} days at a time"))
    return errors


class ListAppointments:
    """The appointments the actor sees, by start time: staff, of their units; a client, of their family."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, where: AppointmentFilter
    ) -> Result[list[Appointment], Forbidden | InvalidInput]:
        allowed = actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        errors = check_range(where.starts_from, where.starts_before)
        if not 1 <= where.limit <= MAX_LIST:
            errors.append(FieldError("limit", "out_of_range", f"1 to {MAX_LIST}"))
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        async with self._uow(scope_of(actor), read_only=True) as uow:
            patients = frozenset({where.patient_id}) if where.patient_id is not None else None
            if is_client(actor):
                _, family = await family_of(uow, actor)
                patients = family & patients if patients is not None else family
            units = actor.unit_filter
            if where.unit_id is not None:
                units = (
                    frozenset({where.unit_id}) & units if units is not None else frozenset({where.unit_id})
                )
            found = await uow.appointments.search(
                AppointmentQuery(
                    professional_ids=frozenset({where.professional_id}) if where.professional_id else None,
                    unit_ids=units,
                    patient_ids=patients,
                    statuses=where.statuses,
                    starts_from=where.starts_from,
                    starts_before=where.starts_before,
                    after=where.after,
                    limit=where.limit,
                )
            )
        return Success(found)


@dataclass(frozen=True, slots=True)
class Agenda:
    professional_id: ProfessionalId | None
    unit_id: UnitId | None
    timezone: str
    starts_from: datetime
    starts_before: datetime
    appointments: list[Appointment]


class ProfessionalAgenda:
    """A professional's appointments over 1 or 7 local days of their (first, or given) unit, from today
    there when no day is given."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self,
        actor: Actor,
        professional_id: ProfessionalId,
        day: date | None,
        days: int,
        unit_id: UnitId | None = None,
    ) -> Result[Agenda, Forbidden | NotFound | InvalidInput]:
        allowed = actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        staff = actor.authorize(Permission.PATIENTS_READ)  # the clinic's view: staff only
        if isinstance(staff, Failure):
            return staff
        if days not in (1, 7):
            return Failure(InvalidInput.of("days", "invalid_choice", "1 or 7"))
        async with self._uow(scope_of(actor), read_only=True) as uow:
            professional = await uow.professionals.get(professional_id)
            if professional is None:
                return Failure(NotFound("professional", str(professional_id)))
            units = sorted(u for u in professional.unit_ids if actor.sees_unit(u))
            home = unit_id if unit_id is not None else (units[0] if units else None)
            zone = await _unit_zone(uow, home) if home is not None else None
            if home is not None and (zone is None or not actor.sees_unit(home)):
                return Failure(InvalidInput.of("unit_id", "unknown_unit", "no such unit in this clinic"))
            zone = zone or ZoneInfo("UTC")
            start, end = local_window(day or self._clock.now().astimezone(zone).date(), days, zone)
            found = await uow.appointments.search(
                AppointmentQuery(
                    professional_ids=frozenset({professional_id}),
                    unit_ids=actor.unit_filter,
                    starts_from=start,
                    starts_before=end,
                    limit=MAX_LIST,
                )
            )
        return Success(Agenda(professional_id, home, str(zone), start, end, found))


class UnitCalendar:
    """A unit's appointments on one local day (today there when none is given), every professional."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, unit_id: UnitId, day: date | None
    ) -> Result[Agenda, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        staff = actor.authorize(Permission.PATIENTS_READ)  # the clinic's view: staff only
        if isinstance(staff, Failure):
            return staff
        async with self._uow(scope_of(actor), read_only=True) as uow:
            zone = await _unit_zone(uow, unit_id) if actor.sees_unit(unit_id) else None
            if zone is None:
                return Failure(NotFound("unit", str(unit_id)))
            start, end = local_window(day or self._clock.now().astimezone(zone).date(), 1, zone)
            found = await uow.appointments.search(
                AppointmentQuery(
                    unit_ids=frozenset({unit_id}), starts_from=start, starts_before=end, limit=MAX_LIST
                )
            )
        return Success(Agenda(None, unit_id, str(zone), start, end, found))


class PatientAppointments:
    """A patient's appointments, newest window first: a read of the patient's record (access log)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, patient_id: PatientId, context: RequestContext = NO_CONTEXT
    ) -> Result[list[Appointment], Forbidden | NotFound]:
        allowed = actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            if is_client(actor):
                _, family = await family_of(uow, actor)
                known = patient_id in family
            else:
                known = await visible_patient(uow, actor, patient_id) is not None
            if not known:
                return Failure(NotFound("patient", str(patient_id)))
            found = await uow.appointments.search(
                AppointmentQuery(
                    patient_ids=frozenset({patient_id}),
                    unit_ids=None if is_client(actor) else actor.unit_filter,
                    limit=MAX_LIST,
                )
            )
            await log_access(uow, actor, context, [patient_id], AccessAction.APPOINTMENTS, self._clock.now())
            await uow.commit()
        return Success(found)


@dataclass(frozen=True, slots=True)
class Occupancy:
    professional_id: ProfessionalId
    appointments: int
    booked_minutes: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    unit_id: UnitId
    timezone: str
    day: date
    today: list[Appointment]
    awaiting_confirmation: int
    """Pending appointments from now on."""
    no_show_rate: float | None
    """No-shows over the appointments that were due in the last 30 days (completed or no-show); None
    when there were none."""
    occupancy: list[Occupancy]
    """Today's active and completed appointments per professional, and the minutes they book."""


class ClinicDashboard:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor, unit_id: UnitId) -> Result[Dashboard, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        staff = actor.authorize(Permission.PATIENTS_READ)  # the clinic's view: staff only
        if isinstance(staff, Failure):
            return staff
        now = self._clock.now()
        async with self._uow(scope_of(actor), read_only=True) as uow:
            zone = await _unit_zone(uow, unit_id) if actor.sees_unit(unit_id) else None
            if zone is None:
                return Failure(NotFound("unit", str(unit_id)))
            day = now.astimezone(zone).date()
            start, end = local_window(day, 1, zone)
            units = frozenset({unit_id})
            today = await uow.appointments.search(
                AppointmentQuery(unit_ids=units, starts_from=start, starts_before=end, limit=MAX_LIST)
            )
            pending = await uow.appointments.search(
                AppointmentQuery(
                    unit_ids=units,
                    statuses=frozenset({AppointmentStatus.PENDING}),
                    starts_from=now,
                    starts_before=now + MAX_RANGE,
                    limit=MAX_LIST,
                )
            )
            due = await uow.appointments.search(
                AppointmentQuery(
                    unit_ids=units,
                    statuses=frozenset({AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW}),
                    starts_from=now - NO_SHOW_WINDOW,
                    starts_before=now,
                    limit=10_000,
                )
            )
        shows = Counter(a.status for a in due)
        total = shows[AppointmentStatus.COMPLETED] + shows[AppointmentStatus.NO_SHOW]
        rate = round(shows[AppointmentStatus.NO_SHOW] / total, 4) if total else None
        per: dict[ProfessionalId, list[Appointment]] = defaultdict(list)
        for a in today:
            if a.status in ACTIVE_STATUSES or a.status is AppointmentStatus.COMPLETED:
                per[a.professional_id].append(a)
        occupancy = [
            Occupancy(p, len(items), sum(a.duration_minutes for a in items))
            for p, items in sorted(per.items())
        ]
        return Success(Dashboard(unit_id, str(zone), day, today, len(pending), rate, occupancy))
