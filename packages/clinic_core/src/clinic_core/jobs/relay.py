"""The relay: outbox rows to the job queue, one pass at a time.

A pass claims a batch of rows (skipping those another relay holds), hands them to the queue with each
row's id as the job's id, and records them as published in the same transaction that locked them. If the
queue is down the pass rolls back and the rows wait for the next one. If the relay dies after the queue
took the jobs but before its commit, the next pass hands them over again: the queue refuses a job id it
holds already, and handler receipts absorb a job that ran and was forgotten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from clinic_core.jobs.ports import JobQueue, OutboxSource, QueueUnavailable
from clinic_core.shared.clock import Clock

log = logging.getLogger(__name__)

REDISPATCH_AFTER = timedelta(minutes=15)
"""A published row that no handler finished this long after is dispatched again (its job was lost)."""


@dataclass(frozen=True, slots=True)
class RelayPass:
    dispatched: int
    queue_down: bool = False

    @property
    def full(self) -> bool:
        """Whether the pass may have left rows behind (another pass should follow at once)."""
        return self.dispatched > 0 and not self.queue_down


class RelayOutbox:
    def __init__(
        self,
        source: OutboxSource,
        queue: JobQueue,
        clock: Clock,
        *,
        batch_size: int = 200,
        redispatch_after: timedelta = REDISPATCH_AFTER,
    ) -> None:
        self._source = source
        self._queue = queue
        self._clock = clock
        self._batch_size = batch_size
        self._redispatch_after = redispatch_after

    async def __call__(self) -> RelayPass:
        now = self._clock.now()
        try:
            async with self._source.claim(
                limit=self._batch_size, redispatch_before=now - self._redispatch_after
            ) as batch:
                messages = list(batch.messages)
                if not messages:
                    return RelayPass(0)
                await self._queue.dispatch(messages)
                await batch.published([m.id for m in messages], now)
        except QueueUnavailable as error:
            log.warning("job queue unavailable, outbox rows wait: %s", error)
            return RelayPass(0, queue_down=True)
        return RelayPass(len(messages))
