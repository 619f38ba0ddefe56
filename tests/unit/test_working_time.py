"""Working time: parsing the week and the overrides, and its expansion to UTC, on ordinary and DST days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from clinic_core.scheduling.intervals import Interval
from clinic_core.scheduling.working_time import (
    ClockSpan,
    DateOverride,
    OverrideKind,
    UnitClosure,
    Weekday,
    WeeklySchedule,
    expand_working_time,
    local_day,
    local_days,
    local_instant,
)

NEW_YORK = ZoneInfo("America/New_York")
LISBON = ZoneInfo("Europe/Lisbon")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def every_day(*spans: tuple[str, str]) -> WeeklySchedule:
    return WeeklySchedule.parse({day.label: list(spans) for day in Weekday}).unwrap()


def codes(result: object) -> list[str]:
    assert isinstance(result, Failure)
    return [error.code for error in result.failure().errors]


# -- parsing ---------------------------------------------------------------------------------------------


def test_a_span_reads_hh_mm_and_may_end_at_24_00() -> None:
    assert ClockSpan.parse("20:00", "24:00") == Success(ClockSpan(1200, 1440))
    assert str(ClockSpan(540, 1020)) == "09:00-17:00"


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("9:00", "17:00", "invalid_time"),
        ("24:00", "24:00", "invalid_time"),
        ("09:00", "24:01", "invalid_time"),
        ("09:60", "10:00", "invalid_time"),
        ("17:00", "09:00", "end_not_after_start"),
        ("09:00", "09:00", "end_not_after_start"),
        ("22:00", "02:00", "end_not_after_start"),
    ],
)
def test_bad_spans_are_refused_with_a_code(start: str, end: str, code: str) -> None:
    assert code in codes(ClockSpan.parse(start, end))


def test_the_week_reports_every_bad_day_at_once() -> None:
    result = WeeklySchedule.parse(
        {
            "monday": [("09:00", "12:00"), ("11:00", "13:00")],
            "funday": [("09:00", "10:00")],
            "tuesday": [("10:00", "09:00")],
        }
    )
    assert isinstance(result, Failure)
    fields = {(error.field, error.code) for error in result.failure().errors}
    assert fields == {
        ("days.monday", "overlapping_spans"),
        ("days.funday", "invalid_weekday"),
        ("days.tuesday[0].end", "end_not_after_start"),
    }


def test_the_week_sorts_spans_allows_touching_ones_and_drops_empty_days() -> None:
    week = WeeklySchedule.parse({"Monday": [("13:00", "18:00"), ("09:00", "13:00")], "sunday": []}).unwrap()
    assert week.spans_on(0) == (ClockSpan(540, 780), ClockSpan(780, 1080))
    assert week.spans_on(6) == ()
    assert list(week.days) == [Weekday.MONDAY]


def test_overrides_are_closed_or_have_spans() -> None:
    day = date(2026, 5, 1)
    assert DateOverride.parse(day, "closed", []) == Success(DateOverride(day, OverrideKind.CLOSED))
    assert codes(DateOverride.parse(day, "closed", [("09:00", "10:00")])) == ["spans_not_allowed"]
    assert codes(DateOverride.parse(day, "extra", [])) == ["spans_required"]
    assert codes(DateOverride.parse(day, "holiday", [])) == ["invalid_kind"]
    assert codes(DateOverride.parse(day, "replace", [("09:00", "11:00"), ("10:00", "12:00")])) == [
        "overlapping_spans"
    ]


# -- expansion -------------------------------------------------------------------------------------------


def test_an_ordinary_week_in_sao_paulo_is_three_hours_behind_utc() -> None:
    week = WeeklySchedule.parse({"monday": [("09:00", "12:00"), ("13:00", "18:00")]}).unwrap()
    # 2026-06-01 is a Monday; the week runs to Sunday 7th
    intervals = expand_working_time(week, SAO_PAULO, date(2026, 6, 1), date(2026, 6, 7))
    assert intervals == [
        Interval(utc(2026, 6, 1, 12), utc(2026, 6, 1, 15)),
        Interval(utc(2026, 6, 1, 16), utc(2026, 6, 1, 21)),
    ]
    assert all(i.start.astimezone(SAO_PAULO).utcoffset() == timedelta(hours=-3) for i in intervals)


def test_sao_paulo_keeps_minus_three_in_november_where_it_once_had_summer_time() -> None:
    # Brazil's summer time started on the first Sunday of November until 2018; abolished in 2019
    intervals = expand_working_time(
        every_day(("09:00", "17:00")), SAO_PAULO, date(2026, 11, 1), date(2026, 11, 1)
    )
    assert intervals == [Interval(utc(2026, 11, 1, 12), utc(2026, 11, 1, 20))]


def test_overrides_close_replace_or_add_and_closures_win() -> None:
    week = every_day(("09:00", "12:00"))
    overrides = [
        DateOverride(date(2026, 6, 2), OverrideKind.CLOSED),
        DateOverride(date(2026, 6, 3), OverrideKind.REPLACE, (ClockSpan(14 * 60, 16 * 60),)),
        DateOverride(date(2026, 6, 4), OverrideKind.EXTRA, (ClockSpan(11 * 60, 13 * 60),)),
        DateOverride(date(2026, 6, 6), OverrideKind.EXTRA, (ClockSpan(15 * 60, 16 * 60),)),
    ]
    closures = [UnitClosure(date(2026, 6, 5), date(2026, 6, 6), "Corpus Christi")]
    intervals = expand_working_time(week, SAO_PAULO, date(2026, 6, 1), date(2026, 6, 7), overrides, closures)
    assert intervals == [
        Interval(utc(2026, 6, 1, 12), utc(2026, 6, 1, 15)),
        Interval(utc(2026, 6, 3, 17), utc(2026, 6, 3, 19)),
        Interval(utc(2026, 6, 4, 12), utc(2026, 6, 4, 16)),  # 09-12 and 11-13 merged
        Interval(utc(2026, 6, 7, 12), utc(2026, 6, 7, 15)),
    ]


def test_a_night_shift_split_at_midnight_is_one_interval() -> None:
    week = WeeklySchedule.parse({"friday": [("20:00", "24:00")], "saturday": [("00:00", "08:00")]}).unwrap()
    intervals = expand_working_time(week, SAO_PAULO, date(2026, 6, 1), date(2026, 6, 7))
    assert intervals == [Interval(utc(2026, 6, 5, 23), utc(2026, 6, 6, 11))]


@pytest.mark.parametrize(
    ("zone", "day", "offset_hours"),
    [
        (NEW_YORK, date(2026, 3, 8), -4),  # spring forward at 02:00 EST
        (NEW_YORK, date(2026, 11, 1), -5),  # fall back at 02:00 EDT
        (LISBON, date(2026, 3, 29), 1),  # 01:00 WET -> 02:00 WEST
        (LISBON, date(2026, 10, 25), 0),  # 02:00 WEST -> 01:00 WET
    ],
)
def test_nine_to_five_stays_nine_to_five_local_on_the_days_the_clocks_change(
    zone: ZoneInfo, day: date, offset_hours: int
) -> None:
    [interval] = expand_working_time(every_day(("09:00", "17:00")), zone, day, day)
    start, end = interval.start.astimezone(zone), interval.end.astimezone(zone)
    assert (start.hour, start.minute, end.hour, end.minute) == (9, 0, 17, 0)
    assert start.utcoffset() == end.utcoffset() == timedelta(hours=offset_hours)
    assert interval.duration == timedelta(hours=8)


def test_a_span_across_the_spring_forward_gap_is_an_hour_shorter() -> None:
    [interval] = expand_working_time(
        every_day(("00:00", "06:00")), NEW_YORK, date(2026, 3, 8), date(2026, 3, 8)
    )
    assert interval == Interval(utc(2026, 3, 8, 5), utc(2026, 3, 8, 10))
    assert interval.duration == timedelta(hours=5)


def test_skipped_local_times_read_as_the_jump() -> None:
    # 02:00-02:59 does not exist in New York on 2026-03-08: the clocks go from 01:59:59 EST to 03:00 EDT
    jump = utc(2026, 3, 8, 7)
    assert local_instant(date(2026, 3, 8), 2 * 60 + 30, NEW_YORK) == jump
    assert local_instant(date(2026, 3, 8), 3 * 60, NEW_YORK) == jump
    # a span inside the gap is no time at all; one that ends in it ends at the jump
    week = WeeklySchedule.parse({"sunday": [("01:00", "02:30"), ("02:30", "02:45")]}).unwrap()
    assert expand_working_time(week, NEW_YORK, date(2026, 3, 8), date(2026, 3, 8)) == [
        Interval(utc(2026, 3, 8, 6), jump)
    ]
    # in Lisbon the gap is 01:00-01:59 on 2026-03-29
    assert local_instant(date(2026, 3, 29), 90, LISBON) == utc(2026, 3, 29, 1)


def test_a_span_across_the_fall_back_holds_both_passes_of_the_repeated_hour() -> None:
    [interval] = expand_working_time(
        every_day(("00:00", "03:00")), NEW_YORK, date(2026, 11, 1), date(2026, 11, 1)
    )
    assert interval == Interval(utc(2026, 11, 1, 4), utc(2026, 11, 1, 8))
    assert interval.duration == timedelta(hours=4)
    # a repeated time is its first pass (EDT)
    assert local_instant(date(2026, 11, 1), 90, NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert local_instant(date(2026, 10, 25), 90, LISBON) == utc(2026, 10, 25, 0, 30)


def test_local_days_last_23_24_or_25_hours() -> None:
    assert local_day(date(2026, 3, 29), LISBON).duration == timedelta(hours=23)
    assert local_day(date(2026, 10, 25), LISBON).duration == timedelta(hours=25)
    assert local_day(date(2026, 6, 1), LISBON).duration == timedelta(hours=24)
    assert local_days(date(2026, 10, 24), date(2026, 10, 26), LISBON).duration == timedelta(hours=73)


ZONES = [NEW_YORK, LISBON, SAO_PAULO, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kathmandu")]
CHANGE_DAYS = [
    date(2026, 3, 7),
    date(2026, 3, 28),
    date(2026, 4, 4),
    date(2026, 10, 3),
    date(2026, 10, 24),
    date(2026, 10, 31),
]
spans_st = st.lists(st.integers(0, 288).map(lambda n: n * 5), min_size=0, max_size=6, unique=True).map(
    lambda points: tuple(
        ClockSpan(a, b) for a, b in zip(sorted(points)[::2], sorted(points)[1::2], strict=False) if a < b
    )
)


def _repeated(instant: datetime, zone: ZoneInfo) -> bool:
    local = instant.astimezone(zone)
    return local.replace(fold=1 - local.fold).astimezone(UTC) != instant


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.sampled_from(CHANGE_DAYS),
    st.lists(spans_st, min_size=7, max_size=7),
)
def test_an_instant_is_worked_when_its_local_clock_time_is_in_a_span_of_its_local_date(
    zone: ZoneInfo, first: date, spans: list[tuple[ClockSpan, ...]]
) -> None:
    week = WeeklySchedule({Weekday(i): day for i, day in enumerate(spans)})
    last = first + timedelta(days=2)
    intervals = expand_working_time(week, zone, first, last)
    instant = local_instant(first, 0, zone)
    end = local_instant(last, 24 * 60, zone)
    while instant < end:
        local = instant.astimezone(zone)
        minute = local.hour * 60 + local.minute
        expected = any(s.start_minute <= minute < s.end_minute for s in week.spans_on(local.weekday()))
        worked = any(i.contains_instant(instant) for i in intervals)
        if not _repeated(instant, zone):  # the second pass of a repeated hour follows the span's ends
            assert worked == expected, (local.isoformat(), intervals)
        instant += timedelta(minutes=5)
