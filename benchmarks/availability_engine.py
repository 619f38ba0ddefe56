"""Availability engine benchmark: 20 professionals, 30 days, 2,000 existing appointments, no I/O.

    uv run --all-packages python -m benchmarks.availability_engine            # 50 runs
    uv run --all-packages python -m benchmarks.availability_engine --runs 200

A unit in America/Sao_Paulo; each professional works Monday to Friday 08:00-12:00 and 13:00-19:00 and
Saturday 08:00-12:00, with a date override (extra hours) and an afternoon of time off. The 2,000
appointments (100 a professional, 30 to 90 minutes, 0 to 15 minutes of buffers, none overlapping another
of the same professional) are placed at random (seeded) inside working time; 40 % of them are held in a
room of the requested type (the first of the 8 free for the whole block). The request is two procedures (30 + 45 minutes, 10 minutes of buffer on
each side) needing a room, for any professional, on a 15-minute grid.

Timed per call: ``find_slots`` alone (working time already expanded), and the whole computation a request
makes (expanding 20 weekly schedules over the month, then ``find_slots``). Median and p95 over the runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from clinic_core.scheduling.availability import (
    AvailabilityQuery,
    BookingRules,
    ProcedureDemand,
    ProfessionalCalendar,
    RoomCalendar,
    find_slots,
)
from clinic_core.scheduling.intervals import Interval, first_overlap, merge
from clinic_core.scheduling.working_time import (
    ClockSpan,
    DateOverride,
    OverrideKind,
    Weekday,
    WeeklySchedule,
    expand_working_time,
    local_dates_covering,
    local_days,
)

ZONE = ZoneInfo("America/Sao_Paulo")
FIRST, LAST = date(2026, 10, 1), date(2026, 10, 30)
PROFESSIONALS, APPOINTMENTS, ROOMS = 20, 2_000, 8
IN_A_ROOM = 0.4  # the share of appointments held in a room of the requested type
CONSULT, PEEL = uuid4(), uuid4()

WEEK = WeeklySchedule(
    {
        **{day: (ClockSpan(8 * 60, 12 * 60), ClockSpan(13 * 60, 19 * 60)) for day in list(Weekday)[:5]},
        Weekday.SATURDAY: (ClockSpan(8 * 60, 12 * 60),),
    }
)


def scenario(
    seed: int,
) -> tuple[AvailabilityQuery, list[tuple[UUID, list[DateOverride], list[Interval]]]]:
    rng = random.Random(seed)
    window = local_days(FIRST, LAST, ZONE)
    first, last = local_dates_covering(window, ZONE)
    people = []
    rooms: list[list[Interval]] = [[] for _ in range(ROOMS)]
    for n in range(PROFESSIONALS):
        overrides = [
            DateOverride(
                FIRST + timedelta(days=n % 7 + 7), OverrideKind.EXTRA, (ClockSpan(19 * 60, 21 * 60),)
            )
        ]
        day_off = datetime.combine(FIRST + timedelta(days=n % 20), datetime.min.time(), tzinfo=ZONE)
        busy = [Interval(day_off + timedelta(hours=13), day_off + timedelta(hours=19))]  # time off
        working = expand_working_time(WEEK, ZONE, first, last, overrides)
        placed: list[Interval] = []
        while len(placed) < APPOINTMENTS // PROFESSIONALS:
            shift = working[rng.randrange(len(working))]
            length = timedelta(minutes=rng.choice((30, 45, 60, 90)))
            if shift.duration < length:
                continue
            quarters = int((shift.duration - length) / timedelta(minutes=15))
            start = shift.start + timedelta(minutes=15 * rng.randint(0, quarters))
            block = Interval(start, start + length).widened(
                timedelta(minutes=rng.choice((0, 5, 10, 15))), timedelta(minutes=rng.choice((0, 5, 10, 15)))
            )
            if first_overlap(merge(placed), block) is not None:
                continue
            placed.append(block)
            for room in rooms if rng.random() < IN_A_ROOM else ():
                if first_overlap(merge(room), block) is None:
                    room.append(block)
                    break
        people.append((uuid4(), overrides, placed + busy))
    query = AvailabilityQuery(
        procedures=[
            ProcedureDemand(CONSULT, timedelta(minutes=30), timedelta(minutes=10), timedelta(minutes=10)),
            ProcedureDemand(PEEL, timedelta(minutes=45), timedelta(minutes=10), timedelta(minutes=10)),
        ],
        window=window,
        zone=ZONE,
        rules=BookingRules(min_notice=timedelta(hours=2), horizon=timedelta(days=90), slot_step_minutes=15),
        now=datetime(2026, 9, 30, 12, tzinfo=UTC),
        rooms=[RoomCalendar(f"room-{i}", busy) for i, busy in enumerate(rooms)],
    )
    return query, people


def calendars(
    query: AvailabilityQuery, people: list[tuple[UUID, list[DateOverride], list[Interval]]]
) -> list[ProfessionalCalendar[UUID]]:
    first, last = local_dates_covering(query.window, ZONE)
    return [
        ProfessionalCalendar(
            pid, frozenset({CONSULT, PEEL}), expand_working_time(WEEK, ZONE, first, last, ov), busy
        )
        for pid, ov, busy in people
    ]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    query, people = scenario(seed=2026)
    expanded = calendars(query, people)
    roomless = dataclasses.replace(query, rooms=None)
    engine_ms, whole_ms, roomless_ms = [], [], []
    slots = roomless_slots = 0
    for _ in range(args.runs):
        started = time.perf_counter()
        result = find_slots(query, expanded)
        engine_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        find_slots(query, calendars(query, people))
        whole_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        without_room = find_slots(roomless, expanded)
        roomless_ms.append((time.perf_counter() - started) * 1000)
        slots = sum(len(starts) for starts in result.values())
        roomless_slots = sum(len(starts) for starts in without_room.values())

    busy = sum(len(busy) for _, _, busy in people)
    print(
        f"Python {platform.python_version()}, {PROFESSIONALS} professionals, {FIRST} to {LAST} ({ZONE.key})"
    )
    print(f"{busy} busy intervals ({APPOINTMENTS} appointments + {PROFESSIONALS} time off), {ROOMS} rooms")
    print(f"{slots} slots a call ({roomless_slots} when no room is needed), {args.runs} runs")
    print("| computation | median ms | p95 ms |")
    print("|---|---:|---:|")
    print(
        f"| find_slots (working time expanded) | {statistics.median(engine_ms):.2f} | {percentile(engine_ms, 0.95):.2f} |"
    )
    print(
        f"| find_slots, no room needed | {statistics.median(roomless_ms):.2f} | {percentile(roomless_ms, 0.95):.2f} |"
    )
    print(
        f"| expansion of 20 weeks + find_slots | {statistics.median(whole_ms):.2f} | {percentile(whole_ms, 0.95):.2f} |"
    )


if __name__ == "__main__":
    main()
