"""Ports of booking: appointments, the locks that serialise bookings, and what a lost race looks like.

Booking is race-free by two layers, both behind these ports so that the core stays free of any database:

1. ``AppointmentLocks.acquire(professional, room, patient)`` serialises the transactions that book or move
   time for the same professional, room or patient (PostgreSQL: transaction-scoped advisory locks taken in
   that fixed order; SQLite: its single writer, taken at ``BEGIN IMMEDIATE``). After it, the overlap check
   sees every committed booking of its contenders.
2. The store refuses an active appointment whose block overlaps another's for the same professional, room
   or patient (PostgreSQL: ``EXCLUDE USING gist`` constraints) and raises :class:`BlockTaken`: the backstop
   should a writer ever skip the locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import (
    Appointment,
    AppointmentId,
    AppointmentStatus,
    ProfessionalId,
    RoomId,
)
from clinic_core.shared.ids import UnitId


class BlockTaken(Exception):
    """The store refused an appointment whose block overlaps an active one (an exclusion constraint)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


class TransientConflict(Exception):
    """The database gave up a transaction to break a deadlock or a serialisation conflict: run it again."""


@dataclass(frozen=True, slots=True)
class AppointmentQuery:
    """Every filter given must match. Appointments whose *start* is in ``[starts_from, starts_before)``,
    ordered by start then id."""

    professional_ids: frozenset[ProfessionalId] | None = None
    unit_ids: frozenset[UnitId] | None = None
    patient_ids: frozenset[PatientId] | None = None
    statuses: frozenset[AppointmentStatus] | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    after: tuple[datetime, AppointmentId] | None = None
    """Continue after this (start, id): the keyset of the previous page."""
    limit: int = 100


class AppointmentRepository(Protocol):
    """The scope's tenant's appointments, with their items and history."""

    async def add(self, appointment: Appointment) -> None:
        """Insert it with its items and history. Raises :class:`BlockTaken` when its block overlaps an
        active appointment of the same professional, room or patient."""
        ...

    async def get(self, appointment_id: AppointmentId) -> Appointment | None: ...

    async def save(self, appointment: Appointment) -> bool:
        """Write the status, times, cancellation and the history entries added since it was read, over the
        version it was read at, and bump the version. False when the stored version moved (a concurrent
        change won); raises :class:`BlockTaken` like ``add`` when a move overlaps."""
        ...

    async def overlapping(
        self,
        *,
        block_start: datetime,
        block_end: datetime,
        professional_id: ProfessionalId,
        room_id: RoomId | None,
        patient_id: PatientId,
        excluding: AppointmentId | None = None,
    ) -> list[Appointment]:
        """The active appointments whose block overlaps ``[block_start, block_end)`` and that share the
        professional, the room or the patient, ordered by block start."""
        ...

    async def search(self, query: AppointmentQuery) -> list[Appointment]: ...

    async def busy(
        self, professional_ids: frozenset[ProfessionalId], starts_from: datetime, starts_before: datetime
    ) -> list[Appointment]:
        """The active appointments of these professionals whose block meets ``[starts_from, starts_before)``
        (what availability subtracts)."""
        ...


class AppointmentLocks(Protocol):
    async def acquire(
        self, professional_id: ProfessionalId, room_ids: Sequence[RoomId], patient_id: PatientId
    ) -> None:
        """Hold, until the transaction ends, the booking locks of this professional, these rooms (in id
        order) and this patient, taken in that order: one fixed order, so that two bookings never wait on
        each other in a cycle."""
        ...
