"""The dispatcher and the embedded default: the relay loop, recurring runs once per period however many
dispatchers tick, and jobs handled inside the API's process when there is no Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from redis import Redis

from clinic_core.jobs.recurring import RecurringJob, RecurringRegistry
from clinic_core.shared.clock import FixedClock, SystemClock
from clinic_infra.db.engine import create_engine
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.jobs.dispatcher import Dispatcher
from clinic_infra.jobs.embedded import EmbeddedJobs
from clinic_infra.jobs.rq_queue import RqJobQueue
from clinic_infra.jobs.wake import wake_for
from clinic_infra.jobs.wiring import job_services
from clinic_infra.queues import queue
from clinic_infra.settings import Settings
from tests.conftest import PostgresDatabase
from tests.integration.conftest import sign_up
from tests.integration.job_world import JobDatabase, RecordingHandler, job_db, jobs_redis

__all__ = ["job_db", "jobs_redis"]


async def _until(condition: Any) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - the condition is another task's progress
            await asyncio.sleep(0.05)


async def test_the_embedded_default_handles_jobs_in_process(job_db: JobDatabase) -> None:
    handler = RecordingHandler()
    services = job_services(
        Settings(database_url=job_db.url), job_db.engine, SystemClock(), extra_handlers=(handler,)
    )
    jobs = EmbeddedJobs(services, idle_seconds=0.05)
    await jobs.start()
    try:
        signed = await sign_up(SqlUnitOfWorkFactory(job_db.engine))
        await _until(lambda: len([m for m in handler.handled if m.tenant_id == signed.tenant.id]) == 2)
        await _until(lambda: jobs.dispatcher.passes > 2)
        await jobs.queue.idle()
        assert jobs.queue.failures == 0
        assert (await services.outbox.backlog()).pending == 0
    finally:
        await jobs.stop()


async def test_a_failing_handler_is_retried_in_process(job_db: JobDatabase) -> None:
    handler = RecordingHandler()
    handler.fail = 2
    services = job_services(
        Settings(database_url=job_db.url), job_db.engine, SystemClock(), extra_handlers=(handler,)
    )
    jobs = EmbeddedJobs(services, idle_seconds=0.05)
    jobs.queue = type(jobs.queue)(services.handle, backoff=(0.05, 0.05, 0.05))
    jobs.dispatcher = Dispatcher(
        services.relay(jobs.queue), services.recurring, jobs.queue, services.clock, idle_seconds=0.05
    )
    await jobs.start()
    try:
        signed = await sign_up(SqlUnitOfWorkFactory(job_db.engine))
        await _until(lambda: len([m for m in handler.handled if m.tenant_id == signed.tenant.id]) == 2)
    finally:
        await jobs.stop()


async def test_a_recurring_run_starts_once_per_period_however_many_dispatchers_tick(
    job_db: JobDatabase, jobs_redis: Redis
) -> None:
    async def work() -> dict[str, Any]:
        return {}

    every = timedelta(minutes=5)
    registry = RecurringRegistry([RecurringJob("sweep", every, work)])
    services = job_services(Settings(database_url=job_db.url), job_db.engine, SystemClock())
    queue = RqJobQueue(jobs_redis)
    clock = FixedClock(SystemClock().now())
    dispatchers = [
        Dispatcher(services.relay(queue), registry, queue, clock, idle_seconds=0.01, tick_seconds=0.01)
        for _ in range(3)
    ]
    stop = asyncio.Event()
    running = [asyncio.create_task(d.run(stop)) for d in dispatchers]
    await _until(lambda: all(d.passes >= 3 for d in dispatchers))
    clock.advance(every)  # the next period: one more run
    passes = [d.passes for d in dispatchers]
    await _until(lambda: all(d.passes >= p + 3 for d, p in zip(dispatchers, passes, strict=True)))
    stop.set()
    await asyncio.gather(*running)
    runs = [job_id for job_id in queue_ids(jobs_redis) if job_id.startswith("recurring-sweep-")]
    assert len(runs) == 2
    assert len(set(runs)) == 2


def queue_ids(connection: Redis) -> list[str]:
    return queue("bulk", connection).get_job_ids()


async def test_a_commit_that_writes_outbox_rows_wakes_a_listening_relay(
    own_postgres: PostgresDatabase,
) -> None:
    wake = wake_for(own_postgres.app_url)
    assert wake is not None
    engine = create_engine(own_postgres.app_url)
    try:
        await wake.wait(0.01)  # listening from here on
        waiting = asyncio.create_task(wake.wait(600))
        await asyncio.sleep(0.1)
        assert not waiting.done(), "nothing was committed yet"
        await sign_up(SqlUnitOfWorkFactory(engine))
        async with asyncio.timeout(30):  # far less than the 600 s it would otherwise wait
            await waiting
    finally:
        await wake.close()
        await engine.dispose()
    assert wake_for("sqlite:///clinic.sqlite3") is None, "SQLite has no notifications: the relay polls"
