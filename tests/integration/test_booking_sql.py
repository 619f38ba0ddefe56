"""Booking over the real SQL adapters, PostgreSQL (as the app role) and SQLite: the race for one slot,
the exclusion constraints as a backstop, cancellation freeing time for the waitlist, rescheduling history,
and idempotency records."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Success
from sqlalchemy import text

from clinic_core.application.actor import Actor
from clinic_core.application.idempotency import IdempotencyRecord
from clinic_core.application.unit_of_work import Scope
from clinic_core.catalog.model import Procedure, Professional
from clinic_core.patients.model import Patient
from clinic_core.scheduling.appointments import (
    Appointment,
    AppointmentId,
    AppointmentStatus,
    BookingSource,
    By,
    Transition,
)
from clinic_core.scheduling.booking import (
    BookAppointment,
    BookAppointmentCommand,
    CancelAppointment,
    CancelAppointmentCommand,
    RescheduleAppointment,
    RescheduleCommand,
    SlotTaken,
)
from clinic_core.scheduling.booking_ports import BlockTaken
from clinic_core.scheduling.waitlist import JoinWaitlist, JoinWaitlistCommand
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_core.testing import a_person
from clinic_core.testing.catalog import a_procedure, a_professional
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up

NOW = datetime(2031, 5, 5, 12, 0, tzinfo=UTC)
SLOT = datetime(2031, 5, 12, 13, 0, tzinfo=UTC)


@dataclass
class Clinic:
    uow: SqlUnitOfWorkFactory
    actor: Actor
    unit_id: str
    professional: Professional
    procedure: Procedure
    patients: list[Patient]
    clock: FixedClock


async def a_clinic(uow: SqlUnitOfWorkFactory, patients: int = 2) -> Clinic:
    signed = await sign_up(uow)
    tenant = signed.tenant.id
    procedure = a_procedure(tenant, minutes=45, buffer_before_minutes=5, buffer_after_minutes=10)
    professional = a_professional(
        tenant, signed.owner.id, procedure_ids=frozenset({procedure.id}), unit_ids=frozenset({signed.unit.id})
    )
    people = [a_person(tenant, f"Paciente {chr(65 + i % 26)}{i}") for i in range(patients)]
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.procedures.add(procedure)
        await tx.professionals.add(professional)
        for person in people:
            await tx.patients.add(person)
        await tx.commit()
    actor = Actor(
        user_id=signed.owner.id, tenant_id=tenant, roles=frozenset({Role.OWNER}), unit_ids=frozenset()
    )
    return Clinic(uow, actor, str(signed.unit.id), professional, procedure, people, FixedClock(NOW))


def booking(clinic: Clinic, patient: Patient, start: datetime = SLOT) -> BookAppointmentCommand:
    return BookAppointmentCommand(
        actor=clinic.actor,
        patient_id=str(patient.id),
        professional_id=str(clinic.professional.id),
        unit_id=clinic.unit_id,
        start=start,
        procedure_ids=(str(clinic.procedure.id),),
    )


async def overlapping_active_pairs(uow: SqlUnitOfWorkFactory, tenant: TenantId) -> int:
    """Pairs of active appointments of one professional whose blocks overlap, counted by SQL."""
    async with uow(Scope(tenant_id=tenant), read_only=True) as tx:
        connection = await tx.connection()
        result = await connection.execute(
            text(
                "SELECT count(*) FROM appointments a JOIN appointments b"
                " ON a.tenant_id = b.tenant_id AND a.professional_id = b.professional_id AND a.id < b.id"
                " WHERE a.tenant_id = :t AND a.status IN ('pending', 'confirmed', 'checked_in', 'in_progress')"
                " AND b.status IN ('pending', 'confirmed', 'checked_in', 'in_progress')"
                " AND a.block_start < b.block_end AND b.block_start < a.block_end"
            ),
            {"t": tenant if connection.dialect.name == "postgresql" else tenant.hex},
        )
        return int(result.scalar_one())


@pytest.mark.parametrize("contenders", [30])
async def test_concurrent_bookings_of_one_slot_let_exactly_one_through(
    sql_uow: SqlUnitOfWorkFactory, contenders: int
) -> None:
    clinic = await a_clinic(sql_uow, patients=contenders)
    book = BookAppointment(sql_uow, clinic.clock)
    # Every contender a different patient, all for the same professional; half of them shifted by
    # 20 minutes, so that the overlap is partial (and through the buffers) rather than an exact repeat.
    commands = [
        booking(clinic, patient, SLOT + timedelta(minutes=20 * (i % 2)))
        for i, patient in enumerate(clinic.patients)
    ]
    results = await asyncio.gather(*(book(c) for c in commands))
    outcomes = Counter(type(r.failure()).__name__ if isinstance(r, Failure) else "booked" for r in results)
    assert outcomes == {"booked": 1, "SlotTaken": contenders - 1}
    for result in results:
        if isinstance(result, Failure):
            taken = result.failure()
            assert isinstance(taken, SlotTaken)
            assert taken.conflicts  # the conflicting interval is reported
    assert await overlapping_active_pairs(sql_uow, clinic.actor.tenant_id) == 0


async def test_a_conflict_reports_the_taken_interval(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await a_clinic(sql_uow)
    patient = clinic.patients[0]
    book = BookAppointment(sql_uow, clinic.clock)
    assert isinstance(await book(booking(clinic, patient)), Success)
    # Another time the same day: fine. The same time again: the patient (and professional) are busy.
    assert isinstance(await book(booking(clinic, patient, SLOT + timedelta(hours=2))), Success)
    again = await book(booking(clinic, clinic.patients[1], SLOT + timedelta(minutes=50)))
    assert isinstance(again, Failure)
    taken = again.failure()
    assert isinstance(taken, SlotTaken)
    # The existing block ends 10 minutes after the 45 minutes; the new one begins 5 minutes early.
    assert [(c.resource.value, c.start, c.end) for c in taken.conflicts] == [
        ("professional", SLOT - timedelta(minutes=5), SLOT + timedelta(minutes=55))
    ]


async def test_the_store_refuses_an_overlap_that_skipped_the_check(sql_uow: SqlUnitOfWorkFactory) -> None:
    """The exclusion constraint (PostgreSQL) and the fake's contract agree: a writer that skips the locks
    and the check still cannot store an overlap."""
    clinic = await a_clinic(sql_uow)
    book = BookAppointment(sql_uow, clinic.clock)
    first = (await book(booking(clinic, clinic.patients[0]))).unwrap()
    rogue = Appointment.book(
        tenant_id=clinic.actor.tenant_id,
        id=AppointmentId(new_uuid()),
        patient_id=clinic.patients[1].id,
        professional_id=clinic.professional.id,
        unit_id=first.unit_id,
        room_id=None,
        start=SLOT + timedelta(minutes=30),
        items=first.items,
        booked_by=By(user_id=clinic.actor.user_id),
        source=BookingSource.STAFF,
        at=NOW,
    )
    postgres = sql_uow.engine.dialect.name == "postgresql"
    async with sql_uow(Scope(tenant_id=clinic.actor.tenant_id)) as tx:
        if postgres:
            with pytest.raises(BlockTaken) as refused:
                await tx.appointments.add(rogue)
            assert refused.value.constraint == "ex_appointments_professional"
        else:  # SQLite has no exclusion constraints: the serialised check is its guard
            await tx.appointments.add(rogue)
        await tx.rollback()


async def test_cancelling_frees_the_time_and_offers_it_to_the_waitlist(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await a_clinic(sql_uow, patients=3)
    book = BookAppointment(sql_uow, clinic.clock)
    booked = (await book(booking(clinic, clinic.patients[0]))).unwrap()
    waiting = await JoinWaitlist(sql_uow, clinic.clock)(
        JoinWaitlistCommand(
            actor=clinic.actor,
            patient_id=str(clinic.patients[2].id),
            procedure_id=str(clinic.procedure.id),
            unit_id=clinic.unit_id,
            earliest=SLOT - timedelta(days=1),
            latest=SLOT + timedelta(days=1),
        )
    )
    assert isinstance(waiting, Success)
    assert isinstance(await book(booking(clinic, clinic.patients[1])), Failure)
    cancelled = await CancelAppointment(sql_uow, clinic.clock)(
        CancelAppointmentCommand(actor=clinic.actor, appointment_id=booked.id, reason="febre")
    )
    assert isinstance(cancelled, Success)
    assert cancelled.unwrap().cancellation is not None
    assert cancelled.unwrap().cancellation.late is False  # a week ahead
    async with sql_uow(Scope(tenant_id=clinic.actor.tenant_id), read_only=True) as tx:
        [entry] = await tx.waitlist.open_entries()
        [offer] = await tx.waitlist.offers_of(frozenset({entry.id}))
        stored = await tx.appointments.get(booked.id)
        connection = await tx.connection()
        topics = [
            r[0]
            for r in await connection.execute(
                text("SELECT topic FROM outbox WHERE tenant_id = :t ORDER BY occurred_at"),
                {
                    "t": clinic.actor.tenant_id
                    if sql_uow.engine.dialect.name == "postgresql"
                    else clinic.actor.tenant_id.hex
                },
            )
        ]
    assert offer.start == SLOT
    assert offer.expires_at == NOW + timedelta(hours=2)
    assert entry.status.value == "offered"
    assert stored is not None
    assert stored.status is AppointmentStatus.CANCELLED
    assert [h.transition for h in stored.history] == [Transition.CREATED, Transition.CANCELLED]
    assert {"appointment.created", "appointment.cancelled", "waitlist.offer_made"} <= set(topics)
    # The time is free again.
    assert isinstance(await book(booking(clinic, clinic.patients[1])), Success)


async def test_rescheduling_keeps_history_and_respects_the_same_rules(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await a_clinic(sql_uow, patients=2)
    book = BookAppointment(sql_uow, clinic.clock)
    first = (await book(booking(clinic, clinic.patients[0]))).unwrap()
    second = (await book(booking(clinic, clinic.patients[1], SLOT + timedelta(hours=3)))).unwrap()
    move = RescheduleAppointment(sql_uow, clinic.clock)
    onto_second = await move(RescheduleCommand(clinic.actor, first.id, SLOT + timedelta(hours=3, minutes=30)))
    assert isinstance(onto_second, Failure)
    assert isinstance(onto_second.failure(), SlotTaken)
    moved = await move(RescheduleCommand(clinic.actor, first.id, SLOT + timedelta(days=1), reason="trânsito"))
    assert isinstance(moved, Success)
    # Moving within its own old time is no conflict with itself.
    nudged = await move(RescheduleCommand(clinic.actor, second.id, SLOT + timedelta(hours=3, minutes=15)))
    assert isinstance(nudged, Success)
    async with sql_uow(Scope(tenant_id=clinic.actor.tenant_id), read_only=True) as tx:
        stored = await tx.appointments.get(first.id)
    assert stored is not None
    assert stored.start == SLOT + timedelta(days=1)
    assert stored.version == 2
    [created, rescheduled] = stored.history
    assert created.transition is Transition.CREATED
    assert (rescheduled.from_start, rescheduled.to_start, rescheduled.reason) == (
        SLOT,
        SLOT + timedelta(days=1),
        "trânsito",
    )


async def test_another_tenant_sees_no_appointment(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await a_clinic(sql_uow)
    booked = (await BookAppointment(sql_uow, clinic.clock)(booking(clinic, clinic.patients[0]))).unwrap()
    other = await sign_up(sql_uow, tenant_name="Outra Clínica")
    async with sql_uow(Scope(tenant_id=other.tenant.id), read_only=True) as tx:
        assert await tx.appointments.get(booked.id) is None
        assert (
            await tx.appointments.busy(
                frozenset({clinic.professional.id}), SLOT - timedelta(days=1), SLOT + timedelta(days=1)
            )
            == []
        )


async def test_idempotency_records_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    signed = await sign_up(sql_uow)
    tenant = signed.tenant.id
    record = IdempotencyRecord(
        tenant_id=tenant,
        key="k-1",
        request_hash="a" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=24),
    )
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        await tx.idempotency_keys.claim(record)
        await tx.commit()
    from clinic_core.application.unit_of_work import UniqueViolation

    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        with pytest.raises(UniqueViolation) as taken:
            await tx.idempotency_keys.claim(record)
        assert taken.value.constraint == "pk_idempotency_keys"
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        await tx.idempotency_keys.complete("k-1", 201, '{"id": 1}')
        await tx.commit()
    async with sql_uow(Scope(tenant_id=tenant), read_only=True) as tx:
        stored = await tx.idempotency_keys.get("k-1")
    assert stored is not None
    assert (stored.status, stored.body) == (201, '{"id": 1}')
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        assert await tx.idempotency_keys.purge_expired(NOW + timedelta(hours=25)) == 1
        await tx.commit()
