"""The JSON of booking: appointments, their lifecycle, the agenda views, the dashboard and the waitlist."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field

from clinic_api.schemas import RequestModel, ResponseModel
from clinic_core.scheduling.appointments import Appointment, HistoryEntry, allowed_transitions
from clinic_core.scheduling.views import Agenda, Dashboard
from clinic_core.scheduling.waitlist import EntryView
from clinic_core.scheduling.waitlist_model import WaitlistOffer

Reason = Annotated[str, Field(max_length=500)]
Id = Annotated[str, Field(max_length=64)]

# Requests


class AppointmentCreateRequest(RequestModel):
    patient_id: Id
    professional_id: Id
    unit_id: Id
    start: AwareDatetime
    """When the first procedure begins, with its UTC offset (`2026-03-10T10:00:00-03:00`)."""
    procedure_ids: Annotated[list[Id], Field(min_length=1, max_length=10)]
    """The procedures, in the order they are done (back to back)."""
    room_id: Id | None = None
    """A room of the unit; omitted: the first free room of the type the procedures need, if any."""
    notes: Reason | None = None
    """A short note for the front desk (not clinical content)."""


class CancelRequest(RequestModel):
    reason: Reason | None = None


class RescheduleRequest(RequestModel):
    start: AwareDatetime
    reason: Reason | None = None


class WaitlistRequest(RequestModel):
    patient_id: Id
    procedure_id: Id
    unit_id: Id
    earliest: AwareDatetime
    latest: AwareDatetime
    professional_id: Id | None = None
    """Only this professional; omitted: any who performs the procedure."""


# Responses


class ItemOut(ResponseModel):
    procedure_id: UUID
    name: str
    duration_minutes: int
    price: str
    """The price when booked, a decimal string (`"150.00"`)."""
    currency: str
    buffer_before_minutes: int
    buffer_after_minutes: int


class CancellationOut(ResponseModel):
    reason: str | None
    at: datetime
    late: bool
    """Cancelled inside the clinic's cancellation window (or after the start)."""
    by_user_id: UUID | None
    by_api_key_id: UUID | None


class HistoryOut(ResponseModel):
    at: datetime
    transition: str
    from_status: str | None
    to_status: str
    by_user_id: UUID | None
    by_api_key_id: UUID | None
    from_start: datetime | None
    to_start: datetime | None
    reason: str | None

    @classmethod
    def of(cls, h: HistoryEntry) -> HistoryOut:
        return cls(
            at=h.at,
            transition=h.transition.value,
            from_status=h.from_status.value if h.from_status else None,
            to_status=h.to_status.value,
            by_user_id=h.by.user_id,
            by_api_key_id=h.by.api_key_id,
            from_start=h.from_start,
            to_start=h.to_start,
            reason=h.reason,
        )


class AppointmentOut(ResponseModel):
    id: UUID
    patient_id: UUID
    professional_id: UUID
    unit_id: UUID
    room_id: UUID | None
    start: datetime
    end: datetime
    block_start: datetime
    """The start less the first procedure's buffer before: from when the professional and room are held."""
    block_end: datetime
    status: str
    allowed: list[str]
    """What may happen next (`confirmed`, `checked_in`, `cancelled`, `rescheduled`...)."""
    items: list[ItemOut]
    total: str
    currency: str
    source: str
    booked_by_user_id: UUID | None
    booked_by_api_key_id: UUID | None
    notes: str | None
    cancellation: CancellationOut | None
    history: list[HistoryOut]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: Appointment) -> AppointmentOut:
        c = a.cancellation
        total = a.total
        return cls(
            id=a.id,
            patient_id=a.patient_id,
            professional_id=a.professional_id,
            unit_id=a.unit_id,
            room_id=a.room_id,
            start=a.start,
            end=a.end,
            block_start=a.block_start,
            block_end=a.block_end,
            status=a.status.value,
            allowed=sorted(t.value for t in allowed_transitions(a.status)),
            items=[
                ItemOut(
                    procedure_id=i.procedure_id,
                    name=i.name,
                    duration_minutes=i.duration_minutes,
                    price=str(i.price.amount),
                    currency=i.price.currency,
                    buffer_before_minutes=i.buffer_before_minutes,
                    buffer_after_minutes=i.buffer_after_minutes,
                )
                for i in a.items
            ],
            total=str(total.amount),
            currency=total.currency,
            source=a.source.value,
            booked_by_user_id=a.booked_by.user_id,
            booked_by_api_key_id=a.booked_by.api_key_id,
            notes=a.notes,
            cancellation=CancellationOut(
                reason=c.reason, at=c.at, late=c.late, by_user_id=c.by.user_id, by_api_key_id=c.by.api_key_id
            )
            if c
            else None,
            history=[HistoryOut.of(h) for h in a.history],
            version=a.version,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


class AppointmentList(ResponseModel):
    items: list[AppointmentOut]


class AgendaOut(ResponseModel):
    professional_id: UUID | None
    unit_id: UUID | None
    timezone: str
    """The unit's IANA time zone: the days are its local days."""
    starts_from: datetime
    starts_before: datetime
    items: list[AppointmentOut]

    @classmethod
    def of(cls, agenda: Agenda) -> AgendaOut:
        return cls(
            professional_id=agenda.professional_id,
            unit_id=agenda.unit_id,
            timezone=agenda.timezone,
            starts_from=agenda.starts_from,
            starts_before=agenda.starts_before,
            items=[AppointmentOut.of(a) for a in agenda.appointments],
        )


class OccupancyOut(ResponseModel):
    professional_id: UUID
    appointments: int
    booked_minutes: int


class DashboardOut(ResponseModel):
    unit_id: UUID
    timezone: str
    day: date
    today: list[AppointmentOut]
    awaiting_confirmation: int
    """Pending appointments from now on."""
    no_show_rate: float | None
    """No-shows over completed plus no-shows in the last 30 days; null when there were none."""
    occupancy: list[OccupancyOut]

    @classmethod
    def of(cls, d: Dashboard) -> DashboardOut:
        return cls(
            unit_id=d.unit_id,
            timezone=d.timezone,
            day=d.day,
            today=[AppointmentOut.of(a) for a in d.today],
            awaiting_confirmation=d.awaiting_confirmation,
            no_show_rate=d.no_show_rate,
            occupancy=[
                OccupancyOut(
                    professional_id=o.professional_id,
                    appointments=o.appointments,
                    booked_minutes=o.booked_minutes,
                )
                for o in d.occupancy
            ],
        )


class OfferOut(ResponseModel):
    id: UUID
    status: str
    professional_id: UUID
    unit_id: UUID
    start: datetime
    end: datetime
    expires_at: datetime
    appointment_id: UUID | None

    @classmethod
    def of(cls, o: WaitlistOffer) -> OfferOut:
        return cls(
            id=o.id,
            status=o.status.value,
            professional_id=o.professional_id,
            unit_id=o.unit_id,
            start=o.start,
            end=o.end,
            expires_at=o.expires_at,
            appointment_id=o.appointment_id,
        )


class WaitlistEntryOut(ResponseModel):
    id: UUID
    patient_id: UUID
    procedure_id: UUID
    professional_id: UUID | None
    unit_id: UUID
    earliest: datetime
    latest: datetime
    status: str
    created_at: datetime
    offers: list[OfferOut]

    @classmethod
    def of(cls, view: EntryView) -> WaitlistEntryOut:
        e = view.entry
        return cls(
            id=e.id,
            patient_id=e.patient_id,
            procedure_id=e.procedure_id,
            professional_id=e.professional_id,
            unit_id=e.unit_id,
            earliest=e.earliest,
            latest=e.latest,
            status=e.status.value,
            created_at=e.created_at,
            offers=[OfferOut.of(o) for o in view.offers],
        )


class WaitlistList(ResponseModel):
    items: list[WaitlistEntryOut]
