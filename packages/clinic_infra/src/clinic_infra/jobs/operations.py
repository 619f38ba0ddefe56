"""What operators see of the jobs: queue depths, outcomes, the failed registry, requeueing; and the same
figures for Prometheus.

Job outcomes are counted in Redis (a hash per kind, written by the work horses that ran the jobs), since
a forked work horse's own counters die with it. The dispatcher writes the outbox backlog there on each
tick, so that a scrape does not touch the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from clinic_core.jobs.ports import OutboxBacklog
from clinic_infra.queues import DEFAULT_QUEUES, queue

OUTCOMES_KEY = "jobs:outcomes"
"""Hash ``topic|handler|outcome`` -> count, under the deployment's key prefix."""
FAILURES_KEY = "jobs:failures"
"""Hash ``job kind|exception type`` -> count of failed attempts (retried or not)."""
BACKLOG_KEY = "jobs:outbox-backlog"


@dataclass(frozen=True, slots=True)
class QueueDepth:
    name: str
    queued: int
    started: int
    scheduled: int
    """Waiting for a retry's backoff (or a time) to move back to the queue."""
    failed: int
    finished: int


@dataclass(frozen=True, slots=True)
class JobsStats:
    queues: tuple[QueueDepth, ...]
    workers: int
    outcomes: dict[str, int]
    failures: dict[str, int]
    backlog: OutboxBacklog | None
    backlog_read_at: float | None


@dataclass(frozen=True, slots=True)
class FailedJob:
    id: str
    queue: str
    description: str
    failed_at: datetime | None
    error: str


class JobsConsole:
    """``clinic-admin jobs`` over one Redis."""

    def __init__(
        self, connection: Redis, *, prefix: str = "clinic:", queues: Iterable[str] = DEFAULT_QUEUES
    ) -> None:
        self._redis = connection
        self._prefix = prefix
        self._queues = tuple(queues)

    def _queue(self, name: str) -> Queue:
        return queue(name, self._redis)

    def stats(self) -> JobsStats:
        depths = []
        for name in self._queues:
            q = self._queue(name)
            depths.append(
                QueueDepth(
                    name=name,
                    queued=q.count,
                    started=q.started_job_registry.count,
                    scheduled=q.scheduled_job_registry.count,
                    failed=q.failed_job_registry.count,
                    finished=q.finished_job_registry.count,
                )
            )
        backlog, read_at = self._backlog()
        return JobsStats(
            queues=tuple(depths),
            workers=Worker.count(connection=self._redis),
            outcomes=self._counts(OUTCOMES_KEY),
            failures=self._counts(FAILURES_KEY),
            backlog=backlog,
            backlog_read_at=read_at,
        )

    def failed(self, limit: int = 50) -> list[FailedJob]:
        found: list[FailedJob] = []
        for name in self._queues:
            registry = FailedJobRegistry(name, connection=self._redis, serializer=JSONSerializer)
            for job_id in registry.get_job_ids(0, limit - 1, desc=True):
                try:
                    job = Job.fetch(job_id, connection=self._redis, serializer=JSONSerializer)
                except NoSuchJobError:
                    continue
                result = job.latest_result()
                error = (result.exc_string or "") if result is not None else ""
                last_line = error.strip().splitlines()[-1] if error.strip() else ""
                found.append(
                    FailedJob(job.id, name, job.description or job.func_name or "", job.ended_at, last_line)
                )
        found.sort(key=lambda f: f.failed_at.timestamp() if f.failed_at else 0.0, reverse=True)
        return found[:limit]

    def requeue(self, job_id: str) -> str | None:
        """Put a failed job back on its queue (with its retries renewed by RQ); the queue's name, or None
        when no failed registry holds ``job_id``."""
        for name in self._queues:
            registry = FailedJobRegistry(name, connection=self._redis, serializer=JSONSerializer)
            if job_id in registry.get_job_ids():
                try:
                    registry.requeue(job_id)
                except (InvalidJobOperation, NoSuchJobError):
                    return None
                return name
        return None

    def record_backlog(self, backlog: OutboxBacklog) -> None:
        oldest = backlog.oldest.timestamp() if backlog.oldest is not None else ""
        self._redis.hset(
            self._prefix + BACKLOG_KEY,
            mapping={
                "pending": backlog.pending,
                "unpublished": backlog.unpublished,
                "oldest": oldest,
                "at": time.time(),
            },
        )

    def _backlog(self) -> tuple[OutboxBacklog | None, float | None]:
        raw = {_text(k): _text(v) for k, v in self._redis.hgetall(self._prefix + BACKLOG_KEY).items()}
        if not raw:
            return None, None
        oldest = datetime.fromtimestamp(float(raw["oldest"])).astimezone() if raw.get("oldest") else None
        return (
            OutboxBacklog(pending=int(raw["pending"]), unpublished=int(raw["unpublished"]), oldest=oldest),
            float(raw["at"]),
        )

    def _counts(self, key: str) -> dict[str, int]:
        return {_text(k): int(v) for k, v in self._redis.hgetall(self._prefix + key).items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def count(connection: Redis, prefix: str, key: str, field: str) -> None:
    connection.hincrby(prefix + key, field, 1)


class JobsCollector(Collector):
    """Prometheus view of ``JobsConsole.stats()``, read at each scrape."""

    def __init__(self, console: JobsConsole) -> None:
        self._console = console

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self._console.stats()
        depth = GaugeMetricFamily("clinic_jobs", "Jobs by queue and state.", labels=["queue", "state"])
        for q in stats.queues:
            for state in ("queued", "started", "scheduled", "failed", "finished"):
                depth.add_metric([q.name, state], getattr(q, state))
        yield depth
        yield GaugeMetricFamily("clinic_workers", "RQ workers alive.", value=stats.workers)
        outcomes = CounterMetricFamily(
            "clinic_job_handler_outcomes",
            "Handler runs by topic, handler and outcome.",
            labels=["topic", "handler", "outcome"],
        )
        for field, n in sorted(stats.outcomes.items()):
            topic, handler, outcome = [*field.split("|"), "", "", ""][:3]
            outcomes.add_metric([topic, handler, outcome], n)
        yield outcomes
        failures = CounterMetricFamily(
            "clinic_job_failures",
            "Failed job attempts by job and exception type.",
            labels=["job", "exception"],
        )
        for field, n in sorted(stats.failures.items()):
            job, exception = [*field.split("|"), "", ""][:2]
            failures.add_metric([job, exception], n)
        yield failures
        if stats.backlog is not None:
            yield GaugeMetricFamily(
                "clinic_outbox_pending", "Outbox rows no handler finished yet.", value=stats.backlog.pending
            )
            yield GaugeMetricFamily(
                "clinic_outbox_unpublished",
                "Outbox rows not yet handed to the queue.",
                value=stats.backlog.unpublished,
            )
            age = time.time() - stats.backlog.oldest.timestamp() if stats.backlog.oldest is not None else 0.0
            yield GaugeMetricFamily(
                "clinic_outbox_oldest_pending_seconds",
                "Age of the oldest pending outbox row.",
                value=max(age, 0.0),
            )
