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
        self._pending: asyncio.Queue[tuple[OutboxMessage, int]] = asyncio.Queue()
        self._queued: set[str] = set()
        """Messages dispatched and not finished (queued, running, or waiting for a retry)."""
        self._finished = asyncio.Event()
        self._finished.set()
        self._last_runs: dict[str, str] = {}
        self.failures = 0

    async def dispatch(self, messages: Sequence[OutboxMessage]) -> None:
        for message in messages:
            if str(message.id) not in self._queued:  # like RQ refusing a job id it holds
                self._queued.add(str(message.id))
                self._finished.clear()
                self._pending.put_nowait((message, 0))

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
        """Handle what was dispatched, until cancelled. A failed message waits for its retry off the line,
        so one tenant's unreachable endpoint does not hold everybody's emails."""
        while True:
            message, attempt = await self._pending.get()
            try:
                await self._run(message, attempt)
            finally:
                self._pending.task_done()

    async def idle(self) -> None:
        """Wait until everything dispatched so far was handled or gave up (tests, shutdown)."""
        await self._finished.wait()

    async def _run(self, message: OutboxMessage, attempt: int) -> None:
        try:
            await self._handle(message)
        except Exception:
            log.exception("outbox message %s (%s) failed, attempt %d", message.id, message.topic, attempt + 1)
            if attempt < len(self._backoff):
                asyncio.get_running_loop().call_later(
                    self._backoff[attempt], self._pending.put_nowait, (message, attempt + 1)
                )
                return
            self.failures += 1  # left unhandled in the outbox: the relay hands it over again later
        self._done(message)

    def _done(self, message: OutboxMessage) -> None:
        self._queued.discard(str(message.id))
        if not self._queued:
            self._finished.set()
