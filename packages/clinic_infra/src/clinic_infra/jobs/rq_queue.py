"""RQ as the job queue: one job per outbox message, the message's id as the job's id.

Jobs are enqueued with ``unique=True`` (RQ refuses a job id it holds, atomically, in a Lua script), a
``Retry`` with backoff, and a timeout; they name their function by dotted path, so the process that
enqueues them (the relay) never imports the worker. A recurring job's run is enqueued the same way with
its period's id, so several dispatchers ticking at once enqueue it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import DuplicateJobError

from clinic_core.jobs.model import OutboxMessage
from clinic_core.jobs.ports import QueueUnavailable
from clinic_core.jobs.recurring import RecurringJob
from clinic_core.jobs.routing import JOB_TIMEOUT_SECONDS, RETRY_BACKOFF_SECONDS, priority_of
from clinic_infra.queues import queue

OUTBOX_JOB = "clinic_worker.jobs.handle_outbox_message"
RECURRING_JOB = "clinic_worker.jobs.run_recurring"

RESULT_TTL_SECONDS = 3600
"""A finished job's record stays an hour (then the receipts in the database are what remains)."""
FAILURE_TTL_SECONDS = int(timedelta(days=30).total_seconds())
"""A job that exhausted its retries stays in the failed registry for 30 days, for ``jobs requeue``."""


def _retry() -> Retry:
    return Retry(max=len(RETRY_BACKOFF_SECONDS), interval=list(RETRY_BACKOFF_SECONDS))


def enqueue_unique(
    connection: Redis,
    queue_name: str,
    func: str,
    job_id: str,
    kwargs: dict[str, Any],
    *,
    description: str,
    retry: Retry | None,
    result_ttl: int = RESULT_TTL_SECONDS,
) -> bool:
    """Enqueue ``func(**kwargs)`` as job ``job_id``; False when the queue holds that job id already."""
    try:
        queue(queue_name, connection).enqueue_call(
            func,
            kwargs=kwargs,
            job_id=job_id,
            unique=True,
            retry=retry,
            timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=result_ttl,
            failure_ttl=FAILURE_TTL_SECONDS,
            description=description,
        )
    except DuplicateJobError:
        return False
    return True


class RqJobQueue:
    def __init__(self, connection: Redis) -> None:
        self._connection = connection

    async def dispatch(self, messages: Sequence[OutboxMessage]) -> None:
        await asyncio.to_thread(self._dispatch, list(messages))

    def _dispatch(self, messages: list[OutboxMessage]) -> None:
        try:
            for message in messages:
                enqueue_unique(
                    self._connection,
                    priority_of(message.topic).value,
                    OUTBOX_JOB,
                    str(message.id),
                    {"message": message.to_job()},
                    description=f"{message.topic} {message.id}",
                    retry=_retry(),
                )
        except RedisError as error:
            raise QueueUnavailable(str(error)) from error

    async def enqueue_recurring(self, job: RecurringJob, run_id: str) -> bool:
        def enqueue() -> bool:
            try:
                return enqueue_unique(
                    self._connection,
                    job.priority.value,
                    RECURRING_JOB,
                    run_id,
                    {"name": job.name},
                    description=run_id,
                    retry=Retry(max=2, interval=[30, 120]),
                    # The finished run's id must outlive its period, or a later tick would run it again.
                    result_ttl=max(RESULT_TTL_SECONDS, int(job.every.total_seconds()) + 60),
                )
            except RedisError as error:
                raise QueueUnavailable(str(error)) from error

        return await asyncio.to_thread(enqueue)
