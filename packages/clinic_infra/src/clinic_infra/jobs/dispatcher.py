"""The dispatcher: the loop that runs the outbox relay and ticks the recurring jobs.

It runs in ``clinic-worker`` (a process of its own beside the RQ worker) and, in the embedded default,
inside the API's event loop. Several dispatchers may run at once: relays skip each other's locked rows,
and a recurring run's job id is its period's, which the queue takes once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from clinic_core.jobs.ports import QueueUnavailable
from clinic_core.jobs.recurring import RecurringJob, RecurringRegistry
from clinic_core.jobs.relay import RelayOutbox
from clinic_core.shared.clock import Clock
from clinic_infra.jobs.wake import OutboxWake

log = logging.getLogger(__name__)


WAKE_WAIT_SECONDS = 1.0


class RecurringQueue(Protocol):
    async def enqueue_recurring(self, job: RecurringJob, run_id: str) -> bool:
        """Start ``job``'s run ``run_id`` unless it was started already."""
        ...


class Dispatcher:
    def __init__(
        self,
        relay: RelayOutbox,
        recurring: RecurringRegistry,
        queue: RecurringQueue,
        clock: Clock,
        *,
        idle_seconds: float = 0.2,
        tick_seconds: float = 5.0,
        max_backoff_seconds: float = 30.0,
        wake: OutboxWake | None = None,
    ) -> None:
        self._relay = relay
        self._recurring = recurring
        self._queue = queue
        self._clock = clock
        self._idle = idle_seconds
        self._tick = tick_seconds
        self._max_backoff = max_backoff_seconds
        self._wake = wake
        """With a wake (PostgreSQL's notifications), an idle relay waits for it, up to the tick."""
        self._last_runs: dict[str, str] = {}
        self.passes = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay and tick until ``stop`` is set; a pass in progress finishes first."""
        backoff = 0.0
        next_tick = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if loop.time() >= next_tick:
                await self._tick_recurring()
                next_tick = loop.time() + self._tick
            try:
                outcome = await self._relay()
            except Exception:  # the database is down or restarting: try again later, never die
                log.exception("outbox relay pass failed")
                backoff = min(max(backoff * 2, 1.0), self._max_backoff)
            else:
                self.passes += 1
                if outcome.queue_down:
                    backoff = min(max(backoff * 2, 1.0), self._max_backoff)
                else:
                    backoff = 0.0
                    if outcome.full:
                        continue
            if self._wake is not None and not backoff:
                # Up to a second: the safety net for a lost notification, and how soon a stop is seen.
                await self._wake.wait(max(0.01, min(WAKE_WAIT_SECONDS, next_tick - loop.time())))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff or self._idle)

    async def _tick_recurring(self) -> None:
        now = self._clock.now()
        for job in self._recurring:
            run_id = job.run_id(now)
            if self._last_runs.get(job.name) == run_id:
                continue
            try:
                if await self._queue.enqueue_recurring(job, run_id):
                    log.info("recurring job %s started (%s)", job.name, run_id)
                self._last_runs[job.name] = run_id
            except QueueUnavailable as error:
                log.warning("recurring job %s not started, queue unavailable: %s", job.name, error)
            except Exception:
                log.exception("recurring job %s could not be started", job.name)
