"""Appointments: a patient's booked time with one professional, made of one or more procedures.

Plain Python, no persistence concerns. The rules it keeps:

- **Items are snapshots.** Each item copies its procedure's name, duration, buffers and price when it is
  booked: changing the catalog later never changes an appointment already made, nor its total.
- **Time.** ``start`` is when the first procedure begins, ``end`` when the last one ends; the procedures run
  back to back (their durations add up), as the availability engine lays them out (``BlockShape``).
  The *block* is the time the appointment holds the professional, the room and the patient:
  ``[start - buffer_before, end + buffer_after)``, the first item's buffer before (preparing) and the last
  item's buffer after (cleaning up). No two active blocks overlap for one professional, one room or one
  patient: the booking use case and the database enforce it, not this module.
- **Lifecycle.** ``pending -> confirmed -> checked_in -> in_progress -> completed``; ``cancelled`` (from
  pending, confirmed or checked-in) and ``no_show`` (from pending or confirmed, once the start has come).
  A check-in is accepted from pending too (a patient who walks in without having confirmed). Every other
  move is an :class:`InvalidTransition` (409). Only pending, confirmed, checked-in and in-progress
  appointments are *active*: they hold their block; the others free it.
- **Cancellation window.** A cancellation less than the unit's window before the start (its booking rules'
  ``cancellation_window``, 24 h by default), or after it, is *late*; the flag is kept for the no-show and late-cancellation statistics and policies.
- **Rescheduling** moves start and end together, keeps the items, returns a confirmed appointment to
  pending (the patient confirmed the old time, not the new one), and adds an entry to the history.
- **History and events.** Every transition appends a :class:`HistoryEntry` (who, when, from which status,
  the interval before and after a move) and records a domain event (``appointment.created``,
  ``appointment.confirmed``...) that the unit of work writes to the outbox with the change.
- ``version`` is the optimistic-concurrency counter: the repository writes a change only over the version
  it was read at, and bumps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from returns.result import Failure, Result, Success

# Re-exported: an appointment refers to the catalog's things and is the clinical record's AppointmentId.
from clinic_core.catalog.model import ProcedureId as ProcedureId
from clinic_core.catalog.model import ProfessionalId as ProfessionalId
from clinic_core.catalog.model import RoomId as RoomId
from clinic_core.clinical.model import AppointmentId as AppointmentId
from clinic_core.patients.model import PatientId
from clinic_core.scheduling.availability import DEFAULT_CANCELLATION_WINDOW
from clinic_core.scheduling.intervals import Interval
from clinic_core.shared.errors import Conflict
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import ApiKeyId, TenantId, UnitId, UserId
from clinic_core.shared.values import Money

MAX_ITEMS = 10
MAX_REASON = 500
MAX_BUFFER_MINUTES = 240
MAX_DURATION_MINUTES = 24 * 60


class AppointmentStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"

    @property
    def is_active(self) -> bool:
        """Whether an appointment in this status holds its time (and its professional, room and patient)."""
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset(
    {
        AppointmentStatus.PENDING,
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.IN_PROGRESS,
    }
)


class BookingSource(StrEnum):
    STAFF = "staff"
    """Booked by the clinic's staff (or an integration's API key)."""
    PORTAL = "portal"
    """Booked by a signed-in client for themself or a dependant."""
    PUBLIC = "public"
    """Booked through the clinic's public booking page."""


class Transition(StrEnum):
    """What happened to an appointment: the kind of a history entry, and the verb of its event."""

    CREATED = "created"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    STARTED = "started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"


# --- values -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class By:
    """Who acted: a person (a member, a client) or an API key; both None for the public booking page, or
    for the system itself (``SYSTEM``: a sweep marking a no-show)."""

    user_id: UserId | None = None
    api_key_id: ApiKeyId | None = None

    def __post_init__(self) -> None:
        if self.user_id is not None and self.api_key_id is not None:
            raise ValueError("By: a person or an API key, not both")


ANONYMOUS = By()
SYSTEM = By()
"""The platform acting on its own (a recurring sweep); recorded like the public page, with nobody's id."""


@dataclass(frozen=True, slots=True)
class AppointmentItem:
    """One procedure of an appointment, as the catalog described it when it was booked."""

    procedure_id: ProcedureId
    name: str
    duration_minutes: int
    price: Money
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 200:
            raise ValueError("AppointmentItem: a name of 1 to 200 characters")
        if not 1 <= self.duration_minutes <= MAX_DURATION_MINUTES:
            raise ValueError("AppointmentItem: the duration is 1 minute to 24 hours")
        for buffer in (self.buffer_before_minutes, self.buffer_after_minutes):
            if not 0 <= buffer <= MAX_BUFFER_MINUTES:
                raise ValueError(f"AppointmentItem: a buffer is 0 to {MAX_BUFFER_MINUTES} minutes")
        if self.price.amount < 0:
            raise ValueError("AppointmentItem: a price is not negative")


@dataclass(frozen=True, slots=True)
class Layout:
    """Where an appointment's items fall in time, worked out from its start and items alone."""

    start: datetime
    end: datetime
    buffer_before: timedelta
    buffer_after: timedelta

    @property
    def block(self) -> Interval:
        return Interval(self.start - self.buffer_before, self.end + self.buffer_after)


def layout(start: datetime, items: tuple[AppointmentItem, ...] | list[AppointmentItem]) -> Layout:
    """The procedures back to back from ``start``; the first one's buffer before and the last one's buffer
    after widen the block (the availability engine's ``BlockShape``, so a slot it offers books)."""
    if not items:
        raise ValueError("layout: an appointment has at least one item")
    total = sum(item.duration_minutes for item in items)
    start = start.astimezone(UTC)
    return Layout(
        start=start,
        end=start + timedelta(minutes=total),
        buffer_before=timedelta(minutes=items[0].buffer_before_minutes),
        buffer_after=timedelta(minutes=items[-1].buffer_after_minutes),
    )


@dataclass(frozen=True, slots=True)
class Cancellation:
    reason: str | None
    by: By
    at: datetime
    late: bool
    """Cancelled less than the clinic's cancellation window before the start, or after it."""


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One transition of an appointment. Moves keep the interval before and after."""

    at: datetime
    transition: Transition
    by: By
    from_status: AppointmentStatus | None
    to_status: AppointmentStatus
    from_start: datetime | None = None
    from_end: datetime | None = None
    to_start: datetime | None = None
    to_end: datetime | None = None
    reason: str | None = None


# --- errors -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvalidTransition(Conflict):
    """The appointment's status does not allow this (a completed appointment cannot be cancelled)."""

    code: ClassVar[str] = "invalid_transition"
    action: str = ""
    status: str = ""

    @property
    def detail(self) -> str:
        return f"a {self.status.replace('_', ' ')} appointment cannot be {self.action.replace('_', ' ')}"


@dataclass(frozen=True, slots=True)
class TooEarly(Conflict):
    """A no-show is marked once the appointment's start has come, not before."""

    code: ClassVar[str] = "appointment_not_started"

    @property
    def detail(self) -> str:
        return "an appointment is marked as a no-show only once its start time has passed"


@dataclass(frozen=True, slots=True)
class StaleAppointment(Conflict):
    """The appointment changed since it was read: read it again and retry."""

    code: ClassVar[str] = "stale_version"

    @property
    def detail(self) -> str:
        return "the appointment was changed by someone else since you read it; reload and try again"


# --- events -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AppointmentEvent(DomainEvent):
    """What every appointment event carries: enough for a reminder or a calendar sync, no health data."""

    topic = "appointment.event"
    appointment_id: AppointmentId
    patient_id: PatientId
    professional_id: ProfessionalId
    unit_id: UnitId
    room_id: RoomId | None
    start: datetime
    end: datetime
    status: AppointmentStatus
    version: int
    by_user_id: UserId | None
    by_api_key_id: ApiKeyId | None


@dataclass(frozen=True, kw_only=True)
class AppointmentCreated(AppointmentEvent):
    topic = "appointment.created"
    source: BookingSource


@dataclass(frozen=True, kw_only=True)
class AppointmentConfirmed(AppointmentEvent):
    topic = "appointment.confirmed"


@dataclass(frozen=True, kw_only=True)
class AppointmentCheckedIn(AppointmentEvent):
    topic = "appointment.checked_in"


@dataclass(frozen=True, kw_only=True)
class AppointmentStarted(AppointmentEvent):
    topic = "appointment.started"


@dataclass(frozen=True, kw_only=True)
class AppointmentCompleted(AppointmentEvent):
    topic = "appointment.completed"


@dataclass(frozen=True, kw_only=True)
class AppointmentCancelled(AppointmentEvent):
    topic = "appointment.cancelled"
    late: bool


@dataclass(frozen=True, kw_only=True)
class AppointmentNoShow(AppointmentEvent):
    topic = "appointment.no_show"


@dataclass(frozen=True, kw_only=True)
class AppointmentRescheduled(AppointmentEvent):
    topic = "appointment.rescheduled"
    previous_start: datetime
    previous_end: datetime


_EVENTS: dict[Transition, type[AppointmentEvent]] = {
    Transition.CONFIRMED: AppointmentConfirmed,
    Transition.CHECKED_IN: AppointmentCheckedIn,
    Transition.STARTED: AppointmentStarted,
    Transition.COMPLETED: AppointmentCompleted,
    Transition.NO_SHOW: AppointmentNoShow,
}

# transition -> (the statuses it may leave, the status it reaches)
_MOVES: dict[Transition, tuple[frozenset[AppointmentStatus], AppointmentStatus]] = {
    Transition.CONFIRMED: (frozenset({AppointmentStatus.PENDING}), AppointmentStatus.CONFIRMED),
    Transition.CHECKED_IN: (
        frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED}),
        AppointmentStatus.CHECKED_IN,
    ),
    Transition.STARTED: (frozenset({AppointmentStatus.CHECKED_IN}), AppointmentStatus.IN_PROGRESS),
    Transition.COMPLETED: (frozenset({AppointmentStatus.IN_PROGRESS}), AppointmentStatus.COMPLETED),
    Transition.CANCELLED: (
        frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN}),
        AppointmentStatus.CANCELLED,
    ),
    Transition.NO_SHOW: (
        frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED}),
        AppointmentStatus.NO_SHOW,
    ),
    Transition.RESCHEDULED: (
        frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED}),
        AppointmentStatus.PENDING,
    ),
}

_VERBS = {
    Transition.CONFIRMED: "confirmed",
    Transition.CHECKED_IN: "checked in",
    Transition.STARTED: "started",
    Transition.COMPLETED: "completed",
    Transition.CANCELLED: "cancelled",
    Transition.NO_SHOW: "marked as a no-show",
    Transition.RESCHEDULED: "rescheduled",
}


def allowed_transitions(status: AppointmentStatus) -> frozenset[Transition]:
    """What may happen next to an appointment in ``status`` (for a client to show the right buttons)."""
    return frozenset(t for t, (sources, _) in _MOVES.items() if status in sources)


# --- the aggregate ----------------------------------------------------------------------------------------


@dataclass(eq=False, kw_only=True)
class Appointment:
    tenant_id: TenantId
    id: AppointmentId
    patient_id: PatientId
    professional_id: ProfessionalId
    unit_id: UnitId
    room_id: RoomId | None
    start: datetime
    end: datetime
    buffer_before: timedelta
    buffer_after: timedelta
    items: tuple[AppointmentItem, ...]
    status: AppointmentStatus
    booked_by: By
    source: BookingSource
    created_at: datetime
    updated_at: datetime
    notes: str | None = None
    """A short note for the front desk (never clinical content: that goes in the clinical record)."""
    cancellation: Cancellation | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ValueError when an invariant does not hold (a programming error)."""
        if not 1 <= len(self.items) <= MAX_ITEMS:
            raise ValueError(f"Appointment: 1 to {MAX_ITEMS} items")
        if len({item.price.currency for item in self.items}) != 1:
            raise ValueError("Appointment: every item is priced in one currency")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Appointment: aware datetimes only")
        placed = layout(self.start, self.items)
        if (placed.end, placed.buffer_before, placed.buffer_after) != (
            self.end,
            self.buffer_before,
            self.buffer_after,
        ):
            raise ValueError("Appointment: end and buffers follow from the start and the items")
        if (self.status is AppointmentStatus.CANCELLED) != (self.cancellation is not None):
            raise ValueError("Appointment: a cancellation is kept exactly when the status is cancelled")

    # -- derived ---------------------------------------------------------------------------------------

    @property
    def block(self) -> Interval:
        """The time the appointment holds its professional, room and patient: buffers included."""
        return Interval(self.start - self.buffer_before, self.end + self.buffer_after)

    @property
    def block_start(self) -> datetime:
        return self.start - self.buffer_before

    @property
    def block_end(self) -> datetime:
        return self.end + self.buffer_after

    @property
    def total(self) -> Money:
        amount = Money.zero(self.items[0].price.currency)
        for item in self.items:
            amount = amount + item.price
        return amount

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start) / timedelta(minutes=1))

    @property
    def is_active(self) -> bool:
        return self.status.is_active

    # -- creation --------------------------------------------------------------------------------------

    @classmethod
    def book(
        cls,
        *,
        tenant_id: TenantId,
        id: AppointmentId,
        patient_id: PatientId,
        professional_id: ProfessionalId,
        unit_id: UnitId,
        room_id: RoomId | None,
        start: datetime,
        items: tuple[AppointmentItem, ...],
        booked_by: By,
        source: BookingSource,
        at: datetime,
        notes: str | None = None,
    ) -> Appointment:
        """A new pending appointment, with its ``appointment.created`` event and first history entry."""
        placed = layout(start, items)
        appointment = cls(
            tenant_id=tenant_id,
            id=id,
            patient_id=patient_id,
            professional_id=professional_id,
            unit_id=unit_id,
            room_id=room_id,
            start=placed.start,
            end=placed.end,
            buffer_before=placed.buffer_before,
            buffer_after=placed.buffer_after,
            items=items,
            status=AppointmentStatus.PENDING,
            booked_by=booked_by,
            source=source,
            created_at=at,
            updated_at=at,
            notes=notes,
        )
        appointment.history.append(
            HistoryEntry(
                at=at,
                transition=Transition.CREATED,
                by=booked_by,
                from_status=None,
                to_status=AppointmentStatus.PENDING,
                to_start=appointment.start,
                to_end=appointment.end,
            )
        )
        appointment.events.append(
            AppointmentCreated(**appointment._event_fields(at, booked_by), source=source)
        )
        return appointment

    # -- transitions -----------------------------------------------------------------------------------

    def confirm(self, by: By, at: datetime) -> Result[None, InvalidTransition]:
        return self._move(Transition.CONFIRMED, by, at)

    def check_in(self, by: By, at: datetime) -> Result[None, InvalidTransition]:
        return self._move(Transition.CHECKED_IN, by, at)

    def begin(self, by: By, at: datetime) -> Result[None, InvalidTransition]:
        """The professional starts seeing the patient."""
        return self._move(Transition.STARTED, by, at)

    def complete(self, by: By, at: datetime) -> Result[None, InvalidTransition]:
        return self._move(Transition.COMPLETED, by, at)

    def mark_no_show(self, by: By, at: datetime) -> Result[None, InvalidTransition | TooEarly]:
        if self.status in _MOVES[Transition.NO_SHOW][0] and at < self.start:
            return Failure(TooEarly())
        return self._move(Transition.NO_SHOW, by, at)

    def cancel(
        self,
        by: By,
        at: datetime,
        reason: str | None = None,
        window: timedelta = DEFAULT_CANCELLATION_WINDOW,
    ) -> Result[None, InvalidTransition]:
        """Cancel; late when less than ``window`` before the start (or after it). Frees the time."""
        sources, target = _MOVES[Transition.CANCELLED]
        if self.status not in sources:
            return Failure(self._refused(Transition.CANCELLED))
        late = self.start - at < window
        before = self.status
        self.status = target
        self.cancellation = Cancellation(reason=reason, by=by, at=at, late=late)
        self._record(Transition.CANCELLED, before, by, at, reason=reason)
        self.events.append(AppointmentCancelled(**self._event_fields(at, by), late=late))
        return Success(None)

    def reschedule(
        self, start: datetime, by: By, at: datetime, reason: str | None = None
    ) -> Result[None, InvalidTransition]:
        """Move to ``start`` (the same items, so the same length); a confirmed appointment needs confirming
        again. The caller checks that the new block is free, under the same locks as a booking."""
        sources, target = _MOVES[Transition.RESCHEDULED]
        if self.status not in sources:
            return Failure(self._refused(Transition.RESCHEDULED))
        placed = layout(start, self.items)
        previous_start, previous_end, before = self.start, self.end, self.status
        self.start, self.end = placed.start, placed.end
        self.status = target
        self._record(
            Transition.RESCHEDULED,
            before,
            by,
            at,
            reason=reason,
            from_start=previous_start,
            from_end=previous_end,
            to_start=self.start,
            to_end=self.end,
        )
        self.events.append(
            AppointmentRescheduled(
                **self._event_fields(at, by), previous_start=previous_start, previous_end=previous_end
            )
        )
        return Success(None)

    # -- internals -------------------------------------------------------------------------------------

    def _move(self, transition: Transition, by: By, at: datetime) -> Result[None, InvalidTransition]:
        sources, target = _MOVES[transition]
        if self.status not in sources:
            return Failure(self._refused(transition))
        before = self.status
        self.status = target
        self._record(transition, before, by, at)
        self.events.append(_EVENTS[transition](**self._event_fields(at, by)))
        return Success(None)

    def _refused(self, transition: Transition) -> InvalidTransition:
        return InvalidTransition(action=_VERBS[transition], status=self.status.value)

    def _record(
        self,
        transition: Transition,
        before: AppointmentStatus,
        by: By,
        at: datetime,
        **more: datetime | str | None,
    ) -> None:
        self.updated_at = at
        self.history.append(
            HistoryEntry(
                at=at,
                transition=transition,
                by=by,
                from_status=before,
                to_status=self.status,
                **more,  # type: ignore[arg-type]
            )
        )

    def _event_fields(self, at: datetime, by: By) -> dict[str, Any]:
        """The fields of every appointment event; ``version`` is the one the change will be saved at."""
        return {
            "tenant_id": self.tenant_id,
            "occurred_at": at,
            "appointment_id": self.id,
            "patient_id": self.patient_id,
            "professional_id": self.professional_id,
            "unit_id": self.unit_id,
            "room_id": self.room_id,
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "version": self.version
            if self.history[-1].transition is Transition.CREATED
            else self.version + 1,
            "by_user_id": by.user_id,
            "by_api_key_id": by.api_key_id,
        }
