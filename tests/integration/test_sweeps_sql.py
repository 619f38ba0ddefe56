"""The recurring sweeps over the real databases (PostgreSQL as the app role, and SQLite): reminders queued
once per (appointment, kind, start) even by concurrent sweeps, across a daylight-saving change; no-shows
marked once by concurrent sweeps; expired waitlist offers handed on once; the purge, concurrent too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.jobs.sweeps import every_tenant
from clinic_core.scheduling.appointments import AppointmentStatus, Transition
from clinic_core.scheduling.booking import Action, ChangeAppointmentStatus, ChangeStatusCommand
from clinic_core.scheduling.no_shows import MarkNoShows
from clinic_core.scheduling.reminders import QueueDueReminders
from clinic_core.scheduling.waitlist import ExpireWaitlistOffers
from clinic_core.scheduling.waitlist_model import EntryStatus, OfferStatus
from clinic_core.shared.clock import FixedClock
from clinic_infra.db.job_repositories import SqlTenantDirectory
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.jobs.wiring import job_services
from clinic_infra.settings import Settings
from tests.integration.job_world import job_db, job_engine
from tests.purge_scenario import check_what_is_left, purge, seed
from tests.sweep_world import SweepClinic, a_sweep_clinic

__all__ = ["job_db", "job_engine"]

BOOKED = datetime(2031, 4, 6, 9, 0, tzinfo=UTC)
START = datetime(2031, 4, 10, 14, 0, tzinfo=UTC)
REMINDER = "appointment.reminder_due"


async def remind(clinic: SweepClinic, at: datetime, *, batch_size: int = 200) -> int:
    counts = await QueueDueReminders(clinic.uow, FixedClock(at), batch_size=batch_size)(clinic.tenant)
    return counts["reminders_queued"]


async def test_concurrent_sweeps_queue_one_reminder_per_appointment_kind_and_start(
    job_engine: AsyncEngine,
) -> None:
    clinic = await a_sweep_clinic(SqlUnitOfWorkFactory(job_engine), patients=6)
    booked = [await clinic.book(START + timedelta(hours=i), BOOKED, patient=i) for i in range(6)]
    at = START - timedelta(hours=19)
    results = await asyncio.gather(*(remind(clinic, at, batch_size=2) for _ in range(4)))
    assert sum(results) == 6
    events = await clinic.events(REMINDER)
    assert sorted(e["appointment_id"] for e in events) == sorted(str(a.id) for a in booked)
    assert {e["kind"] for e in events} == {"24h"}
    assert await remind(clinic, at) == 0


async def test_reminders_follow_moves_and_skip_cancellations(job_engine: AsyncEngine) -> None:
    clinic = await a_sweep_clinic(SqlUnitOfWorkFactory(job_engine), patients=3)
    moved = await clinic.book(START, BOOKED, patient=0)
    cancelled = await clinic.book(START + timedelta(hours=1), BOOKED, patient=1)
    late = await clinic.book(START + timedelta(hours=2), START - timedelta(hours=12), patient=2)
    assert await remind(clinic, START - timedelta(hours=24)) == 1  # the moved one, at its first start
    await clinic.cancel(cancelled.id, START - timedelta(hours=23, minutes=30))
    later = START + timedelta(days=2)
    await clinic.move(moved.id, later, START - timedelta(hours=23))
    assert await remind(clinic, START - timedelta(hours=11)) == 0, "the late booking's 24 h one is covered"
    assert await remind(clinic, late.start - timedelta(hours=2)) == 1
    assert await remind(clinic, later - timedelta(hours=24)) == 1
    events = [(e["appointment_id"], e["kind"], e["start"]) for e in await clinic.events(REMINDER)]
    assert events == [
        (str(moved.id), "24h", START.isoformat()),
        (str(late.id), "2h", late.start.isoformat()),
        (str(moved.id), "24h", later.isoformat()),
    ]


async def test_reminders_fall_due_at_utc_instants_across_the_spring_forward(job_engine: AsyncEngine) -> None:
    new_york = ZoneInfo("America/New_York")
    uow = SqlUnitOfWorkFactory(job_engine)
    clinic = await a_sweep_clinic(uow, timezone="America/New_York")
    start = datetime(2026, 3, 8, 10, 0, tzinfo=new_york)  # 14:00 UTC, after the jump to EDT
    await clinic.book(start, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    tenants = SqlTenantDirectory(job_engine)

    async def sweep_at(at: datetime) -> int:
        work = every_tenant("appointment-reminders", tenants, QueueDueReminders(uow, FixedClock(at)))
        return int((await work())["reminders_queued"])

    assert await sweep_at(datetime(2026, 3, 7, 13, 59, tzinfo=UTC)) == 0
    assert await sweep_at(datetime(2026, 3, 7, 14, 0, tzinfo=UTC)) == 1  # 09:00 EST on the 7th
    assert await sweep_at(datetime(2026, 3, 8, 11, 59, tzinfo=UTC)) == 0
    assert await sweep_at(datetime(2026, 3, 8, 12, 0, tzinfo=UTC)) == 1  # 08:00 EDT on the 8th
    assert [(e["kind"], e["start"]) for e in await clinic.events(REMINDER)] == [
        ("24h", "2026-03-08T14:00:00+00:00"),
        ("2h", "2026-03-08T14:00:00+00:00"),
    ]


async def test_concurrent_no_show_sweeps_mark_each_appointment_once(job_engine: AsyncEngine) -> None:
    clinic = await a_sweep_clinic(SqlUnitOfWorkFactory(job_engine), patients=4)
    booked = [await clinic.book(START + timedelta(hours=i), BOOKED, patient=i) for i in range(4)]
    walked_in = booked[3]
    check_in = ChangeAppointmentStatus(clinic.uow, FixedClock(walked_in.start))
    await check_in(ChangeStatusCommand(clinic.actor, walked_in.id, Action.CHECK_IN))
    at = START + timedelta(hours=8)
    sweeps = [MarkNoShows(clinic.uow, FixedClock(at), batch_size=2) for _ in range(3)]
    results = await asyncio.gather(*(sweep(clinic.tenant) for sweep in sweeps))
    assert sum(r["no_shows_marked"] for r in results) == 3
    events = await clinic.events("appointment.no_show")
    assert sorted(e["appointment_id"] for e in events) == sorted(str(a.id) for a in booked[:3])
    assert [(await clinic.get(a.id)).status for a in booked] == [
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.CHECKED_IN,
    ]
    history = (await clinic.get(booked[0].id)).history
    assert [h.transition for h in history] == [Transition.CREATED, Transition.NO_SHOW]
    assert (history[-1].by.user_id, history[-1].by.api_key_id) == (None, None)


async def test_concurrent_expiry_sweeps_hand_expired_time_on_once(job_engine: AsyncEngine) -> None:
    clinic = await a_sweep_clinic(SqlUnitOfWorkFactory(job_engine), patients=5)
    booked = await clinic.book(START, BOOKED)
    for i in range(1, 5):
        await clinic.join_waitlist(
            i, BOOKED + timedelta(minutes=i), START - timedelta(hours=4), START + timedelta(hours=4)
        )
    cancelled_at = START - timedelta(hours=30)
    await clinic.cancel(booked.id, cancelled_at)
    at = cancelled_at + timedelta(hours=2)
    results = await asyncio.gather(
        *(ExpireWaitlistOffers(clinic.uow, FixedClock(at), batch_size=2)(clinic.tenant) for _ in range(3))
    )
    assert sum(r["offers_expired"] for r in results) == 3
    assert sum(r["offers_made"] for r in results) == 1
    waitlist = await clinic.waitlist()
    assert [status for status, _ in waitlist.values()] == [EntryStatus.WAITING] * 3 + [EntryStatus.OFFERED]
    assert [o.status for o in waitlist[clinic.entry_ids[3]][1]] == [OfferStatus.OPEN]
    assert len(await clinic.events("waitlist.offer_made")) == 4


async def test_the_purge_deletes_in_batches_and_keeps_what_is_still_valid(job_engine: AsyncEngine) -> None:
    clinic = await a_sweep_clinic(SqlUnitOfWorkFactory(job_engine))
    now = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
    outbox = await seed(clinic, now)
    tenants = SqlTenantDirectory(job_engine)
    first, second = await asyncio.gather(purge(clinic, tenants, now), purge(clinic, tenants, now))
    # At least the seeded ones: the sign-up's verification link (and other tests' records) expired too.
    assert first["account_tokens"] + second["account_tokens"] >= 2
    assert first["sessions"] + second["sessions"] >= 1
    await check_what_is_left(clinic, outbox)
    again = await purge(clinic, tenants, now)
    assert (again["account_tokens"], again["sessions"], again["outbox_rows"]) == (0, 0, 0)


async def test_the_deployment_runs_the_four_sweeps(job_engine: AsyncEngine) -> None:
    clinic = await a_sweep_clinic(SqlUnitOfWorkFactory(job_engine))
    booked = await clinic.book(START, BOOKED)
    clock = FixedClock(START + timedelta(minutes=31))
    services = job_services(Settings(no_show_grace_minutes=30), job_engine, clock)
    periods = {job.name: job.every for job in services.recurring}
    assert periods == {
        "appointment-reminders": timedelta(seconds=60),
        "mark-no-shows": timedelta(minutes=5),
        "expire-waitlist-offers": timedelta(seconds=60),
        "purge-expired": timedelta(hours=1),
    }
    runs = {job.name: await job.work() for job in services.recurring}
    assert runs["mark-no-shows"]["no_shows_marked"] >= 1
    assert (await clinic.get(booked.id)).status is AppointmentStatus.NO_SHOW
    assert all(run["tenants"] >= 1 for run in runs.values())
