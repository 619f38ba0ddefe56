"""Half-open UTC intervals and the sweeps over them, checked against sets of minutes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_core.scheduling.intervals import (
    Interval,
    first_overlap,
    from_micros,
    intersect,
    merge,
    subtract,
    to_micros,
)

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def at(minute: int) -> datetime:
    return BASE + timedelta(minutes=minute)


def span(first: int, last: int) -> Interval:
    return Interval(at(first), at(last))


def minutes_of(intervals: list[Interval]) -> set[int]:
    return {
        minute
        for interval in intervals
        for minute in range(
            int((interval.start - BASE) / timedelta(minutes=1)),
            int((interval.end - BASE) / timedelta(minutes=1)),
        )
    }


def is_sorted_disjoint(intervals: list[Interval]) -> bool:
    return all(a.end < b.start for a, b in itertools.pairwise(intervals))


intervals_st = st.lists(
    st.tuples(st.integers(0, 500), st.integers(1, 120)).map(lambda p: span(p[0], p[0] + p[1])), max_size=12
)


def test_an_interval_holds_utc_instants_so_the_two_passes_of_a_repeated_hour_differ() -> None:
    new_york = ZoneInfo("America/New_York")
    first_pass = datetime(2026, 11, 1, 1, 30, tzinfo=new_york)  # EDT
    second_pass = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=new_york)  # EST, an hour later
    interval = Interval(first_pass, second_pass)
    assert interval.duration == timedelta(hours=1)
    assert interval.start.tzinfo is UTC
    assert interval.start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(10), at(10)),
        (at(10), at(9)),
        (datetime(2026, 3, 1, 9), datetime(2026, 3, 1, 10)),  # noqa: DTZ001 - naive on purpose
    ],
)
def test_empty_reversed_or_naive_intervals_are_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match="Interval"):
        Interval(start, end)


def test_half_open_intervals_that_touch_do_not_overlap_but_merge() -> None:
    assert not span(0, 60).overlaps(span(60, 120))
    assert span(0, 61).overlaps(span(60, 120))
    assert merge([span(60, 120), span(0, 60), span(200, 210)]) == [span(0, 120), span(200, 210)]


def test_subtract_and_intersect_on_examples() -> None:
    base = [span(0, 100), span(200, 300)]
    removed = [span(50, 60), span(90, 210), span(290, 400)]
    assert subtract(base, removed) == [span(0, 50), span(60, 90), span(210, 290)]
    assert intersect(base, removed) == [span(50, 60), span(90, 100), span(200, 210), span(290, 300)]


def test_first_overlap_finds_the_earliest_clash_by_bisection() -> None:
    busy = merge([span(0, 10), span(20, 30), span(40, 50)])
    assert first_overlap(busy, span(25, 45)) == span(20, 30)
    assert first_overlap(busy, span(10, 20)) is None
    assert first_overlap(busy, span(50, 60)) is None
    assert first_overlap([], span(0, 1)) is None


def test_microseconds_round_trip() -> None:
    instant = datetime(2026, 10, 25, 1, 30, 0, 123, tzinfo=UTC)
    assert from_micros(to_micros(instant)) == instant


@settings(max_examples=200, deadline=None)
@given(intervals_st)
def test_merge_keeps_every_minute_and_returns_sorted_disjoint(intervals: list[Interval]) -> None:
    merged = merge(intervals)
    assert minutes_of(merged) == minutes_of(intervals)
    assert is_sorted_disjoint(merged)


@settings(max_examples=200, deadline=None)
@given(intervals_st, intervals_st)
def test_subtract_and_intersect_agree_with_set_arithmetic(
    first: list[Interval], second: list[Interval]
) -> None:
    a, b = merge(first), merge(second)
    difference, common = subtract(a, b), intersect(a, b)
    assert minutes_of(difference) == minutes_of(a) - minutes_of(b)
    assert minutes_of(common) == minutes_of(a) & minutes_of(b)
    assert all(x.end <= y.start for x, y in itertools.pairwise(difference))
    assert all(x.end <= y.start for x, y in itertools.pairwise(common))


@settings(max_examples=200, deadline=None)
@given(intervals_st, st.integers(0, 600), st.integers(1, 60))
def test_first_overlap_agrees_with_a_linear_scan(intervals: list[Interval], start: int, length: int) -> None:
    merged = merge(intervals)
    probe = span(start, start + length)
    expected = next((interval for interval in merged if interval.overlaps(probe)), None)
    assert first_overlap(merged, probe) == expected
