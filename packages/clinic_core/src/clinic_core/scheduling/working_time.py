"""Working time: when a professional works at a unit, in the unit's local time, and its expansion to UTC.

The model (docs/SCHEDULING.md tells it to clinics):

- **Weekly hours** (``WeeklySchedule``): for each weekday, zero or more spans of local clock time
  (``09:00-12:00`` and ``13:00-18:00``). Spans of one day are sorted and may not overlap (they may touch).
  A span never crosses midnight: its end is at most ``24:00``, the end of the day. A night shift is written
  as ``20:00-24:00`` on one day and ``00:00-08:00`` on the next; the expansion joins the two into one
  interval, so an appointment may run across midnight.
- **Date overrides** (``DateOverride``), one per professional, unit and local date, of one of three kinds:
  ``closed`` (no work that day), ``replace`` (these spans instead of the weekday's), ``extra`` (these spans
  on top of the weekday's).
- **Time off** (``TimeOff``): an interval of real time (UTC) in which the professional is away, at every unit.
  It is busy time for the engine, like an appointment: it removes work and no buffer may reach into it.
- **Unit closures** (``UnitClosure``): local dates (a holiday, or a range) when the unit is closed; they win
  over weekly hours and over every override.

Local to UTC. A span keeps its local clock times on every day: 09:00-17:00 is 09:00-17:00 local on the days
the clocks change, which is 8 real hours unless the change falls inside the span. Two local times need a rule:

- A time that does not exist (the clocks jump over it, e.g. 02:30 on a spring-forward night in New York)
  is read as the instant the clocks jump, i.e. the first valid local time after it (03:00 EDT). So a span that
  lies entirely in the gap yields nothing, and one that ends in it ends at the jump.
- A time that happens twice (the clocks fall back, e.g. 01:30 on the first Sunday of November in New York)
  is its first occurrence (``fold=0``, 01:30 EDT). A span that contains the repeated hour contains both passes
  of it: 00:00-03:00 local on that day is 4 real hours.

Both rules keep the conversion monotonic, so a span never turns inside out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from returns.result import Failure, Result, Success

from clinic_core.scheduling.intervals import Interval, merge
from clinic_core.shared.errors import FieldError, InvalidInput

MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")


class Weekday(IntEnum):
    """ISO weekdays counted from 0, as ``date.weekday()`` counts them."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Weekday | None:
        return cls.__members__.get(label.strip().upper())


def _clock_minutes(raw: str) -> int | None:
    """Minutes since midnight of ``HH:MM`` (``24:00`` allowed, meaning the end of the day), else None."""
    match = _CLOCK.fullmatch(raw.strip())
    if match is None:
        return None
    minutes = int(match[1]) * 60 + int(match[2])
    return minutes if minutes <= MINUTES_PER_DAY else None


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True, order=True)
class ClockSpan:
    """Local clock times within one day, ``[start, end)`` in minutes since midnight; ``end`` may be 1440."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(f"ClockSpan: {self.start_minute}..{self.end_minute} is not a span of one day")

    @classmethod
    def parse(cls, start: str, end: str, field_name: str = "span") -> Result[ClockSpan, InvalidInput]:
        first, last = _clock_minutes(start), _clock_minutes(end)
        errors: list[FieldError] = []
        if first is None or first == MINUTES_PER_DAY:
            errors.append(FieldError(f"{field_name}.start", "invalid_time", "use HH:MM, from 00:00 to 23:59"))
        if last is None:
            errors.append(FieldError(f"{field_name}.end", "invalid_time", "use HH:MM, from 00:00 to 24:00"))
        if errors or first is None or last is None:
            return Failure(InvalidInput(tuple(errors)))
        if last <= first:
            return Failure(
                InvalidInput.of(
                    f"{field_name}.end",
                    "end_not_after_start",
                    "the end must be after the start; split a span across midnight at 24:00",
                )
            )
        return Success(cls(first, last))

    @property
    def start_text(self) -> str:
        return clock_text(self.start_minute)

    @property
    def end_text(self) -> str:
        return clock_text(self.end_minute)

    def __str__(self) -> str:
        return f"{self.start_text}-{self.end_text}"


def _overlap_problem(spans: Sequence[ClockSpan]) -> int | None:
    """The index of the first span that overlaps the one before it (spans sorted), else None."""
    for index in range(1, len(spans)):
        if spans[index].start_minute < spans[index - 1].end_minute:
            return index
    return None


def parse_spans(
    raw: Sequence[tuple[str, str]], field_name: str, limit: int = 12
) -> Result[tuple[ClockSpan, ...], InvalidInput]:
    """Spans of one day from ``(start, end)`` pairs: each valid, sorted, none overlapping another."""
    if len(raw) > limit:
        return Failure(InvalidInput.of(field_name, "too_many_spans", f"at most {limit} spans a day"))
    parsed = [ClockSpan.parse(start, end, f"{field_name}[{i}]") for i, (start, end) in enumerate(raw)]
    errors = [error for result in parsed if isinstance(result, Failure) for error in result.failure().errors]
    if errors:
        return Failure(InvalidInput(tuple(errors)))
    spans = tuple(sorted(result.unwrap() for result in parsed))
    clash = _overlap_problem(spans)
    if clash is not None:
        return Failure(
            InvalidInput.of(field_name, "overlapping_spans", f"{spans[clash - 1]} and {spans[clash]} overlap")
        )
    return Success(spans)


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """The spans worked on each weekday (a weekday missing, or with no spans, is a day off)."""

    days: Mapping[Weekday, tuple[ClockSpan, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cleaned: dict[Weekday, tuple[ClockSpan, ...]] = {}
        for weekday, spans in self.days.items():
            ordered = tuple(sorted(spans))
            if _overlap_problem(ordered) is not None:
                raise ValueError(f"WeeklySchedule: spans of {Weekday(weekday).label} overlap")
            if ordered:
                cleaned[Weekday(weekday)] = ordered
        object.__setattr__(self, "days", dict(sorted(cleaned.items())))

    @classmethod
    def parse(
        cls, raw: Mapping[str, Sequence[tuple[str, str]]], field_name: str = "days"
    ) -> Result[WeeklySchedule, InvalidInput]:
        """From ``{"monday": [("09:00", "12:00"), ...], ...}``; weekday names in English, any case."""
        errors: list[FieldError] = []
        days: dict[Weekday, tuple[ClockSpan, ...]] = {}
        for label, pairs in raw.items():
            weekday = Weekday.from_label(label)
            if weekday is None:
                errors.append(
                    FieldError(f"{field_name}.{label}", "invalid_weekday", "use monday, tuesday ... sunday")
                )
                continue
            if weekday in days:
                errors.append(FieldError(f"{field_name}.{label}", "duplicate_weekday", "given twice"))
                continue
            spans = parse_spans(pairs, f"{field_name}.{weekday.label}")
            if isinstance(spans, Failure):
                errors.extend(spans.failure().errors)
            else:
                days[weekday] = spans.unwrap()
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        return Success(cls(days))

    def spans_on(self, weekday: int) -> tuple[ClockSpan, ...]:
        return self.days.get(Weekday(weekday), ())

    @property
    def is_empty(self) -> bool:
        return not self.days


class OverrideKind(StrEnum):
    CLOSED = "closed"
    """No work on that date."""
    REPLACE = "replace"
    """These spans instead of the weekday's."""
    EXTRA = "extra"
    """These spans on top of the weekday's."""


@dataclass(frozen=True, slots=True)
class DateOverride:
    """What changes on one local date. ``closed`` has no spans; the other kinds have at least one."""

    day: date
    kind: OverrideKind
    spans: tuple[ClockSpan, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.spans))
        if (self.kind is OverrideKind.CLOSED) != (not ordered):
            raise ValueError("DateOverride: a closed day has no spans, the other kinds need some")
        if _overlap_problem(ordered) is not None:
            raise ValueError("DateOverride: spans overlap")
        object.__setattr__(self, "spans", ordered)

    @classmethod
    def parse(
        cls, day: date, kind: str, spans: Sequence[tuple[str, str]], field_name: str = ""
    ) -> Result[DateOverride, InvalidInput]:
        prefix = f"{field_name}." if field_name else ""
        try:
            parsed_kind = OverrideKind(kind.strip().lower())
        except ValueError:
            return Failure(InvalidInput.of(f"{prefix}kind", "invalid_kind", "use closed, replace or extra"))
        if parsed_kind is OverrideKind.CLOSED:
            if spans:
                return Failure(
                    InvalidInput.of(f"{prefix}spans", "spans_not_allowed", "a closed day has no spans")
                )
            return Success(cls(day, parsed_kind))
        if not spans:
            return Failure(
                InvalidInput.of(f"{prefix}spans", "spans_required", f"a {parsed_kind} override needs spans")
            )
        return parse_spans(spans, f"{prefix}spans").map(lambda ok: cls(day, parsed_kind, ok))

    def spans_with(self, weekly: tuple[ClockSpan, ...]) -> tuple[ClockSpan, ...]:
        """The spans worked that date, given the weekday's (they may overlap: the expansion merges them)."""
        if self.kind is OverrideKind.CLOSED:
            return ()
        if self.kind is OverrideKind.REPLACE:
            return self.spans
        return weekly + self.spans


@dataclass(frozen=True, slots=True)
class TimeOff:
    """A stretch of real time away (holiday, training, sick leave). ``reason`` is free text for the staff."""

    interval: Interval
    reason: str = ""


@dataclass(frozen=True, slots=True)
class UnitClosure:
    """Local dates, ``first_day`` to ``last_day`` inclusive, when the unit is closed (a holiday)."""

    first_day: date
    last_day: date
    reason: str = ""

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError("UnitClosure: last_day is before first_day")

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


# -- local time to UTC -----------------------------------------------------------------------------------


def _is_nonexistent(local: datetime, zone: ZoneInfo) -> bool:
    """Whether the wall time of ``local`` (in ``zone``) never shows on the clocks of that zone."""
    round_trip = local.astimezone(UTC).astimezone(zone)
    return round_trip.replace(tzinfo=None, fold=0) != local.replace(tzinfo=None, fold=0)


def _jump_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """For a nonexistent ``local`` (fold=0), the UTC instant when the clocks jumped over it.

    With fold=0 the wall time reads with the offset before the jump, which lands after it; with fold=1
    with the offset after, which lands before it. The jump lies between: found by bisection to the second.
    """
    after = local.astimezone(UTC)
    before = local.replace(fold=1).astimezone(UTC)
    offset_after = after.astimezone(zone).utcoffset()
    lo, hi = int(before.timestamp()), int(after.timestamp())
    while lo < hi:  # the first second whose offset is the one after the jump
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == offset_after:
            hi = mid
        else:
            lo = mid + 1
    return datetime.fromtimestamp(lo, UTC)


@lru_cache(maxsize=16_384)
def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``minute`` minutes after local midnight on ``day`` (1440 is the next midnight),
    under the module's rules: a repeated time is its first occurrence, a skipped one is the jump.

    Cached: the professionals of a unit share most clock times, and the answer never changes (ZoneInfo
    objects are cached by key, so one zone is one cache key).
    """
    if minute == MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    if _is_nonexistent(local, zone):
        return _jump_instant(local, zone)
    return local.astimezone(UTC)


def local_day(day: date, zone: ZoneInfo) -> Interval:
    """The real time of one local date, from its midnight to the next (23, 24 or 25 hours)."""
    return Interval(local_instant(day, 0, zone), local_instant(day, MINUTES_PER_DAY, zone))


def local_days(first: date, last: date, zone: ZoneInfo) -> Interval:
    """The real time of the local dates ``first`` to ``last`` inclusive (e.g. time off for whole days)."""
    return Interval(local_instant(first, 0, zone), local_instant(last, MINUTES_PER_DAY, zone))


def span_interval(day: date, span: ClockSpan, zone: ZoneInfo) -> Interval | None:
    """The real time of ``span`` on ``day``, or None when it falls entirely in a skipped hour."""
    start, end = local_instant(day, span.start_minute, zone), local_instant(day, span.end_minute, zone)
    return Interval(start, end) if start < end else None


def dates_between(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def expand_working_time(
    schedule: WeeklySchedule,
    zone: ZoneInfo,
    first: date,
    last: date,
    overrides: Iterable[DateOverride] = (),
    closures: Iterable[UnitClosure] = (),
) -> list[Interval]:
    """The real time worked on the local dates ``first`` to ``last`` (inclusive), sorted and merged.

    Closures win over everything; an override replaces the weekday's spans as its kind says. Time off is
    not applied here: it is busy time (see availability.py), so that buffers cannot reach into it either.
    """
    by_day = {override.day: override for override in overrides if first <= override.day <= last}
    closed = [closure for closure in closures if closure.first_day <= last and closure.last_day >= first]
    intervals: list[Interval] = []
    for day in dates_between(first, last):
        if any(closure.covers(day) for closure in closed):
            continue
        weekly = schedule.spans_on(day.weekday())
        override = by_day.get(day)
        spans = override.spans_with(weekly) if override is not None else weekly
        for span in spans:
            interval = span_interval(day, span, zone)
            if interval is not None:
                intervals.append(interval)
    return merge(intervals)


def local_dates_covering(window: Interval, zone: ZoneInfo) -> tuple[date, date]:
    """The local dates whose spans can reach into ``window``: one day of margin on each side, for spans
    that end at 24:00 and join the next day, and for offsets either side of UTC."""
    first = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date() + timedelta(days=1)
    return first, last
