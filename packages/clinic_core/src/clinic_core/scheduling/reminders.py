"""Appointment reminders: a 24-hour and a 2-hour one, queued by a recurring sweep.

A reminder of kind K falls due at ``start - K`` (absolute hours: across a daylight-saving change the local
clock time of the reminder differs from the appointment's). It is worth sending only until the next one
takes over: the 24-hour one until ``start - 2 h``, the 2-hour one until ``start``. A sweep that runs late
(the worker was down) still queues what is useful, and never what is stale.

An appointment booked (or moved) after a reminder fell due gets no such reminder: the confirmation of the
booking or the move tells the patient already. A cancelled appointment gets none; a moved one gets its own
for the new start, since the ledger is keyed by (appointment, kind, start).

The sweep records the ledger row and the ``appointment.reminder_due`` event in one transaction, and the
ledger's primary key lets only one of two concurrent sweeps record it: a reminder is queued once. The email
handler checks again at send time that the appointment still starts then and is still pending or confirmed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.clinical.model import AppointmentId
from clinic_core.scheduling.reminder_events import AppointmentReminderDue, ReminderKind
from clinic_core.shared.clock import Clock
from clinic_core.shared.ids import TenantId

LEAD: dict[ReminderKind, timedelta] = {
    ReminderKind.DAY_BEFORE: timedelta(hours=24),
    ReminderKind.HOURS_BEFORE: timedelta(hours=2),
}
"""How long before the start each reminder falls due."""

_SUPERSEDED_AT: dict[ReminderKind, timedelta] = {
    ReminderKind.DAY_BEFORE: LEAD[ReminderKind.HOURS_BEFORE],
    ReminderKind.HOURS_BEFORE: timedelta(0),
}
"""How long before the start each reminder stops being worth sending (the next one, or the start, comes)."""


def due_at(start: datetime, kind: ReminderKind) -> datetime:
    """When the reminder of ``kind`` falls due, for an appointment starting at ``start``. In UTC: arithmetic
    on a local time would count wall-clock hours, and be an hour off across a daylight-saving change."""
    return start.astimezone(UTC) - LEAD[kind]


def stale_at(start: datetime, kind: ReminderKind) -> datetime:
    """From when the reminder of ``kind`` is no longer sent: the next reminder, or the start, has come."""
    return start.astimezone(UTC) - _SUPERSEDED_AT[kind]


def is_due(kind: ReminderKind, *, start: datetime, scheduled_at: datetime, now: datetime) -> bool:
    """Whether the reminder of ``kind`` should go out at ``now``: due, not stale, and due only after the
    appointment got its start (otherwise its confirmation covered it)."""
    return due_at(start, kind) <= now < stale_at(start, kind) and scheduled_at <= due_at(start, kind)


class QueueDueReminders:
    """One tenant's pass of the ``appointment-reminders`` sweep: record the reminders due now."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, batch_size: int = 200) -> None:
        self._uow, self._clock, self._batch_size = uow, clock, batch_size

    async def __call__(self, tenant_id: TenantId) -> dict[str, int]:
        now = self._clock.now()
        queued = 0
        for kind in ReminderKind:
            after: tuple[datetime, AppointmentId] | None = None
            while True:
                async with self._uow(Scope(tenant_id=tenant_id)) as uow:
                    page = await uow.appointment_reminders.unsent(
                        kind,
                        starts_after=now + _SUPERSEDED_AT[kind],
                        starts_until=now + LEAD[kind],
                        after=after,
                        limit=self._batch_size,
                    )
                    for candidate in page:
                        if not is_due(
                            kind, start=candidate.start, scheduled_at=candidate.scheduled_at, now=now
                        ):
                            continue
                        if not await uow.appointment_reminders.mark_queued(candidate, kind, now):
                            continue
                        uow.record(
                            AppointmentReminderDue(
                                tenant_id=tenant_id,
                                occurred_at=now,
                                appointment_id=candidate.appointment_id,
                                patient_id=candidate.patient_id,
                                professional_id=candidate.professional_id,
                                unit_id=candidate.unit_id,
                                start=candidate.start,
                                kind=kind,
                            )
                        )
                        queued += 1
                    await uow.commit()
                if len(page) < self._batch_size:
                    break
                after = (page[-1].start, page[-1].appointment_id)
        return {"reminders_queued": queued}
