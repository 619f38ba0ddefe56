"""The JSON of the working-time and availability routes.

Shapes and sizes only: the rules (clock times as ``HH:MM``, spans that do not overlap, slot steps that divide
an hour) are clinic_core's, so that its field-level messages are the ones clients see. Clock times are the
unit's local time; instants carry their UTC offset (``2026-03-08T09:00:00-05:00``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field

from clinic_api.schemas import RequestModel, ResponseModel
from clinic_core.scheduling.availability import (
    DEFAULT_CANCELLATION_WINDOW,
    DEFAULT_WAITLIST_OFFER,
    BookingRules,
)
from clinic_core.scheduling.working_time import ClockSpan, DateOverride, Weekday, WeeklySchedule
from clinic_core.scheduling.working_time_ports import ClosureEntry, TimeOffEntry

Clock = Annotated[str, Field(max_length=5)]
Reason = Annotated[str, Field(max_length=400)]


class SpanIn(RequestModel):
    start: Clock
    """Local clock time, `HH:MM` (`00:00` to `23:59`)."""
    end: Clock
    """Local clock time, `HH:MM` (up to `24:00`, the end of the day); after `start`."""


class SpanOut(ResponseModel):
    start: str
    end: str

    @classmethod
    def of(cls, span: ClockSpan) -> SpanOut:
        return cls(start=span.start_text, end=span.end_text)


def _pairs(spans: Sequence[SpanIn]) -> list[tuple[str, str]]:
    return [(span.start, span.end) for span in spans]


class WeeklyHoursRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "days": {
                        "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}],
                        "saturday": [{"start": "08:00", "end": "12:00"}],
                    }
                }
            ]
        }
    )

    days: Annotated[
        dict[Annotated[str, Field(max_length=12)], Annotated[list[SpanIn], Field(max_length=24)]],
        Field(max_length=7),
    ]
    """Weekday (`monday` ... `sunday`) to its spans of local time; a weekday left out is a day off. The whole
    week is replaced."""

    def pairs(self) -> dict[str, list[tuple[str, str]]]:
        return {day: _pairs(spans) for day, spans in self.days.items()}


class WeeklyHoursOut(ResponseModel):
    professional_id: UUID
    unit_id: UUID
    days: dict[str, list[SpanOut]]
    """Every weekday, `monday` to `sunday`, with its spans (empty: a day off)."""

    @classmethod
    def of(cls, professional_id: UUID, unit_id: UUID, schedule: WeeklySchedule) -> WeeklyHoursOut:
        return cls(
            professional_id=professional_id,
            unit_id=unit_id,
            days={day.label: [SpanOut.of(s) for s in schedule.spans_on(day)] for day in Weekday},
        )


class OverrideRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "replace", "spans": [{"start": "14:00", "end": "18:00"}]}]}
    )

    kind: Annotated[str, Field(max_length=20)]
    """`closed` (no work that date), `replace` (these spans instead of the weekday's) or `extra` (on top)."""
    spans: Annotated[list[SpanIn], Field(max_length=24, default_factory=list)]
    """None for `closed`; at least one for the other kinds."""

    def pairs(self) -> list[tuple[str, str]]:
        return _pairs(self.spans)


class OverrideOut(ResponseModel):
    date: date
    kind: str
    spans: list[SpanOut]

    @classmethod
    def of(cls, override: DateOverride) -> OverrideOut:
        return cls(date=override.day, kind=override.kind.value, spans=[SpanOut.of(s) for s in override.spans])


class OverrideList(ResponseModel):
    items: list[OverrideOut]


class TimeOffRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "starts_at": "2026-07-06T00:00:00-03:00",
                    "ends_at": "2026-07-18T00:00:00-03:00",
                    "reason": "Férias",
                }
            ]
        }
    )

    starts_at: datetime
    """With its UTC offset."""
    ends_at: datetime
    """With its UTC offset; after `starts_at`, at most 366 days later."""
    reason: Reason = ""


class TimeOffOut(ResponseModel):
    id: UUID
    professional_id: UUID
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, entry: TimeOffEntry) -> TimeOffOut:
        return cls(
            id=entry.id,
            professional_id=entry.professional_id,
            starts_at=entry.time_off.interval.start,
            ends_at=entry.time_off.interval.end,
            reason=entry.time_off.reason,
            created_at=entry.created_at,
        )


class TimeOffList(ResponseModel):
    items: list[TimeOffOut]


class ClosureRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"first_day": "2026-12-24", "last_day": "2026-12-26", "reason": "Natal"}]
        }
    )

    first_day: date
    """A local date of the unit."""
    last_day: date | None = None
    """Inclusive; the same as `first_day` when left out."""
    reason: Reason = ""


class ClosureOut(ResponseModel):
    id: UUID
    unit_id: UUID
    first_day: date
    last_day: date
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, entry: ClosureEntry) -> ClosureOut:
        return cls(
            id=entry.id,
            unit_id=entry.unit_id,
            first_day=entry.closure.first_day,
            last_day=entry.closure.last_day,
            reason=entry.closure.reason,
            created_at=entry.created_at,
        )


class ClosureList(ResponseModel):
    items: list[ClosureOut]


class BookingRulesBody(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "min_notice_minutes": 120,
                    "horizon_days": 60,
                    "slot_step_minutes": 15,
                    "cancellation_window_hours": 24,
                    "waitlist_offer_minutes": 120,
                }
            ]
        }
    )

    min_notice_minutes: int
    """How soon a slot may start: 0 minutes to 30 days (43,200 minutes)."""
    horizon_days: int
    """How far ahead: 1 to 730 days, beyond the notice."""
    slot_step_minutes: int
    """The local clock grid of start times: 5, 10, 15, 20, 30 or 60."""
    cancellation_window_hours: int = DEFAULT_CANCELLATION_WINDOW // timedelta(hours=1)
    """A cancellation less than this before the start (or after it) is marked late: 0 to 336 hours
    (24 when omitted)."""
    waitlist_offer_minutes: int = DEFAULT_WAITLIST_OFFER // timedelta(minutes=1)
    """How long a waitlist offer of freed time stays open: 15 to 2,880 minutes (120 when omitted)."""


class BookingRulesOut(ResponseModel):
    unit_id: UUID
    min_notice_minutes: int
    horizon_days: int
    slot_step_minutes: int
    cancellation_window_hours: int
    waitlist_offer_minutes: int

    @classmethod
    def of(cls, unit_id: UUID, rules: BookingRules) -> BookingRulesOut:
        return cls(
            unit_id=unit_id,
            min_notice_minutes=rules.min_notice_minutes,
            horizon_days=rules.horizon_days,
            slot_step_minutes=rules.slot_step_minutes,
            cancellation_window_hours=rules.cancellation_window_hours,
            waitlist_offer_minutes=rules.waitlist_offer_minutes,
        )
