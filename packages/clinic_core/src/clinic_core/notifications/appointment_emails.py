"""Appointment emails to the patient (or their guardian): the confirmation of a booking, a move, a
cancellation, a reminder, and an offer of freed time from the waitlist.

Each is checked against the appointment as it is now, not as the event saw it: a confirmation or a
reminder for an appointment that was cancelled or moved since is skipped (the move sends its own), so
nobody is told to come at a time that no longer holds. The email names the procedures and nothing else
of the patient's health (LGPD).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.catalog.model import ProfessionalId
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.notifications.mailroom import ClinicDetails, Mailroom
from clinic_core.notifications.recipients import Recipient, recipient_of
from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import (
    Appointment,
    AppointmentCancelled,
    AppointmentCreated,
    AppointmentId,
    AppointmentRescheduled,
    AppointmentStatus,
)
from clinic_core.scheduling.reminder_events import AppointmentReminderDue, ReminderKind
from clinic_core.scheduling.reminders import stale_at
from clinic_core.scheduling.waitlist_model import OfferId, WaitlistOfferMade
from clinic_core.shared.ids import UnitId
from clinic_core.tenancy.model import Locale

UPCOMING = frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED})
"""The statuses in which the patient is still expected at the appointment's time."""

StillDue = Callable[[Appointment, Mapping[str, Any], datetime], bool]
"""Whether the appointment, as it is now, still matches the event (its payload) at ``now``. Every notice
of an appointment that has started is late (a job retried for hours, a backlog after an outage): none."""


def _upcoming_at_same_time(appointment: Appointment, payload: Mapping[str, Any], now: datetime) -> bool:
    return (
        appointment.status in UPCOMING
        and appointment.start == _when(payload, "start")
        and now < appointment.start
    )


def _cancelled(appointment: Appointment, payload: Mapping[str, Any], now: datetime) -> bool:
    return appointment.status is AppointmentStatus.CANCELLED and now < appointment.start


def _reminder_in_time(appointment: Appointment, payload: Mapping[str, Any], now: datetime) -> bool:
    """Upcoming at the same time, and the next reminder (or the start) has not come: a 24 h reminder
    delivered after the 2 h one would be noise."""
    start = _when(payload, "start")
    kind = ReminderKind(str(payload["kind"]))
    return _upcoming_at_same_time(appointment, payload, now) and now < stale_at(start, kind)


def _when(payload: Mapping[str, Any], key: str) -> datetime:
    return datetime.fromisoformat(str(payload[key]))


@dataclass(frozen=True, slots=True)
class _Visit:
    """What every appointment email shows (times in the unit's zone), and where it goes."""

    recipient: Recipient
    clinic: ClinicDetails
    locale: Locale
    zone: tzinfo
    context: dict[str, Any]

    async def send(self, mailroom: Mailroom, message: OutboxMessage, handler: str, template: str) -> Outcome:
        return await mailroom.send(
            message,
            handler,
            to=self.recipient.address,
            template=template,
            locale=self.locale,
            context=self.context,
            reply_to=self.clinic.contact_email,
        )


async def _visit(
    uow: UnitOfWork,
    message: OutboxMessage,
    *,
    patient_id: PatientId,
    unit_id: UnitId,
    professional_id: ProfessionalId,
    procedures: list[str],
    start: datetime,
    end: datetime,
) -> _Visit | None:
    """None when nobody can be written to."""
    recipient = await recipient_of(uow, patient_id)
    tenant = await uow.tenants.get(message.tenant_id)
    unit = await uow.units.get(unit_id)
    if recipient is None or tenant is None or unit is None:
        return None
    professional = await uow.professionals.get(professional_id)
    zone = unit.timezone.zone
    clinic = ClinicDetails.of(tenant, unit)
    context = {
        "recipient": recipient,
        "clinic": clinic,
        "professional": professional.display_name if professional else None,
        "procedures": procedures,
        "start": start.astimezone(zone),
        "end": end.astimezone(zone),
    }
    return _Visit(recipient, clinic, tenant.locale, zone, context)


class AppointmentEmail:
    """Mails the patient about an appointment event, if the appointment still matches it."""

    def __init__(
        self,
        mailroom: Mailroom,
        *,
        topic: str,
        template: str,
        still_due: StillDue,
        extra: Callable[[Mapping[str, Any], tzinfo], dict[str, Any]] = lambda payload, zone: {},
    ) -> None:
        self._mailroom, self._template, self._still_due, self._extra = mailroom, template, still_due, extra
        self.name = f"email.{topic}"
        self.topics = frozenset({topic})

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        payload = message.payload
        appointment = await uow.appointments.get(AppointmentId(UUID(str(payload["appointment_id"]))))
        if appointment is None or not self._still_due(appointment, payload, now):
            return Outcome.SKIPPED
        visit = await _visit(
            uow,
            message,
            patient_id=appointment.patient_id,
            unit_id=appointment.unit_id,
            professional_id=appointment.professional_id,
            procedures=[item.name for item in appointment.items],
            start=appointment.start,
            end=appointment.end,
        )
        if visit is None:
            return Outcome.SKIPPED
        visit.context.update(self._extra(payload, visit.zone))
        return await visit.send(self._mailroom, message, self.name, self._template)


class WaitlistOfferEmail:
    """Tells the waiting patient that a time was freed for them, while the offer is open."""

    name = f"email.{WaitlistOfferMade.topic}"
    topics = frozenset({WaitlistOfferMade.topic})

    def __init__(self, mailroom: Mailroom) -> None:
        self._mailroom = mailroom

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        offer = await uow.waitlist.get_offer(OfferId(UUID(str(message.payload["offer_id"]))))
        if offer is None or not offer.is_open_at(now):
            return Outcome.SKIPPED
        entry = await uow.waitlist.get_entry(offer.entry_id)
        if entry is None or not entry.is_open:
            return Outcome.SKIPPED
        procedure = await uow.procedures.get(entry.procedure_id)
        visit = await _visit(
            uow,
            message,
            patient_id=entry.patient_id,
            unit_id=offer.unit_id,
            professional_id=offer.professional_id,
            procedures=[procedure.name] if procedure else [],
            start=offer.start,
            end=offer.end,
        )
        if visit is None:
            return Outcome.SKIPPED
        visit.context["expires_at"] = offer.expires_at.astimezone(visit.zone)
        return await visit.send(self._mailroom, message, self.name, "waitlist_offer")


def appointment_email_handlers(mailroom: Mailroom) -> list[AppointmentEmail | WaitlistOfferEmail]:
    return [
        AppointmentEmail(
            mailroom,
            topic=AppointmentCreated.topic,
            template="appointment_created",
            still_due=_upcoming_at_same_time,
        ),
        AppointmentEmail(
            mailroom,
            topic=AppointmentRescheduled.topic,
            template="appointment_rescheduled",
            still_due=_upcoming_at_same_time,
            extra=lambda payload, zone: {"previous_start": _when(payload, "previous_start").astimezone(zone)},
        ),
        AppointmentEmail(
            mailroom,
            topic=AppointmentCancelled.topic,
            template="appointment_cancelled",
            still_due=_cancelled,
        ),
        AppointmentEmail(
            mailroom,
            topic=AppointmentReminderDue.topic,
            template="appointment_reminder",
            still_due=_reminder_in_time,
        ),
        WaitlistOfferEmail(mailroom),
    ]
