"""The event a reminder sweep records when an appointment's reminder falls due (one per appointment,
kind and start): the email handler turns it into the message, after checking it is not stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from clinic_core.catalog.model import ProfessionalId
from clinic_core.clinical.model import AppointmentId
from clinic_core.patients.model import PatientId
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import UnitId


class ReminderKind(StrEnum):
    DAY_BEFORE = "24h"
    """24 hours before the start."""
    HOURS_BEFORE = "2h"
    """2 hours before the start."""


@dataclass(frozen=True, kw_only=True)
class AppointmentReminderDue(DomainEvent):
    """Remind the patient (or their guardian) of the appointment starting at ``start``.

    The handler sends it only if the appointment is still pending or confirmed and still starts at
    ``start``: a cancelled or moved appointment never gets a stale reminder (the move records its own).
    """

    topic = "appointment.reminder_due"
    appointment_id: AppointmentId
    patient_id: PatientId
    professional_id: ProfessionalId
    unit_id: UnitId
    start: datetime
    kind: ReminderKind
