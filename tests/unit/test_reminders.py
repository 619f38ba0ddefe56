"""The reminder sweep on the in-memory adapters: when each reminder falls due and until when it is sent,
late bookings, cancellations, moves, repeated and concurrent sweeps, and a daylight-saving change."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic_core.jobs.sweeps import every_tenant
from clinic_core.scheduling.reminder_events import ReminderKind
from clinic_core.scheduling.reminders import QueueDueReminders, due_at, is_due, stale_at
from clinic_core.shared.clock import FixedClock
from clinic_core.testing import InMemoryUnitOfWorkFactory
from clinic_core.testing.jobs import InMemoryTenantDirectory
from tests.sweep_world import SweepClinic, a_sweep_clinic

BOOKED = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
START = datetime(2026, 4, 10, 14, 0, tzinfo=UTC)
TOPIC = "appointment.reminder_due"


async def sweep(clinic: SweepClinic, at: datetime, *, batch_size: int = 200) -> int:
    counts = await QueueDueReminders(clinic.uow, FixedClock(at), batch_size=batch_size)(clinic.tenant)
    return counts["reminders_queued"]


async def kinds(clinic: SweepClinic) -> list[tuple[str, str]]:
    return [(e["kind"], e["start"]) for e in await clinic.events(TOPIC)]


async def test_the_day_before_reminder_falls_due_24_hours_ahead_and_once() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    booked = await clinic.book(START, BOOKED)
    assert await sweep(clinic, START - timedelta(hours=24, seconds=1)) == 0
    assert await sweep(clinic, START - timedelta(hours=24)) == 1
    assert await sweep(clinic, START - timedelta(hours=23)) == 0, "queued once, whatever the sweeps"
    events = await clinic.events(TOPIC)
    assert len(events) == 1
    assert events[0]["kind"] == ReminderKind.DAY_BEFORE.value
    assert events[0]["appointment_id"] == str(booked.id)
    assert events[0]["patient_id"] == str(clinic.patients[0].id)
    assert events[0]["start"] == START.isoformat()


async def test_the_two_hour_reminder_follows_and_each_stops_when_superseded() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    booked = await clinic.book(START, BOOKED)
    await clinic.confirm(booked.id, BOOKED + timedelta(hours=1))  # confirmed ones are reminded too
    assert await sweep(clinic, START - timedelta(hours=24)) == 1
    assert await sweep(clinic, START - timedelta(hours=2, seconds=1)) == 0
    assert await sweep(clinic, START - timedelta(hours=2)) == 1
    assert await sweep(clinic, START - timedelta(minutes=1)) == 0
    assert await kinds(clinic) == [("24h", START.isoformat()), ("2h", START.isoformat())]


async def test_a_sweep_that_runs_late_sends_only_what_is_still_useful() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    await clinic.book(START, BOOKED)
    # The worker was down from the day before until 90 minutes before the start: the 24-hour reminder is
    # stale (the 2-hour one took over), and the 2-hour one still goes.
    assert await sweep(clinic, START - timedelta(minutes=90)) == 1
    assert await kinds(clinic) == [("2h", START.isoformat())]
    # Down until the start: nothing at all.
    other = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    await other.book(START, BOOKED)
    assert await sweep(other, START) == 0
    assert await sweep(other, START + timedelta(minutes=5)) == 0


async def test_an_appointment_booked_after_a_reminder_fell_due_does_not_get_it() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    await clinic.book(START, START - timedelta(hours=10))
    assert await sweep(clinic, START - timedelta(hours=9)) == 0, "the booking's confirmation covers it"
    assert await sweep(clinic, START - timedelta(hours=2)) == 1
    assert await kinds(clinic) == [("2h", START.isoformat())]


async def test_a_cancelled_appointment_gets_no_reminder() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    booked = await clinic.book(START, BOOKED)
    await clinic.cancel(booked.id, START - timedelta(hours=30))
    assert await sweep(clinic, START - timedelta(hours=24)) == 0
    assert await sweep(clinic, START - timedelta(hours=2)) == 0
    assert await clinic.events(TOPIC) == []


async def test_a_moved_appointment_is_reminded_of_its_new_start_only() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    booked = await clinic.book(START, BOOKED)
    assert await sweep(clinic, START - timedelta(hours=24)) == 1
    later = START + timedelta(days=2)
    await clinic.move(booked.id, later, START - timedelta(hours=20))
    assert await sweep(clinic, START - timedelta(hours=2)) == 0, "nothing for the old start"
    assert await sweep(clinic, later - timedelta(hours=24)) == 1
    assert await sweep(clinic, later - timedelta(hours=2)) == 1
    assert await kinds(clinic) == [
        ("24h", START.isoformat()),
        ("24h", later.isoformat()),
        ("2h", later.isoformat()),
    ]


async def test_a_move_into_a_reminders_window_is_covered_by_the_move() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    booked = await clinic.book(START, BOOKED)
    moved_at = START - timedelta(days=2)
    sooner = moved_at + timedelta(hours=10)  # its 24-hour reminder was due before the move
    await clinic.move(booked.id, sooner, moved_at)
    assert await sweep(clinic, moved_at + timedelta(minutes=1)) == 0
    assert await sweep(clinic, sooner - timedelta(hours=2)) == 1
    assert await kinds(clinic) == [("2h", sooner.isoformat())]


async def test_batches_cover_every_due_appointment() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory(), patients=5)
    starts = [START + timedelta(minutes=40 * i) for i in range(5)]
    for i, start in enumerate(starts):
        await clinic.book(start, BOOKED, patient=i)
    assert await sweep(clinic, starts[-1] - timedelta(hours=24), batch_size=2) == 5
    assert await sweep(clinic, starts[-1] - timedelta(hours=24), batch_size=2) == 0


async def test_concurrent_sweeps_queue_each_reminder_once() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory(), patients=3)
    for i in range(3):
        await clinic.book(START + timedelta(hours=i), BOOKED, patient=i)
    at = START - timedelta(hours=22)
    results = await asyncio.gather(*(sweep(clinic, at) for _ in range(4)))
    assert sum(results) == 3
    assert len(await clinic.events(TOPIC)) == 3


async def test_the_recurring_job_visits_every_active_tenant() -> None:
    uow = InMemoryUnitOfWorkFactory()
    first = await a_sweep_clinic(uow)
    second = await a_sweep_clinic(uow)
    await first.book(START, BOOKED)
    await second.book(START, BOOKED)
    work = every_tenant(
        "appointment-reminders",
        InMemoryTenantDirectory(uow.store),
        QueueDueReminders(uow, FixedClock(START - timedelta(hours=3))),
    )
    assert await work() == {"tenants": 2, "reminders_queued": 2}
    assert len(await first.events(TOPIC)) == len(await second.events(TOPIC)) == 1


def test_the_due_instants_are_absolute_hours_across_a_daylight_saving_change() -> None:
    new_york = ZoneInfo("America/New_York")
    # 2026-03-08 02:00 EST the clocks jumped to 03:00 EDT; the appointment is at 10:00 EDT (14:00 UTC).
    start = datetime(2026, 3, 8, 10, 0, tzinfo=new_york)
    day_before = due_at(start, ReminderKind.DAY_BEFORE)
    two_hours = due_at(start, ReminderKind.HOURS_BEFORE)
    assert day_before == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)
    local = day_before.astimezone(new_york)
    assert (local.date(), local.hour, local.utcoffset()) == (date(2026, 3, 7), 9, timedelta(hours=-5))
    assert two_hours == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    local = two_hours.astimezone(new_york)
    assert (local.date(), local.hour, local.utcoffset()) == (date(2026, 3, 8), 8, timedelta(hours=-4))
    assert stale_at(start, ReminderKind.DAY_BEFORE) == two_hours
    assert stale_at(start, ReminderKind.HOURS_BEFORE) == start
    booked = datetime(2026, 3, 1, tzinfo=UTC)
    assert not is_due(
        ReminderKind.DAY_BEFORE, start=start, scheduled_at=booked, now=day_before - timedelta(seconds=1)
    )
    assert is_due(ReminderKind.DAY_BEFORE, start=start, scheduled_at=booked, now=day_before)


async def test_a_sweep_across_the_jump_queues_at_the_utc_instants() -> None:
    new_york = ZoneInfo("America/New_York")
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory(), timezone="America/New_York")
    start = datetime(2026, 3, 8, 10, 0, tzinfo=new_york)
    await clinic.book(start, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert await sweep(clinic, datetime(2026, 3, 7, 13, 59, tzinfo=UTC)) == 0
    assert await sweep(clinic, datetime(2026, 3, 7, 9, 0, tzinfo=new_york)) == 1
    assert await sweep(clinic, datetime(2026, 3, 8, 7, 59, tzinfo=new_york)) == 0
    assert await sweep(clinic, datetime(2026, 3, 8, 8, 0, tzinfo=new_york)) == 1
    assert await kinds(clinic) == [("24h", "2026-03-08T14:00:00+00:00"), ("2h", "2026-03-08T14:00:00+00:00")]
