"""The dispatcher process of ``clinic-worker``: the outbox relay and the recurring jobs' ticker.

A process of its own (started with ``spawn``, so it shares nothing with the RQ worker's parent), with one
event loop and one small connection pool. SIGTERM and SIGINT let the pass in progress finish; it also
stops when its parent dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from clinic_core.shared.clock import SystemClock
from clinic_infra.jobs.dispatcher import Dispatcher
from clinic_infra.jobs.operations import JobsConsole
from clinic_infra.jobs.rq_queue import RqJobQueue
from clinic_infra.jobs.wake import wake_for
from clinic_infra.jobs.wiring import app_engine, job_services
from clinic_infra.queues import sync_redis
from clinic_infra.settings import Settings
from clinic_worker import jobs

log = logging.getLogger("clinic_worker.dispatcher")

PARENT_CHECK_SECONDS = 2.0
REDIS_REPLY_SECONDS = 10.0
BACKLOG_SECONDS = 15.0
"""How often the outbox backlog is read for the metrics and ``clinic-admin jobs stats``."""


async def _serve(settings: Settings, parent_pid: int | None, factory: str | None) -> None:
    if not settings.redis_url:
        raise RuntimeError("the dispatcher needs CLINIC_REDIS_URL")
    if factory:
        services = jobs.load_factory(factory)()
    else:
        services = job_services(settings, app_engine(settings, pool_size=2), SystemClock())
    queue = RqJobQueue(sync_redis(settings.redis_url, socket_timeout=REDIS_REPLY_SECONDS))
    wake = wake_for(services.settings.effective_database_url)
    dispatcher = Dispatcher(services.relay(queue), services.recurring, queue, services.clock, wake=wake)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def watch_parent() -> None:
        while parent_pid is not None and not stop.is_set():
            if os.getppid() != parent_pid:
                log.warning("the worker process is gone: the dispatcher stops")
                stop.set()
            await asyncio.sleep(PARENT_CHECK_SECONDS)

    console = JobsConsole(
        sync_redis(settings.redis_url, socket_timeout=REDIS_REPLY_SECONDS), prefix=settings.redis_key_prefix
    )

    async def publish_backlog() -> None:
        while not stop.is_set():
            try:
                backlog = await services.outbox.backlog()
                await asyncio.to_thread(console.record_backlog, backlog)
            except Exception:  # a scrape shows the last figure; the relay logs the outage
                log.debug("outbox backlog not published", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), BACKLOG_SECONDS)

    watcher = asyncio.create_task(watch_parent())
    publisher = asyncio.create_task(publish_backlog())
    log.info("dispatcher started: outbox relay and %d recurring jobs", len(services.recurring))
    try:
        await dispatcher.run(stop)
    finally:
        watcher.cancel()
        publisher.cancel()
        if wake is not None:
            await wake.close()
        await services.engine.dispose()
        log.info("dispatcher stopped after %d relay passes", dispatcher.passes)


def run(parent_pid: int | None = None, services: str | None = None) -> None:
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve(settings, parent_pid, services))
