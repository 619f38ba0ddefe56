"""The availability engine: the free start times of an appointment, per professional. Pure: no I/O, no clock.

Input: each candidate professional's working time (expanded to UTC, see working_time.py) and busy time
(existing appointments widened by their buffers, and time off), the requested procedures in order, the
rooms that could host them with their busy time, the booking rules, the unit's time zone and ``now``.

The shape of an appointment of several procedures (``BlockShape``):

- The procedures follow one another with no gap: the appointment lasts the sum of their durations.
  Buffers *between* procedures of one appointment are not applied: the same professional goes on with the same
  patient, and any preparation between two steps is part of the procedures' durations.
- The block the appointment occupies is ``[start - lead, end + trail)``: ``lead`` is the first procedure's
  buffer before, ``trail`` the last one's buffer after (preparing the room, cleaning it afterwards).

A start time ``t`` is offered for a professional when:

1. the appointment ``[t, t + duration)`` lies inside the professional's working time (the buffers may fall
   outside working hours: preparing before the first appointment of the day is the clinic's own business);
2. the block ``[t - lead, t + duration + trail)`` overlaps none of the professional's busy intervals, which
   are blocks too (appointments with their buffers): so between two appointments there is at least the
   first one's buffer after plus the second one's buffer before;
3. when a room is needed, some room among the candidates is free for the whole block;
4. ``now + min_notice <= t < now + horizon``, and ``t`` lies in the query window ``[from, to)``;
5. ``t`` is on the unit's local clock grid: its local minute of the day is a multiple of the slot step
   (a divisor of 60), and its seconds are zero. The grid follows the local clock across DST changes.

Algorithm: every condition is turned into a sorted list of closed ranges of admissible start times, in
integer microseconds since the epoch (exact, and fast to compare). Free gaps between the merged busy
intervals become the starts whose block fits in the gap; working intervals become the starts whose
appointment fits in them; the rooms' admissible starts are unioned once per query (they are the same for
every professional). Intersecting the lists is one linear sweep, and the grid is walked only inside the
result, with the UTC offset constant on each piece (the offset changes are found once per query). So the
cost is O((W + B) log B) per professional, plus the slots produced: nothing per slot grows with the number
of appointments.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from returns.result import Failure, Result, Success

from clinic_core.scheduling.intervals import ONE_MICROSECOND, Interval, from_micros, to_micros
from clinic_core.shared.errors import FieldError, InvalidInput

K = TypeVar("K", bound=Hashable)
R = TypeVar("R", bound=Hashable, covariant=True)

SLOT_STEPS = (5, 10, 15, 20, 30, 60)
"""The slot steps a unit may choose, in minutes: each divides an hour, so every hour starts on the grid."""

_NEVER = 1 << 62  # microseconds: far beyond any date a datetime can hold, on either side
_MINUTE = 60_000_000
_OFFSET_PROBE = 6 * 3600 * 1_000_000  # offsets are sampled every 6 hours, then bisected where they change


MAX_NOTICE = timedelta(days=30)
MAX_HORIZON = timedelta(days=730)
DEFAULT_CANCELLATION_WINDOW = timedelta(hours=24)
MAX_CANCELLATION_WINDOW = timedelta(hours=336)
DEFAULT_WAITLIST_OFFER = timedelta(minutes=120)
MIN_WAITLIST_OFFER = timedelta(minutes=15)
MAX_WAITLIST_OFFER = timedelta(minutes=2880)


def _rules_problems(
    min_notice: timedelta,
    horizon: timedelta,
    slot_step_minutes: int,
    cancellation_window: timedelta,
    waitlist_offer: timedelta,
) -> list[FieldError]:
    errors: list[FieldError] = []
    if slot_step_minutes not in SLOT_STEPS:
        steps = ", ".join(map(str, SLOT_STEPS))
        errors.append(FieldError("slot_step_minutes", "invalid_slot_step", f"use one of {steps}"))
    if not timedelta(0) <= min_notice <= MAX_NOTICE:
        errors.append(FieldError("min_notice_minutes", "out_of_range", "use 0 minutes to 30 days"))
    if not timedelta(days=1) <= horizon <= MAX_HORIZON:
        errors.append(FieldError("horizon_days", "out_of_range", "use 1 to 730 days"))
    elif horizon <= min_notice:
        errors.append(
            FieldError("horizon_days", "horizon_within_notice", "the horizon must exceed the notice")
        )
    if not timedelta(0) <= cancellation_window <= MAX_CANCELLATION_WINDOW:
        errors.append(FieldError("cancellation_window_hours", "out_of_range", "use 0 to 336 hours"))
    if not MIN_WAITLIST_OFFER <= waitlist_offer <= MAX_WAITLIST_OFFER:
        errors.append(FieldError("waitlist_offer_minutes", "out_of_range", "use 15 to 2,880 minutes"))
    return errors


@dataclass(frozen=True, slots=True)
class BookingRules:
    """What a unit allows: how soon (``min_notice``), how far ahead (``horizon``), on what grid (minutes);
    and after booking, how late a cancellation is *late* (``cancellation_window``: a cancellation less than
    this before the start, or after it) and how long a waitlist offer of freed time stays open
    (``waitlist_offer``).

    A start is bookable when ``now + min_notice <= start < now + horizon``.
    """

    min_notice: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(days=90)
    slot_step_minutes: int = 15
    cancellation_window: timedelta = DEFAULT_CANCELLATION_WINDOW
    waitlist_offer: timedelta = DEFAULT_WAITLIST_OFFER

    def __post_init__(self) -> None:
        problems = _rules_problems(
            self.min_notice,
            self.horizon,
            self.slot_step_minutes,
            self.cancellation_window,
            self.waitlist_offer,
        )
        if problems:
            raise ValueError(f"BookingRules: {problems[0].field}: {problems[0].message}")

    @classmethod
    def parse(
        cls,
        min_notice_minutes: int,
        horizon_days: int,
        slot_step_minutes: int,
        cancellation_window_hours: int = DEFAULT_CANCELLATION_WINDOW // timedelta(hours=1),
        waitlist_offer_minutes: int = DEFAULT_WAITLIST_OFFER // timedelta(minutes=1),
    ) -> Result[BookingRules, InvalidInput]:
        # clamp before building timedeltas, so absurd numbers are reported, not raised as OverflowError
        notice = timedelta(minutes=max(-1, min(min_notice_minutes, 10**7)))
        horizon = timedelta(days=max(-1, min(horizon_days, 10**5)))
        window = timedelta(hours=max(-1, min(cancellation_window_hours, 10**6)))
        offer = timedelta(minutes=max(-1, min(waitlist_offer_minutes, 10**7)))
        problems = _rules_problems(notice, horizon, slot_step_minutes, window, offer)
        if problems:
            return Failure(InvalidInput(tuple(problems)))
        return Success(cls(notice, horizon, slot_step_minutes, window, offer))

    @property
    def min_notice_minutes(self) -> int:
        return self.min_notice // timedelta(minutes=1)

    @property
    def horizon_days(self) -> int:
        return self.horizon // timedelta(days=1)

    @property
    def cancellation_window_hours(self) -> int:
        return self.cancellation_window // timedelta(hours=1)

    @property
    def waitlist_offer_minutes(self) -> int:
        return self.waitlist_offer // timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ProcedureDemand:
    """What one requested procedure asks of the calendar."""

    procedure_id: Hashable
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError("ProcedureDemand: the duration must be positive")
        if self.buffer_before < timedelta(0) or self.buffer_after < timedelta(0):
            raise ValueError("ProcedureDemand: buffers cannot be negative")


@dataclass(frozen=True, slots=True)
class BlockShape:
    """The time an appointment takes (``duration``) and the buffers around it (``lead``, ``trail``)."""

    duration: timedelta
    lead: timedelta = timedelta(0)
    trail: timedelta = timedelta(0)

    @classmethod
    def of(cls, procedures: Sequence[ProcedureDemand]) -> BlockShape:
        if not procedures:
            raise ValueError("BlockShape: an appointment has at least one procedure")
        return cls(
            duration=sum((p.duration for p in procedures), timedelta(0)),
            lead=procedures[0].buffer_before,
            trail=procedures[-1].buffer_after,
        )

    def appointment(self, start: datetime) -> Interval:
        return Interval(start, start + self.duration)

    def block(self, start: datetime) -> Interval:
        """The busy interval of an appointment starting at ``start``: with its buffers."""
        return Interval(start - self.lead, start + self.duration + self.trail)


@dataclass(frozen=True, slots=True)
class ProfessionalCalendar(Generic[K]):
    professional_id: K
    performs: frozenset[Hashable]
    """The procedures this professional performs."""
    working: Sequence[Interval]
    """Working time at the unit, in any order (``expand_working_time`` gives it sorted and merged)."""
    busy: Sequence[Interval] = ()
    """Appointments at any unit, widened by their buffers, and time off; in any order, overlaps allowed."""


@dataclass(frozen=True, slots=True)
class RoomCalendar(Generic[R]):
    room_id: R
    busy: Sequence[Interval] = ()
    """Appointments held in the room, widened by their buffers."""


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    procedures: Sequence[ProcedureDemand]
    window: Interval
    """Start times are looked for in ``[window.start, window.end)``."""
    zone: ZoneInfo
    rules: BookingRules
    now: datetime
    professional_id: Hashable | None = None
    """Only this professional (still only if they perform every procedure); None: whoever does."""
    rooms: Sequence[RoomCalendar[Hashable]] | None = None
    """None: no room needed. Otherwise the rooms (of the needed type) the appointment could take."""
    shape: BlockShape = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", BlockShape.of(self.procedures))


# -- closed ranges of admissible start times, in microseconds ---------------------------------------------

Ranges = list[tuple[int, int]]
"""Sorted, disjoint closed ranges ``[a, b]`` of integers."""


def _merged_micros(intervals: Iterable[Interval]) -> list[tuple[int, int]]:
    """Half-open intervals as sorted, merged ``(start, end)`` microsecond pairs: one sort, one sweep."""
    pairs = sorted((to_micros(i.start), to_micros(i.end)) for i in intervals)
    merged: list[tuple[int, int]] = []
    for start, end in pairs:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _starts_clear_of(busy: Sequence[tuple[int, int]], lead: int, span: int) -> Ranges:
    """Starts ``t`` whose block ``[t - lead, t - lead + span)`` misses every merged busy interval."""
    ranges: Ranges = []
    gap_start = -_NEVER
    for start, end in (*busy, (_NEVER, _NEVER)):
        first, last = gap_start + lead, start - span + lead
        if first <= last:
            ranges.append((first, last))
        gap_start = end
    return ranges


def _starts_inside(working: Sequence[tuple[int, int]], duration: int) -> Ranges:
    """Starts ``t`` whose appointment ``[t, t + duration)`` lies inside one merged working interval."""
    return [(start, end - duration) for start, end in working if end - duration >= start]


def _union(ranges: Iterable[Ranges]) -> Ranges:
    merged: Ranges = []
    for first, last in sorted(r for group in ranges for r in group):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _intersect(left: Ranges, right: Ranges) -> Ranges:
    result: Ranges = []
    i = j = 0
    while i < len(left) and j < len(right):
        first, last = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if first <= last:
            result.append((first, last))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


def _offset_micros(instant: int, zone: ZoneInfo) -> int:
    offset = from_micros(instant).astimezone(zone).utcoffset()
    assert offset is not None
    return offset // ONE_MICROSECOND


def offset_pieces(first: int, last: int, zone: ZoneInfo) -> list[tuple[int, int, int]]:
    """``[first, last]`` cut where the zone's UTC offset changes: ``(start, end, offset)`` closed pieces.

    The offset is sampled every 6 hours and bisected to the microsecond where two samples differ (no zone
    changes its offset twice within 6 hours).
    """
    pieces: list[tuple[int, int, int]] = []
    start, offset = first, _offset_micros(first, zone)
    probe = first
    while probe < last:
        following = min(probe + _OFFSET_PROBE, last)
        following_offset = _offset_micros(following, zone)
        if following_offset != offset:
            lo, hi = probe, following  # offset(lo) == offset, offset(hi) != offset
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_micros(mid, zone) == offset:
                    lo = mid
                else:
                    hi = mid
            pieces.append((start, lo, offset))
            start, offset = hi, following_offset
        probe = following
    pieces.append((start, last, offset))
    return pieces


def _grid(ranges: Ranges, pieces: Sequence[tuple[int, int, int]], step: int) -> list[int]:
    """Every start in ``ranges`` on the local grid of ``step`` microseconds (both sorted)."""
    starts: list[int] = []
    p = 0
    for first, last in ranges:
        while p < len(pieces) and pieces[p][1] < first:
            p += 1
        q = p
        while q < len(pieces) and pieces[q][0] <= last:
            piece_start, piece_end, offset = pieces[q]
            low, high = max(first, piece_start), min(last, piece_end)
            # local wall time = utc + offset; on the grid when it is a multiple of the step
            t = -((-(low + offset)) // step) * step - offset
            starts.extend(range(t, high + 1, step))
            q += 1
    return starts


def find_slots(
    query: AvailabilityQuery, professionals: Iterable[ProfessionalCalendar[K]]
) -> dict[K, list[datetime]]:
    """The free start times (UTC, sorted) of each professional who can take the appointment.

    Every professional who performs all the requested procedures (and is the requested one, if any) is a
    key, even with no free time.
    """
    shape, rules = query.shape, query.rules
    duration = shape.duration // ONE_MICROSECOND
    lead, trail = shape.lead // ONE_MICROSECOND, shape.trail // ONE_MICROSECOND
    span = lead + duration + trail
    step = rules.slot_step_minutes * _MINUTE

    earliest = max(query.window.start, query.now + rules.min_notice)
    latest = min(query.window.end, query.now + rules.horizon)  # exclusive
    wanted = {demand.procedure_id for demand in query.procedures}
    candidates = [
        p
        for p in professionals
        if wanted <= p.performs
        and (query.professional_id is None or p.professional_id == query.professional_id)
    ]
    result: dict[K, list[datetime]] = {p.professional_id: [] for p in candidates}
    if not candidates or earliest >= latest:
        return result
    bounds: Ranges = [(to_micros(earliest), to_micros(latest) - 1)]
    if query.rooms is not None:
        rooms = _union(_starts_clear_of(_merged_micros(room.busy), lead, span) for room in query.rooms)
        bounds = _intersect(bounds, rooms)
        if not bounds:
            return result
    pieces = offset_pieces(bounds[0][0], bounds[-1][1], query.zone)

    for professional in candidates:
        admissible = _intersect(bounds, _starts_inside(_merged_micros(professional.working), duration))
        if admissible:
            admissible = _intersect(
                admissible, _starts_clear_of(_merged_micros(professional.busy), lead, span)
            )
        result[professional.professional_id] = [from_micros(t) for t in _grid(admissible, pieces, step)]
    return result


def local_day_groups(
    slots: Mapping[K, Sequence[datetime]], zone: ZoneInfo
) -> dict[str, dict[K, list[datetime]]]:
    """Slots by local date (ISO) then professional, each as an aware local datetime with its offset."""
    days: dict[str, dict[K, list[datetime]]] = {}
    for professional_id, starts in slots.items():
        for start in starts:
            local = start.astimezone(zone)
            days.setdefault(local.date().isoformat(), {}).setdefault(professional_id, []).append(local)
    return dict(sorted(days.items()))
