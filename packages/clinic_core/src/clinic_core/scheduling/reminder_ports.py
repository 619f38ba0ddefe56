"""What the reminder sweep reads and writes: appointments whose reminder is due, and the ledger of reminders
queued (the use case is ``clinic_core.scheduling.reminders``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from clinic_core.catalog.model import ProfessionalId
from clinic_core.clinical.model import AppointmentId
from clinic_core.patients.model import PatientId
from clinic_core.scheduling.reminder_events import ReminderKind
from clinic_core.shared.ids import UnitId


@dataclass(frozen=True, slots=True)
class ReminderCandidate:
    """A pending or confirmed appointment, as much of it as a reminder needs."""

    appointment_id: AppointmentId
    patient_id: PatientId
    professional_id: ProfessionalId
    unit_id: UnitId
    start: datetime
    scheduled_at: datetime
    """When the appointment was given ``start``: booked, or last moved there."""


class AppointmentReminders(Protocol):
    """The scope's tenant's ledger of reminders queued, one per (appointment, kind, start)."""

    async def unsent(
        self,
        kind: ReminderKind,
        *,
        starts_after: datetime,
        starts_until: datetime,
        after: tuple[datetime, AppointmentId] | None = None,
        limit: int = 200,
    ) -> list[ReminderCandidate]:
        """Pending or confirmed appointments starting in ``(starts_after, starts_until]`` with no reminder of
        ``kind`` queued for the start they have now, ordered by (start, id), after the keyset ``after``."""
        ...

    async def mark_queued(self, candidate: ReminderCandidate, kind: ReminderKind, at: datetime) -> bool:
        """Record the reminder of ``kind`` for the candidate's appointment and start as queued. False when it
        was recorded already (a concurrent sweep got there first: it records the event, not this one)."""
        ...
