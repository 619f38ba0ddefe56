"""A clinic for the sweep tests, over the in-memory adapters or a real database: one professional, one
procedure, a few patients, and helpers that book, move and cancel at a given time as the staff would."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.catalog.model import Procedure, Professional
from clinic_core.patients.model import Patient
from clinic_core.scheduling.appointments import Appointment, AppointmentId
from clinic_core.scheduling.booking import (
    Action,
    BookAppointment,
    BookAppointmentCommand,
    CancelAppointment,
    CancelAppointmentCommand,
    ChangeAppointmentStatus,
    ChangeStatusCommand,
    RescheduleAppointment,
    RescheduleCommand,
)
from clinic_core.scheduling.waitlist import JoinWaitlist, JoinWaitlistCommand
from clinic_core.scheduling.waitlist_model import EntryStatus, WaitlistEntry, WaitlistEntryId, WaitlistOffer
from clinic_core.shared.clock import FixedClock, SystemClock
from clinic_core.shared.ids import TenantId
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher, InMemoryUnitOfWorkFactory, a_person
from clinic_core.testing.catalog import a_procedure, a_professional
from clinic_infra.db.tables import outbox
from clinic_infra.db.unit_of_work import SqlUnitOfWork


@dataclass
class SweepClinic:
    uow: UnitOfWorkFactory
    tenant: TenantId
    actor: Actor
    unit_id: str
    professional: Professional
    procedure: Procedure
    patients: list[Patient]
    entry_ids: list[WaitlistEntryId] = field(default_factory=list)

    async def book(self, start: datetime, at: datetime, patient: int = 0) -> Appointment:
        return (
            await BookAppointment(self.uow, FixedClock(at))(
                BookAppointmentCommand(
                    actor=self.actor,
                    patient_id=str(self.patients[patient].id),
                    professional_id=str(self.professional.id),
                    unit_id=self.unit_id,
                    start=start,
                    procedure_ids=(str(self.procedure.id),),
                )
            )
        ).unwrap()

    async def confirm(self, appointment_id: AppointmentId, at: datetime) -> Appointment:
        change = ChangeAppointmentStatus(self.uow, FixedClock(at))
        return (await change(ChangeStatusCommand(self.actor, appointment_id, Action.CONFIRM))).unwrap()

    async def move(self, appointment_id: AppointmentId, start: datetime, at: datetime) -> Appointment:
        move = RescheduleAppointment(self.uow, FixedClock(at))
        return (await move(RescheduleCommand(self.actor, appointment_id, start))).unwrap()

    async def cancel(self, appointment_id: AppointmentId, at: datetime) -> Appointment:
        cancel = CancelAppointment(self.uow, FixedClock(at))
        return (await cancel(CancelAppointmentCommand(self.actor, appointment_id))).unwrap()

    async def join_waitlist(
        self, patient: int, at: datetime, earliest: datetime, latest: datetime
    ) -> WaitlistEntry:
        join = JoinWaitlist(self.uow, FixedClock(at))
        entry = (
            await join(
                JoinWaitlistCommand(
                    actor=self.actor,
                    patient_id=str(self.patients[patient].id),
                    procedure_id=str(self.procedure.id),
                    unit_id=self.unit_id,
                    earliest=earliest,
                    latest=latest,
                )
            )
        ).unwrap()
        self.entry_ids.append(entry.id)
        return entry

    async def waitlist(self) -> dict[WaitlistEntryId, tuple[EntryStatus, list[WaitlistOffer]]]:
        """Every entry's status and offers (newest first), open entries or not."""
        async with self.uow(Scope(tenant_id=self.tenant), read_only=True) as tx:
            entries = [await tx.waitlist.get_entry(e) for e in self.entry_ids]
            offers = await tx.waitlist.offers_of(frozenset(self.entry_ids))
        return {e.id: (e.status, [o for o in offers if o.entry_id == e.id]) for e in entries if e is not None}

    async def get(self, appointment_id: AppointmentId) -> Appointment:
        async with self.uow(Scope(tenant_id=self.tenant), read_only=True) as tx:
            found = await tx.appointments.get(appointment_id)
        assert found is not None
        return found

    async def outbox_ids(self) -> list[UUID]:
        """The ids of the tenant's outbox rows, oldest first."""
        if isinstance(self.uow, InMemoryUnitOfWorkFactory):
            return [r.id for r in self.uow.store.outbox if r.tenant_id == self.tenant]
        async with self.uow(Scope(tenant_id=self.tenant), read_only=True) as tx:
            assert isinstance(tx, SqlUnitOfWork)
            connection = await tx.connection()
            rows = await connection.execute(
                select(outbox.c.id).where(outbox.c.tenant_id == self.tenant).order_by(outbox.c.occurred_at)
            )
            return [UUID(str(r.id)) for r in rows]

    async def events(self, topic: str) -> list[dict[str, Any]]:
        """The payloads of the tenant's outbox rows of ``topic``, oldest first."""
        if isinstance(self.uow, InMemoryUnitOfWorkFactory):
            return [
                r.payload for r in self.uow.store.outbox if r.tenant_id == self.tenant and r.topic == topic
            ]
        async with self.uow(Scope(tenant_id=self.tenant), read_only=True) as tx:
            assert isinstance(tx, SqlUnitOfWork)
            connection = await tx.connection()
            rows = await connection.execute(
                text(
                    "SELECT payload FROM outbox WHERE tenant_id = :t AND topic = :topic ORDER BY occurred_at"
                ),
                {
                    "t": self.tenant if connection.dialect.name == "postgresql" else self.tenant.hex,
                    "topic": topic,
                },
            )
            return [row.payload if isinstance(row.payload, dict) else json.loads(row.payload) for row in rows]


async def a_sweep_clinic(
    uow: UnitOfWorkFactory, *, timezone: str = "America/Sao_Paulo", patients: int = 3
) -> SweepClinic:
    signed = (
        await SignUp(uow, FakePasswordHasher(), SystemClock())(
            SignUpCommand(
                tenant_name="Clínica Lembrete",
                unit_name="Centro",
                timezone=timezone,
                owner_name="Ana Souza",
                email=f"owner-{uuid.uuid4().hex[:10]}@example.com",
                password="correct horse battery staple",
            )
        )
    ).unwrap()
    tenant = signed.tenant.id
    procedure = a_procedure(tenant, "Consulta", minutes=30)
    professional = a_professional(
        tenant, signed.owner.id, procedure_ids=frozenset({procedure.id}), unit_ids=frozenset({signed.unit.id})
    )
    people = [a_person(tenant, f"Paciente {chr(65 + i)}") for i in range(patients)]
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.procedures.add(procedure)
        await tx.professionals.add(professional)
        for person in people:
            await tx.patients.add(person)
        await tx.commit()
    actor = Actor(
        user_id=signed.owner.id, tenant_id=tenant, roles=frozenset({Role.OWNER}), unit_ids=frozenset()
    )
    return SweepClinic(uow, tenant, actor, str(signed.unit.id), professional, procedure, people)
