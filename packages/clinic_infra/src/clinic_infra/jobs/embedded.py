"""Jobs in the API's own event loop, for the embedded default (no Redis): the same relay, handlers and
recurring jobs as ``clinic-worker``, with ``InProcessJobQueue`` in place of RQ."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from clinic_infra.jobs.dispatcher import Dispatcher
from clinic_infra.jobs.in_process import InProcessJobQueue
from clinic_infra.jobs.wake import wake_for
from clinic_infra.jobs.wiring import JobServices

log = logging.getLogger(__name__)


class EmbeddedJobs:
    def __init__(self, services: JobServices, *, idle_seconds: float = 0.5) -> None:
        self.services = services
        self.queue = InProcessJobQueue(services.handle)
        self._wake = wake_for(services.settings.effective_database_url)
        self.dispatcher = Dispatcher(
            services.relay(self.queue),
            services.recurring,
            self.queue,
            services.clock,
            idle_seconds=idle_seconds,
            wake=self._wake,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self.dispatcher.run(self._stop), name="clinic-jobs-dispatcher"),
            asyncio.create_task(self.queue.drain(), name="clinic-jobs-runner"),
        ]
        log.info("jobs run in this process (no CLINIC_REDIS_URL): outbox relay, handlers, recurring jobs")

    async def stop(self) -> None:
        """Let the relay pass end; a message being handled is cut short and stays pending in the outbox."""
        self._stop.set()
        dispatcher, runner = self._tasks or (None, None)
        if dispatcher is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(dispatcher, 10)
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._tasks = []
        if self._wake is not None:
            await self._wake.close()
