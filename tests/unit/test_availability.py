"""The availability engine: examples, DST change days, and properties against a brute-force oracle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure

from clinic_core.scheduling.availability import (
    SLOT_STEPS,
    AvailabilityQuery,
    BlockShape,
    BookingRules,
    ProcedureDemand,
    ProfessionalCalendar,
    RoomCalendar,
    find_slots,
    local_day_groups,
    offset_pieces,
)
from clinic_core.scheduling.intervals import Interval, to_micros
from clinic_core.scheduling.working_time import (
    ClockSpan,
    Weekday,
    WeeklySchedule,
    expand_working_time,
    local_dates_covering,
    local_days,
)

NEW_YORK = ZoneInfo("America/New_York")
LISBON = ZoneInfo("Europe/Lisbon")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
CONSULT, PEEL, LASER = uuid4(), uuid4(), uuid4()
ALICE, BRUNO = uuid4(), uuid4()
NO_NOTICE = BookingRules(min_notice=timedelta(0), horizon=timedelta(days=365), slot_step_minutes=15)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def consult(duration: int = 60, before: int = 0, after: int = 0) -> ProcedureDemand:
    return ProcedureDemand(CONSULT, minutes(duration), minutes(before), minutes(after))


def every_day(*spans: tuple[str, str]) -> WeeklySchedule:
    return WeeklySchedule.parse({day.label: list(spans) for day in Weekday}).unwrap()


def calendar(
    zone: ZoneInfo,
    first: date,
    last: date,
    week: WeeklySchedule | None = None,
    busy: Sequence[Interval] = (),
    professional: UUID = ALICE,
    performs: frozenset[UUID] = frozenset({CONSULT, PEEL}),
) -> ProfessionalCalendar[UUID]:
    working = expand_working_time(week or every_day(("09:00", "17:00")), zone, first, last)
    return ProfessionalCalendar(professional, frozenset(performs), working, busy)


def query(
    zone: ZoneInfo,
    first: date,
    last: date,
    procedures: Sequence[ProcedureDemand] = (),
    rules: BookingRules = NO_NOTICE,
    now: datetime = LONG_AGO,
    **extra: object,
) -> AvailabilityQuery:
    return AvailabilityQuery(
        procedures=procedures or [consult()],
        window=local_days(first, last, zone),
        zone=zone,
        rules=rules,
        now=now,
        **extra,  # type: ignore[arg-type]
    )


def local_times(slots: Sequence[datetime], zone: ZoneInfo) -> list[str]:
    return [slot.astimezone(zone).strftime("%H:%M") for slot in slots]


def grid(first: str, last: str, step: int = 15) -> list[str]:
    start, end = datetime.strptime(first, "%H:%M"), datetime.strptime(last, "%H:%M")  # noqa: DTZ007
    out = []
    while start <= end:
        out.append(start.strftime("%H:%M"))
        start += minutes(step)
    return out


# -- examples --------------------------------------------------------------------------------------------

DAY = date(2026, 6, 2)  # a Tuesday


def test_a_free_day_offers_every_start_from_opening_to_closing_minus_the_duration() -> None:
    slots = find_slots(query(SAO_PAULO, DAY, DAY), [calendar(SAO_PAULO, DAY, DAY)])
    assert local_times(slots[ALICE], SAO_PAULO) == grid("09:00", "16:00")
    assert all(slot.tzinfo is UTC for slot in slots[ALICE])
    assert slots[ALICE][0] == datetime(2026, 6, 2, 12, tzinfo=UTC)


def test_busy_blocks_and_the_new_blocks_buffers_keep_a_gap() -> None:
    # an appointment 11:00-12:00 local with 10 minutes after it: busy 14:00-15:10 UTC
    busy = [Interval(datetime(2026, 6, 2, 14, tzinfo=UTC), datetime(2026, 6, 2, 15, 10, tzinfo=UTC))]
    procedures = [consult(duration=30, before=15, after=5)]
    slots = find_slots(query(SAO_PAULO, DAY, DAY, procedures), [calendar(SAO_PAULO, DAY, DAY, busy=busy)])
    times = local_times(slots[ALICE], SAO_PAULO)
    # block = [t - 15, t + 35): must end by 11:00 -> t <= 10:25; must start at 12:10 -> t >= 12:25
    assert "10:15" in times
    assert "10:30" not in times
    assert "12:15" not in times
    assert "12:30" in times
    # the buffers may fall outside working hours, the appointment may not
    assert times[0] == "09:00"
    assert times[-1] == "16:30"


def test_several_procedures_add_their_durations_and_take_the_outer_buffers() -> None:
    procedures = [
        ProcedureDemand(CONSULT, minutes(30), minutes(10), minutes(20)),
        ProcedureDemand(PEEL, minutes(45), minutes(25), minutes(5)),
    ]
    shape = BlockShape.of(procedures)
    assert shape == BlockShape(minutes(75), minutes(10), minutes(5))
    start = datetime(2026, 6, 2, 12, tzinfo=UTC)
    assert shape.block(start) == Interval(start - minutes(10), start + minutes(80))
    slots = find_slots(query(SAO_PAULO, DAY, DAY, procedures), [calendar(SAO_PAULO, DAY, DAY)])
    assert local_times(slots[ALICE], SAO_PAULO)[-1] == "15:45"  # 15:45 + 75 min = 17:00


def test_only_professionals_who_perform_every_procedure_and_the_one_asked_for() -> None:
    alice = calendar(SAO_PAULO, DAY, DAY, performs=frozenset({CONSULT, PEEL}))
    bruno = calendar(SAO_PAULO, DAY, DAY, professional=BRUNO, performs=frozenset({CONSULT}))
    both = [consult(), ProcedureDemand(PEEL, minutes(30))]
    assert set(find_slots(query(SAO_PAULO, DAY, DAY), [alice, bruno])) == {ALICE, BRUNO}
    assert set(find_slots(query(SAO_PAULO, DAY, DAY, both), [alice, bruno])) == {ALICE}
    assert set(find_slots(query(SAO_PAULO, DAY, DAY, professional_id=BRUNO), [alice, bruno])) == {BRUNO}
    assert find_slots(query(SAO_PAULO, DAY, DAY, both, professional_id=BRUNO), [alice, bruno]) == {}
    laser = [ProcedureDemand(LASER, minutes(30))]
    assert find_slots(query(SAO_PAULO, DAY, DAY, laser), [alice, bruno]) == {}


def test_a_slot_needs_one_room_free_for_the_whole_block() -> None:
    def busy_local(first: str, last: str) -> Interval:
        h1, m1 = map(int, first.split(":"))
        h2, m2 = map(int, last.split(":"))
        return Interval(
            datetime(2026, 6, 2, h1, m1, tzinfo=SAO_PAULO), datetime(2026, 6, 2, h2, m2, tzinfo=SAO_PAULO)
        )

    one = RoomCalendar("room-1", [busy_local("09:00", "12:00")])
    two = RoomCalendar("room-2", [busy_local("11:00", "17:00")])
    procedures = [consult(duration=60, after=15)]
    prof = [calendar(SAO_PAULO, DAY, DAY)]
    slots = find_slots(query(SAO_PAULO, DAY, DAY, procedures, rooms=[one, two]), prof)
    # room-2 until its block [t, t+75) ends by 11:00 (t <= 09:45); room-1 from 12:00
    assert local_times(slots[ALICE], SAO_PAULO) == grid("09:00", "09:45") + grid("12:00", "16:00")
    assert find_slots(query(SAO_PAULO, DAY, DAY, procedures, rooms=[]), prof) == {ALICE: []}
    assert len(find_slots(query(SAO_PAULO, DAY, DAY, procedures, rooms=None), prof)[ALICE]) == 29


def test_minimum_notice_horizon_and_step() -> None:
    now = datetime(2026, 6, 2, 10, 7, 13, tzinfo=SAO_PAULO)
    rules = BookingRules(min_notice=minutes(120), horizon=timedelta(days=1), slot_step_minutes=30)
    slots = find_slots(
        query(SAO_PAULO, DAY, DAY + timedelta(days=1), rules=rules, now=now),
        [calendar(SAO_PAULO, DAY, DAY + timedelta(days=1))],
    )
    days = local_day_groups(slots, SAO_PAULO)
    # earliest 12:07:13 -> 12:30 on the 30-minute grid; the horizon ends at 10:07:13 the next day
    assert local_times(days["2026-06-02"][ALICE], SAO_PAULO) == grid("12:30", "16:00", 30)
    assert local_times(days["2026-06-03"][ALICE], SAO_PAULO) == ["09:00", "09:30", "10:00"]


def test_working_hours_off_the_grid_start_at_the_next_clock_step() -> None:
    week = every_day(("09:10", "11:00"))
    slots = find_slots(query(SAO_PAULO, DAY, DAY), [calendar(SAO_PAULO, DAY, DAY, week)])
    assert local_times(slots[ALICE], SAO_PAULO) == ["09:15", "09:30", "09:45", "10:00"]


def test_now_after_the_window_gives_empty_lists() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert find_slots(query(SAO_PAULO, DAY, DAY, now=now), [calendar(SAO_PAULO, DAY, DAY)]) == {ALICE: []}


@pytest.mark.parametrize(
    ("notice", "horizon", "step", "fields"),
    [
        (60, 90, 7, {"slot_step_minutes"}),
        (-1, 90, 15, {"min_notice_minutes"}),
        (60, 0, 15, {"horizon_days"}),
        (10**12, 10**12, 0, {"min_notice_minutes", "horizon_days", "slot_step_minutes"}),
        (2 * 24 * 60, 1, 15, {"horizon_days"}),
    ],
)
def test_booking_rules_report_bad_values(notice: int, horizon: int, step: int, fields: set[str]) -> None:
    result = BookingRules.parse(notice, horizon, step)
    assert isinstance(result, Failure)
    assert {error.field for error in result.failure().errors} == fields


def test_booking_rules_round_trip() -> None:
    rules = BookingRules.parse(90, 60, 20).unwrap()
    assert (rules.min_notice_minutes, rules.horizon_days, rules.slot_step_minutes) == (90, 60, 20)


# -- DST change days --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "offset"),
    [
        (NEW_YORK, date(2026, 3, 8), "-04:00"),
        (NEW_YORK, date(2026, 11, 1), "-05:00"),
        (LISBON, date(2026, 3, 29), "+01:00"),
        (LISBON, date(2026, 10, 25), "+00:00"),
        (SAO_PAULO, date(2026, 6, 2), "-03:00"),
        (SAO_PAULO, date(2026, 11, 1), "-03:00"),  # Brazil's old summer-time start: no change since 2019
    ],
)
@pytest.mark.parametrize("duration", [30, 45, 60])
def test_a_nine_to_five_day_offers_nine_to_five_minus_the_duration_local_on_change_days(
    zone: ZoneInfo, day: date, offset: str, duration: int
) -> None:
    procedures = [consult(duration=duration)]
    slots = find_slots(query(zone, day, day, procedures), [calendar(zone, day, day)])[ALICE]
    last = (datetime(2026, 1, 1, 17) - minutes(duration)).strftime("%H:%M")  # noqa: DTZ001
    assert local_times(slots, zone) == grid("09:00", last)
    assert {slot.astimezone(zone).isoformat()[-6:] for slot in slots} == {offset}
    day_groups = local_day_groups({ALICE: slots}, zone)
    assert list(day_groups) == [day.isoformat()]


def test_the_repeated_hour_is_offered_twice_and_the_skipped_one_never() -> None:
    week = every_day(("00:00", "04:00"))
    procedures = [consult(duration=30)]
    rules = BookingRules(min_notice=timedelta(0), horizon=timedelta(days=365), slot_step_minutes=30)
    fall = date(2026, 11, 1)
    slots = find_slots(query(NEW_YORK, fall, fall, procedures, rules), [calendar(NEW_YORK, fall, fall, week)])
    assert [slot.astimezone(NEW_YORK).isoformat()[11:] for slot in slots[ALICE]] == [
        "00:00:00-04:00",
        "00:30:00-04:00",
        "01:00:00-04:00",
        "01:30:00-04:00",
        "01:00:00-05:00",
        "01:30:00-05:00",
        "02:00:00-05:00",
        "02:30:00-05:00",
        "03:00:00-05:00",
        "03:30:00-05:00",
    ]
    spring = date(2026, 3, 8)
    slots = find_slots(
        query(NEW_YORK, spring, spring, procedures, rules), [calendar(NEW_YORK, spring, spring, week)]
    )
    assert local_times(slots[ALICE], NEW_YORK) == ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30"]


def test_a_half_hour_dst_change_keeps_the_hourly_grid_on_the_local_clock() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # +10:30 in winter, +11:00 in summer (from 2026-10-04 02:00)
    rules = BookingRules(min_notice=timedelta(0), horizon=timedelta(days=365), slot_step_minutes=60)
    day = date(2026, 10, 4)
    week = every_day(("00:00", "06:00"))
    slots = find_slots(
        query(lord_howe, day, day, [consult(30)], rules), [calendar(lord_howe, day, day, week)]
    )
    assert local_times(slots[ALICE], lord_howe) == ["00:00", "01:00", "03:00", "04:00", "05:00"]


def test_offset_pieces_split_at_the_change() -> None:
    window = local_days(date(2026, 3, 7), date(2026, 3, 9), NEW_YORK)
    pieces = offset_pieces(to_micros(window.start), to_micros(window.end), NEW_YORK)
    change = to_micros(datetime(2026, 3, 8, 7, tzinfo=UTC))
    hour = 3_600_000_000
    assert pieces == [
        (to_micros(window.start), change - 1, -5 * hour),
        (change, to_micros(window.end), -4 * hour),
    ]


# -- properties against a brute-force oracle --------------------------------------------------------------

ZONES = [
    NEW_YORK,
    LISBON,
    SAO_PAULO,
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Asia/Kathmandu"),
    ZoneInfo("UTC"),
]
FIRST_DAYS = [
    date(2026, 3, 7),
    date(2026, 3, 28),
    date(2026, 10, 3),
    date(2026, 10, 24),
    date(2026, 10, 31),
    date(2026, 6, 1),
]
spans_st = st.lists(st.integers(0, 288).map(lambda n: n * 5), max_size=6, unique=True).map(
    lambda points: tuple(
        ClockSpan(a, b) for a, b in zip(sorted(points)[::2], sorted(points)[1::2], strict=False) if a < b
    )
)
demand_st = st.builds(
    ProcedureDemand,
    st.sampled_from([CONSULT, PEEL]),
    st.integers(1, 180).map(minutes),
    st.integers(0, 30).map(minutes),
    st.integers(0, 30).map(minutes),
)
busy_st = st.lists(st.tuples(st.integers(0, 3 * 1440), st.integers(1, 240)), max_size=25)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AvailabilityQuery, list[ProfessionalCalendar[UUID]]]:
    zone = draw(st.sampled_from(ZONES))
    first = draw(st.sampled_from(FIRST_DAYS))
    last = first + timedelta(days=2)
    window = local_days(first, last, zone)
    origin = window.start

    def intervals(raw: list[tuple[int, int]]) -> list[Interval]:
        return [Interval(origin + minutes(start), origin + minutes(start + length)) for start, length in raw]

    professionals = []
    for professional in (ALICE, BRUNO):
        week = WeeklySchedule({Weekday(i): draw(spans_st) for i in range(7)})
        lo, hi = local_dates_covering(window, zone)
        working = expand_working_time(week, zone, lo, hi)
        professionals.append(
            ProfessionalCalendar(professional, frozenset({CONSULT, PEEL}), working, intervals(draw(busy_st)))
        )
    rooms = draw(
        st.none() | st.lists(st.builds(RoomCalendar, st.uuids(), busy_st.map(intervals)), max_size=3)
    )
    rules = BookingRules(
        min_notice=minutes(draw(st.integers(0, 24 * 60))),
        horizon=timedelta(days=draw(st.integers(1, 4))) + minutes(draw(st.integers(0, 1439))),
        slot_step_minutes=draw(st.sampled_from(SLOT_STEPS)),
    )
    now = origin + timedelta(seconds=draw(st.integers(-2 * 86400, 2 * 86400)))
    q = AvailabilityQuery(
        procedures=draw(st.lists(demand_st, min_size=1, max_size=3)),
        window=window,
        zone=zone,
        rules=rules,
        now=now,
        rooms=rooms,
    )
    return q, professionals


def oracle(q: AvailabilityQuery, professional: ProfessionalCalendar[UUID]) -> list[datetime]:
    """Every start on a 5-minute UTC walk, checked one condition at a time with no cleverness."""
    shape, expected = q.shape, []
    t = q.window.start
    while t < q.window.end:
        local = t.astimezone(q.zone)
        appointment, block = shape.appointment(t), shape.block(t)
        if (
            (local.hour * 60 + local.minute) % q.rules.slot_step_minutes == 0
            and local.second == 0
            and q.now + q.rules.min_notice <= t < q.now + q.rules.horizon
            and any(w.contains(appointment) for w in professional.working)
            and not any(b.overlaps(block) for b in professional.busy)
            and (q.rooms is None or any(not any(b.overlaps(block) for b in r.busy) for r in q.rooms))
        ):
            expected.append(t)
        t += minutes(5)
    return expected


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_the_engine_returns_exactly_the_starts_the_oracle_finds(
    scenario: tuple[AvailabilityQuery, list[ProfessionalCalendar[UUID]]],
) -> None:
    q, professionals = scenario
    slots = find_slots(q, professionals)
    assert set(slots) == {ALICE, BRUNO}
    for professional in professionals:
        found = slots[professional.professional_id]
        # the properties the issue names, each on its own, so a failure says which one broke
        for t in found:
            block = q.shape.block(t)
            assert not any(b.overlaps(block) for b in professional.busy), "overlaps a busy interval"
            assert any(w.contains(q.shape.appointment(t)) for w in professional.working), (
                "leaves working hours"
            )
            assert t >= q.now + q.rules.min_notice, "before the minimum notice"
            assert t < q.now + q.rules.horizon, "beyond the horizon"
            local = t.astimezone(q.zone)
            assert (local.minute % q.rules.slot_step_minutes, local.second, local.microsecond) == (0, 0, 0)
        assert found == sorted(found)
        assert found == oracle(q, professional)
