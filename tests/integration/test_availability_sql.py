"""Availability over the real SQL adapters (PostgreSQL as the app role, and SQLite): an active appointment
takes its block (with its buffers) out of the professional's slots and, when it holds a room, out of the
room's; cancelling it gives the time back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from returns.result import Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.catalog.model import ProfessionalId, Room, RoomId
from clinic_core.scheduling.booking import (
    BookAppointment,
    BookAppointmentCommand,
    CancelAppointment,
    CancelAppointmentCommand,
)
from clinic_core.scheduling.working_time_use_cases import (
    AvailabilityRequest,
    GetAvailability,
    SetBookingRules,
    SetBookingRulesCommand,
    SetWeeklyHours,
    SetWeeklyHoursCommand,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_core.testing import a_person
from clinic_core.testing.catalog import a_procedure, a_professional
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up, unique_email

NOW = datetime(2031, 5, 5, 12, 0, tzinfo=UTC)
MONDAY = datetime(2031, 5, 12, 3, 0, tzinfo=UTC)  # local midnight in Sao Paulo (-03:00)
CLOCK = FixedClock(NOW)


def _local(hour: int, minute: int = 0) -> datetime:
    """That Monday at ``hour:minute`` in Sao Paulo, as UTC."""
    return MONDAY + timedelta(hours=hour, minutes=minute)


async def test_an_appointment_removes_its_slots_and_cancelling_gives_them_back(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    uow = sql_uow
    signed = await sign_up(uow, email=unique_email("avail"))
    tenant, unit = signed.tenant.id, signed.unit.id
    other_user = (await sign_up(uow, "Outra Clínica", unique_email("bea"))).owner.id
    # 45 minutes with 5 before and 10 after, in the unit's only laser room; two professionals perform it.
    procedure = a_procedure(
        tenant, minutes=45, buffer_before_minutes=5, buffer_after_minutes=10, room_type="laser_room"
    )
    ana = a_professional(
        tenant, signed.owner.id, procedure_ids=frozenset({procedure.id}), unit_ids=frozenset({unit})
    )
    bea = a_professional(
        tenant,
        other_user,
        "Dra. Bea Lima",
        procedure_ids=frozenset({procedure.id}),
        unit_ids=frozenset({unit}),
    )
    room = Room(
        tenant_id=tenant,
        id=RoomId(new_uuid()),
        unit_id=unit,
        name="Sala Laser",
        type="laser_room",
        active=True,
        created_at=NOW,
        updated_at=NOW,
    )
    patient = a_person(tenant, "Paciente Teste")
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.procedures.add(procedure)
        await tx.professionals.add(ana)
        await tx.professionals.add(bea)
        await tx.rooms.add(room)
        await tx.patients.add(patient)
        await tx.commit()
    actor = Actor(
        user_id=signed.owner.id, tenant_id=tenant, roles=frozenset({Role.OWNER}), unit_ids=frozenset()
    )
    week = {"monday": [("09:00", "17:00")]}
    for professional in (ana, bea):
        command = SetWeeklyHoursCommand(actor, professional.id, unit, week)
        assert isinstance(await SetWeeklyHours(uow, CLOCK)(command), Success)
    rules = SetBookingRulesCommand(actor, unit, 0, 60, 15)
    assert isinstance(await SetBookingRules(uow, CLOCK)(rules), Success)

    async def slots(professional: ProfessionalId = ana.id) -> list[datetime]:
        request = AvailabilityRequest(actor, unit, [procedure.id], MONDAY, MONDAY + timedelta(days=1))
        found = (await GetAvailability(uow, CLOCK)(request)).unwrap()
        return found.slots[professional]

    before = await slots()
    assert before[0] == _local(9)
    assert before[-1] == _local(16, 15)  # 45 minutes must end by 17:00
    assert len(before) == 30

    booked = await BookAppointment(uow, CLOCK)(
        BookAppointmentCommand(
            actor=actor,
            patient_id=str(patient.id),
            professional_id=str(ana.id),
            unit_id=str(unit),
            start=_local(11),
            procedure_ids=(str(procedure.id),),
        )
    )
    appointment = booked.unwrap()
    # Its block is 10:55-11:55 local (5 minutes before, 10 after); a new one's block is [t - 5, t + 55):
    # clear of it when t + 55 <= 10:55 (t <= 10:00) or t - 5 >= 11:55 (t >= 12:00).
    after = await slots()
    assert after == [t for t in before if t <= _local(10) or t >= _local(12)]
    assert len(before) - len(after) == 7
    # Bea has no appointment, but the only laser room is taken for that block: the same starts are gone.
    assert await slots(bea.id) == after

    cancelled = await CancelAppointment(uow, CLOCK)(
        CancelAppointmentCommand(actor=actor, appointment_id=appointment.id, reason="paciente desmarcou")
    )
    assert isinstance(cancelled, Success)
    assert await slots() == before
    assert await slots(bea.id) == before
