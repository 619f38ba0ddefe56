"""The embedded default's job queue: no Redis, the handlers run in the API's own event loop.

``dispatch`` puts messages on an asyncio queue that one consumer task drains, so that a request never
waits for an email. A message whose handlers fail is tried again a few times with backoff; after that it
stays unhandled in the outbox, and the relay hands it over again later (``REDISPATCH_AFTER``). Nothing is
lost when the process stops: what was not handled is still pending in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from clinic_core.jobs.handlers import HandleOutboxMessage
from clinic_core.jobs.model import OutboxMessage
from clinic_core.jobs.recurring import RecurringJob

log = logging.getLogger(__name__)

IN_PROCESS_BACKOFF_SECONDS = (1.0, 5.0, 30.0)


class InProcessJobQueue:
    def __init__(
        self, handle: HandleOutboxMessage, *, backoff: Sequence[float] = IN_PROCESS_BACKOFF_SECONDS
    ) -> None:
        self._handle = handle
        self._backoff = tuple(backoff)
        self._pending: asyncio.Queue[OutboxMessage] = asyncio.Queue()
        self._queued: set[str] = set()
        self._last_runs: dict[str, str] = {}
        self.failures = 0

    async def dispatch(self, messages: Sequence[OutboxMessage]) -> None:
        for message in messages:
            if str(message.id) not in self._queued:  # like RQ refusing a job id it holds
                self._queued.add(str(message.id))
                self._pending.put_nowait(message)

    async def enqueue_recurring(self, job: RecurringJob, run_id: str) -> bool:
        if self._last_runs.get(job.name) == run_id:
            return False
        self._last_runs[job.name] = run_id
        try:
            counts = await job.work()
        except Exception:
            log.exception("recurring job %s failed", job.name)
            self.failures += 1
        else:
            log.info("recurring job %s: %s", job.name, counts)
        return True

    async def drain(self) -> None:
        """Handle what was dispatched, until cancelled."""
        while True:
            message = await self._pending.get()
            try:
                await self._run(message)
            finally:
                self._queued.discard(str(message.id))
                self._pending.task_done()

    async def idle(self) -> None:
        """Wait until everything dispatched so far was handled (tests, shutdown)."""
        await self._pending.join()

    async def _run(self, message: OutboxMessage) -> None:
        for attempt, wait in enumerate((*self._backoff, None)):
            try:
                await self._handle(message)
            except Exception:
                log.exception(
                    "outbox message %s (%s) failed, attempt %d", message.id, message.topic, attempt + 1
                )
                if wait is None:
                    self.failures += 1
                    return
                await asyncio.sleep(wait)
            else:
                return
