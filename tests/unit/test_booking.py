"""The booking use cases on the in-memory adapters: who may book for whom, catalog checks, rooms, the
patient's own overlaps, the lock order, notice rules, the waitlist and the views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.catalog.model import Procedure, Professional, Room
from clinic_core.patients.model import GuardianLink, GuardianRole, Patient, PatientStatus
from clinic_core.scheduling.appointments import AppointmentStatus
from clinic_core.scheduling.availability import BookingRules
from clinic_core.scheduling.booking import (
    Action,
    BookAppointment,
    BookAppointmentCommand,
    CancelAppointment,
    CancelAppointmentCommand,
    ChangeAppointmentStatus,
    ChangeStatusCommand,
    Resource,
    SlotTaken,
)
from clinic_core.scheduling.views import AppointmentFilter, ListAppointments, UnitCalendar
from clinic_core.scheduling.waitlist import (
    AnswerOffer,
    AnswerOfferCommand,
    JoinWaitlist,
    JoinWaitlistCommand,
)
from clinic_core.scheduling.waitlist_model import OfferClosed
from clinic_core.scheduling.working_time import ClockSpan, Weekday, WeeklySchedule
from clinic_core.scheduling.working_time_ports import WeeklyHours
from clinic_core.scheduling.working_time_use_cases import AvailabilityRequest, GetAvailability
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Slug, TimeZone
from clinic_core.tenancy.model import Plan, Tenant, TenantStatus, Unit
from clinic_core.tenancy.permissions import Role
from clinic_core.testing import InMemoryUnitOfWorkFactory, a_person
from clinic_core.testing.catalog import a_procedure, a_professional, a_room

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SLOT = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    tenant: TenantId
    unit: Unit
    owner: Actor
    procedure: Procedure
    laser: Procedure
    professional: Professional
    other_professional: Professional
    rooms: list[Room]
    patients: list[Patient]

    def book(self) -> BookAppointment:
        return BookAppointment(self.uow, self.clock)

    def command(
        self, patient: Patient, actor: Actor | None = None, **changes: object
    ) -> BookAppointmentCommand:
        values: dict[str, object] = {
            "actor": actor or self.owner,
            "patient_id": str(patient.id),
            "professional_id": str(self.professional.id),
            "unit_id": str(self.unit.id),
            "start": SLOT,
            "procedure_ids": (str(self.procedure.id),),
        }
        return BookAppointmentCommand(**(values | changes))  # type: ignore[arg-type]


async def a_world() -> World:
    uow = InMemoryUnitOfWorkFactory()
    tenant = TenantId(new_uuid())
    unit = Unit(
        tenant_id=tenant,
        id=UnitId(new_uuid()),
        name="Centro",
        timezone=TimeZone("America/Sao_Paulo"),
        created_at=NOW,
    )
    procedure = a_procedure(tenant, "Consulta", minutes=30, buffer_after_minutes=10)
    laser = a_procedure(tenant, "Laser", minutes=20, room_type="laser_room")
    professional = a_professional(
        tenant,
        UserId(new_uuid()),
        procedure_ids=frozenset({procedure.id, laser.id}),
        unit_ids=frozenset({unit.id}),
    )
    other = a_professional(
        tenant,
        UserId(new_uuid()),
        "Dr. Outro",
        procedure_ids=frozenset({procedure.id}),
        unit_ids=frozenset({unit.id}),
    )
    rooms = [a_room(tenant, unit.id, f"Laser {n}", "laser_room") for n in (1, 2)]
    patients = [a_person(tenant, f"Paciente {c}") for c in "ABCD"]
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.tenants.add(
            Tenant(
                id=tenant,
                slug=Slug("clinica-x"),
                name="Clínica",
                plan=Plan.CLINIC,
                status=TenantStatus.ACTIVE,
                created_at=NOW,
            )
        )
        await tx.units.add(unit)
        for thing in (procedure, laser):
            await tx.procedures.add(thing)
        for person in (professional, other):
            await tx.professionals.add(person)
        for room in rooms:
            await tx.rooms.add(room)
        for patient in patients:
            await tx.patients.add(patient)
        await tx.commit()
    owner = Actor(
        user_id=UserId(new_uuid()), tenant_id=tenant, roles=frozenset({Role.OWNER}), unit_ids=frozenset()
    )
    return World(
        uow, FixedClock(NOW), tenant, unit, owner, procedure, laser, professional, other, rooms, patients
    )


async def works_weekdays_8_to_18(w: World) -> None:
    """The professional's weekly hours at the unit: Monday to Friday, 08:00 to 18:00 local time."""
    week = WeeklySchedule({Weekday(d): (ClockSpan(8 * 60, 18 * 60),) for d in range(5)})
    async with w.uow(Scope(tenant_id=w.tenant)) as tx:
        await tx.working_time.save_week(WeeklyHours(w.tenant, w.professional.id, w.unit.id, week, NOW))
        await tx.commit()


async def test_availability_no_longer_offers_a_booked_time() -> None:
    w = await a_world()
    await works_weekdays_8_to_18(w)
    available = GetAvailability(w.uow, w.clock)
    request = AvailabilityRequest(
        w.owner,
        w.unit.id,
        [w.procedure.id],
        SLOT - timedelta(hours=1),
        SLOT + timedelta(hours=2),
        w.professional.id,
    )
    before = (await available(request)).unwrap().slots[w.professional.id]
    assert SLOT in before
    await w.book()(w.command(w.patients[0]))
    after = (await available(request)).unwrap().slots[w.professional.id]
    # Taken: every start whose block (30 min and 10 min of buffer after) meets 13:00 to 13:40.
    assert [s for s in before if s not in after] == [
        s for s in before if SLOT - timedelta(minutes=40) < s < SLOT + timedelta(minutes=40)
    ]
    assert SLOT not in after


async def test_the_same_patient_cannot_be_with_two_professionals_at_once() -> None:
    w = await a_world()
    assert isinstance(await w.book()(w.command(w.patients[0])), Success)
    clash = await w.book()(
        w.command(
            w.patients[0], professional_id=str(w.other_professional.id), start=SLOT + timedelta(minutes=15)
        )
    )
    assert isinstance(clash, Failure)
    taken = clash.failure()
    assert isinstance(taken, SlotTaken)
    assert [c.resource for c in taken.conflicts] == [Resource.PATIENT]


async def test_the_buffer_after_holds_the_professional() -> None:
    w = await a_world()
    await w.book()(w.command(w.patients[0]))
    during_cleanup = await w.book()(w.command(w.patients[1], start=SLOT + timedelta(minutes=35)))
    assert isinstance(during_cleanup, Failure)
    right_after = await w.book()(w.command(w.patients[1], start=SLOT + timedelta(minutes=40)))
    assert isinstance(right_after, Success)


async def test_a_room_of_the_needed_type_is_assigned_and_locked_in_order() -> None:
    w = await a_world()
    laser = (str(w.laser.id),)
    first = (await w.book()(w.command(w.patients[0], procedure_ids=laser))).unwrap()
    second = (
        await w.book()(
            w.command(
                w.patients[1],
                professional_id=str(w.professional.id),
                start=SLOT + timedelta(hours=1),
                procedure_ids=laser,
            )
        )
    ).unwrap()
    assert (
        first.room_id == second.room_id == min(r.id for r in w.rooms)
    )  # not at the same time: the same room
    # The lock order: professional, rooms by id, patient.
    async with w.uow(Scope(tenant_id=w.tenant), read_only=True) as tx:
        locks = tx.appointment_locks.calls
    assert locks[0] == (w.professional.id, tuple(sorted(r.id for r in w.rooms)), w.patients[0].id)


async def test_catalog_checks_are_reported_per_field() -> None:
    w = await a_world()
    refused = await w.book()(
        w.command(
            w.patients[0],
            professional_id=str(w.other_professional.id),
            procedure_ids=(str(w.laser.id), str(new_uuid()), "nope"),
        )
    )
    assert isinstance(refused, Failure)
    failure = refused.failure()
    assert isinstance(failure, InvalidInput)
    assert {(e.field, e.code) for e in failure.errors} == {("procedure_ids.2", "invalid_id")}
    refused = await w.book()(
        w.command(
            w.patients[0],
            professional_id=str(w.other_professional.id),
            procedure_ids=(str(w.laser.id), str(new_uuid())),
        )
    )
    failure = refused.failure()
    assert isinstance(failure, InvalidInput)
    assert {(e.field, e.code) for e in failure.errors} == {
        ("procedure_ids.0", "not_performed"),
        ("procedure_ids.1", "unknown_procedure"),
    }
    naive = await w.book()(w.command(w.patients[0], start=SLOT.replace(tzinfo=None)))
    assert isinstance(naive.failure(), InvalidInput)
    past = await w.book()(w.command(w.patients[0], start=NOW - timedelta(hours=1)))
    assert [e.code for e in past.failure().errors] == ["in_the_past"]  # type: ignore[union-attr]


async def test_an_inactive_patient_is_not_booked() -> None:
    w = await a_world()
    async with w.uow(Scope(tenant_id=w.tenant)) as tx:
        patient = await tx.patients.get(w.patients[0].id)
        assert patient is not None
        patient.change(NOW, status=PatientStatus.INACTIVE)
        await tx.patients.save(patient)
        await tx.commit()
    refused = await w.book()(w.command(w.patients[0]))
    assert [e.code for e in refused.failure().errors] == ["inactive_patient"]  # type: ignore[union-attr]


async def test_a_client_books_for_themself_and_dependants_only_with_notice() -> None:
    w = await a_world()
    client_user = UserId(new_uuid())
    me, child, stranger = w.patients[0], w.patients[1], w.patients[2]
    async with w.uow(Scope(tenant_id=w.tenant)) as tx:
        mine = await tx.patients.get(me.id)
        assert mine is not None
        mine.user_id = client_user
        await tx.patients.save(mine)
        await tx.guardians.replace(
            child.id,
            [
                GuardianLink(
                    tenant_id=w.tenant,
                    patient_id=child.id,
                    guardian_id=me.id,
                    role=GuardianRole.LEGAL_GUARDIAN,
                    is_primary=True,
                    created_at=NOW,
                )
            ],
        )
        await tx.commit()
    client = Actor(
        user_id=client_user, tenant_id=w.tenant, roles=frozenset({Role.CLIENT}), unit_ids=frozenset()
    )
    outside = await w.book()(w.command(me, client))
    assert [e.code for e in outside.failure().errors] == ["outside_working_hours"]  # type: ignore[union-attr]
    await works_weekdays_8_to_18(w)
    evening = await w.book()(w.command(me, client, start=SLOT + timedelta(hours=10)))  # 20:00 in São Paulo
    assert [e.code for e in evening.failure().errors] == ["outside_working_hours"]  # type: ignore[union-attr]
    own = await w.book()(w.command(me, client))
    assert own.unwrap().source.value == "portal"
    assert isinstance(await w.book()(w.command(child, client, start=SLOT + timedelta(hours=2))), Success)
    theirs = await w.book()(w.command(stranger, client, start=SLOT + timedelta(hours=4)))
    assert isinstance(theirs.failure(), NotFound)
    too_soon = await w.book()(w.command(me, client, start=NOW + timedelta(minutes=30)))
    assert [e.code for e in too_soon.failure().errors] == ["too_soon"]  # type: ignore[union-attr]
    too_far = await w.book()(w.command(me, client, start=NOW + timedelta(days=400)))
    assert [e.code for e in too_far.failure().errors] == ["too_far"]  # type: ignore[union-attr]
    # A client confirms and checks in, but does not start their own appointment.
    change = ChangeAppointmentStatus(w.uow, w.clock)
    appointment = own.unwrap()
    assert isinstance(await change(ChangeStatusCommand(client, appointment.id, Action.CONFIRM)), Success)
    started = await change(ChangeStatusCommand(client, appointment.id, Action.START))
    assert isinstance(started.failure(), Forbidden)
    # Listing: the client sees their family's appointments only.
    listed = (await ListAppointments(w.uow)(client, AppointmentFilter())).unwrap()
    assert {a.patient_id for a in listed} == {me.id, child.id}


async def test_cancelling_late_and_the_calendar_by_local_day() -> None:
    w = await a_world()
    booked = (await w.book()(w.command(w.patients[0]))).unwrap()
    w.clock.advance(SLOT - NOW - timedelta(hours=3))
    cancelled = await CancelAppointment(w.uow, w.clock)(
        CancelAppointmentCommand(w.owner, booked.id, "  gripe  forte ")
    )
    appointment = cancelled.unwrap()
    assert appointment.status is AppointmentStatus.CANCELLED
    assert appointment.cancellation is not None
    assert appointment.cancellation.late is True
    assert appointment.cancellation.reason == "gripe forte"
    # 13:00 UTC is 10:00 in São Paulo, on the 10th; 02:00 UTC on the 11th is still the 10th there.
    late_night = (
        await w.book()(w.command(w.patients[1], start=datetime(2026, 3, 11, 2, 0, tzinfo=UTC)))
    ).unwrap()
    calendar = (await UnitCalendar(w.uow, w.clock)(w.owner, w.unit.id, date(2026, 3, 10))).unwrap()
    assert [a.id for a in calendar.appointments] == [booked.id, late_night.id]
    assert calendar.timezone == "America/Sao_Paulo"


async def set_rules(w: World, **changes: int) -> BookingRules:
    values = {"min_notice_minutes": 60, "horizon_days": 90, "slot_step_minutes": 15} | changes
    rules = BookingRules.parse(**values).unwrap()
    async with w.uow(Scope(tenant_id=w.tenant)) as tx:
        await tx.working_time.save_booking_rules(w.unit.id, rules, NOW)
        await tx.commit()
    return rules


@pytest.mark.parametrize(("window_hours", "late"), [(None, False), (24, False), (48, True), (30, False)])
async def test_the_units_cancellation_window_decides_late(window_hours: int | None, late: bool) -> None:
    """Cancelled 30 h ahead: on time under the default 24 h window (unset, or set to 24), late under a
    48 h one; a 30 h window is a boundary: exactly 30 h ahead is not *less than* the window."""
    w = await a_world()
    if window_hours is not None:
        assert (await set_rules(w, cancellation_window_hours=window_hours)).cancellation_window == timedelta(
            hours=window_hours
        )
    booked = (await w.book()(w.command(w.patients[0]))).unwrap()
    w.clock.advance(SLOT - NOW - timedelta(hours=30))
    cancelled = (
        await CancelAppointment(w.uow, w.clock)(CancelAppointmentCommand(w.owner, booked.id))
    ).unwrap()
    assert cancelled.cancellation is not None
    assert cancelled.cancellation.late is late


@pytest.mark.parametrize("lifetime", [None, 30])
async def test_a_waitlist_offer_expires_after_the_units_lifetime(lifetime: int | None) -> None:
    w = await a_world()
    minutes = 120 if lifetime is None else lifetime
    if lifetime is not None:
        await set_rules(w, waitlist_offer_minutes=lifetime)
    booked = (await w.book()(w.command(w.patients[0]))).unwrap()
    entry = (
        await JoinWaitlist(w.uow, w.clock)(
            JoinWaitlistCommand(
                w.owner,
                str(w.patients[1].id),
                str(w.procedure.id),
                str(w.unit.id),
                earliest=SLOT - timedelta(days=1),
                latest=SLOT + timedelta(days=1),
            )
        )
    ).unwrap()
    w.clock.advance(timedelta(hours=1))
    cancelled_at = w.clock.now()
    assert isinstance(
        await CancelAppointment(w.uow, w.clock)(CancelAppointmentCommand(w.owner, booked.id)), Success
    )
    async with w.uow(Scope(tenant_id=w.tenant)) as tx:
        [offer] = await tx.waitlist.offers_of(frozenset({entry.id}))
    assert offer.expires_at == cancelled_at + timedelta(minutes=minutes)
    assert offer.is_open_at(cancelled_at + timedelta(minutes=minutes - 1))
    assert not offer.is_open_at(cancelled_at + timedelta(minutes=minutes))
    w.clock.advance(timedelta(minutes=minutes))
    answer = await AnswerOffer(w.uow, w.clock, w.book())(AnswerOfferCommand(w.owner, offer.id, accept=True))
    assert answer == Failure(OfferClosed())


def test_booking_rules_windows_are_validated_per_field() -> None:
    assert BookingRules() == BookingRules.parse(60, 90, 15, 24, 120).unwrap()
    assert BookingRules.parse(60, 90, 15, 0, 15).unwrap().cancellation_window == timedelta(0)
    assert BookingRules.parse(60, 90, 15, 336, 2880).unwrap().waitlist_offer_minutes == 2880
    for window, offer, fields in [
        (-1, 120, {"cancellation_window_hours"}),
        (337, 120, {"cancellation_window_hours"}),
        (24, 14, {"waitlist_offer_minutes"}),
        (24, 2881, {"waitlist_offer_minutes"}),
        (10**12, -(10**12), {"cancellation_window_hours", "waitlist_offer_minutes"}),
    ]:
        failure = BookingRules.parse(60, 90, 15, window, offer).failure()
        assert isinstance(failure, InvalidInput)
        assert {e.field for e in failure.errors} == fields
        assert {e.code for e in failure.errors} == {"out_of_range"}
    with pytest.raises(ValueError, match="cancellation_window_hours"):
        BookingRules(cancellation_window=timedelta(days=15))


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.MANAGER])
async def test_starting_needs_clinical_write(role: Role) -> None:
    w = await a_world()
    booked = (await w.book()(w.command(w.patients[0]))).unwrap()
    desk = Actor(
        user_id=UserId(new_uuid()), tenant_id=w.tenant, roles=frozenset({role}), unit_ids=frozenset()
    )
    change = ChangeAppointmentStatus(w.uow, w.clock)
    assert isinstance(await change(ChangeStatusCommand(desk, booked.id, Action.CHECK_IN)), Success)
    refused = await change(ChangeStatusCommand(desk, booked.id, Action.START))
    assert isinstance(refused.failure(), Forbidden)
