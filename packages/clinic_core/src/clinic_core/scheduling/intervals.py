"""Half-open intervals of time, ``[start, end)``, and the sweeps over sorted lists of them.

Every interval holds aware datetimes normalised to UTC. The normalisation is not cosmetic: Python compares
two datetimes that share one ``tzinfo`` object by their wall-clock fields, ignoring ``fold`` and the offset,
so ``01:30 EDT`` and ``01:30 EST`` (the same local time, one hour apart) would compare equal in
America/New_York. In UTC every comparison is between instants.

Half-open means an appointment from 09:00 to 10:00 and one from 10:00 to 11:00 do not overlap, and the union
of ``[a, b)`` and ``[b, c)`` is ``[a, c)``: ``merge`` joins intervals that touch.

The functions that take lists expect them sorted by start and merged (what ``merge`` returns) unless they
say otherwise, and run in one linear sweep over their inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """The instants ``start <= t < end``; ``start < end`` always (an empty interval is not an interval)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None or self.end.utcoffset() is None:
            raise ValueError("Interval: start and end must be aware datetimes")
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        if not start < end:
            raise ValueError(f"Interval: start {start.isoformat()} is not before end {end.isoformat()}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def of(cls, start: datetime, duration: timedelta) -> Interval:
        return cls(start, start + duration)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end

    def contains_instant(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def widened(self, before: timedelta, after: timedelta) -> Interval:
        """This interval with ``before`` added ahead of it and ``after`` behind it (the buffers)."""
        return Interval(self.start - before, self.end + after)

    def clipped(self, window: Interval) -> Interval | None:
        """The part of this interval inside ``window``, or None when they do not overlap."""
        start, end = max(self.start, window.start), min(self.end, window.end)
        return Interval(start, end) if start < end else None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of ``intervals`` (in any order), as sorted disjoint intervals; touching ones are joined."""
    ordered = sorted(intervals)
    merged: list[Interval] = []
    for current in ordered:
        if merged and current.start <= merged[-1].end:
            if current.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, current.end)
        else:
            merged.append(current)
    return merged


def subtract(base: Sequence[Interval], removed: Sequence[Interval]) -> list[Interval]:
    """The parts of ``base`` outside ``removed``; both sorted and merged. One sweep: O(len(base) + len(removed))."""
    result: list[Interval] = []
    j = 0
    for interval in base:
        start = interval.start
        # skip what ends before this interval starts: it cannot touch this one or any later one
        while j < len(removed) and removed[j].end <= start:
            j += 1
        k = j
        while k < len(removed) and removed[k].start < interval.end:
            if removed[k].start > start:
                result.append(Interval(start, removed[k].start))
            start = max(start, removed[k].end)
            if start >= interval.end:
                break
            k += 1
        if start < interval.end:
            result.append(Interval(start, interval.end))
    return result


def intersect(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """The instants in both; both sorted and merged. One sweep: O(len(first) + len(second))."""
    result: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start, end = max(first[i].start, second[j].start), min(first[i].end, second[j].end)
        if start < end:
            result.append(Interval(start, end))
        if first[i].end < second[j].end:
            i += 1
        else:
            j += 1
    return result


def first_overlap(merged_intervals: Sequence[Interval], probe: Interval) -> Interval | None:
    """The first of sorted, merged intervals that overlaps ``probe``, found by bisection: O(log n)."""
    lo, hi = 0, len(merged_intervals)
    while lo < hi:  # the first interval whose end is after probe.start
        mid = (lo + hi) // 2
        if merged_intervals[mid].end <= probe.start:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(merged_intervals) and merged_intervals[lo].start < probe.end:
        return merged_intervals[lo]
    return None


def to_micros(instant: datetime) -> int:
    """Microseconds since the Unix epoch: exact integer arithmetic for the sweeps."""
    return (instant - EPOCH) // ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)
