"""Job services of the jobs benchmark's workers: the deployment's own plus a handler of ``benchmark.ping``
that records, in Redis, how long after the event's commit it ran."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.events import DomainEvent
from clinic_infra.jobs.wiring import JobServices, app_engine, job_services
from clinic_infra.settings import Settings

LATENCIES = "bench:jobs:latency"


@dataclass(frozen=True, kw_only=True)
class Ping(DomainEvent):
    topic = "benchmark.ping"
    committed_at: float
    """time.time() just before the commit that wrote the event."""


class RecordDelay:
    name = "benchmark.record-delay"
    topics = frozenset({Ping.topic})

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        self._redis.rpush(LATENCIES, f"{time.time() - float(message.payload['committed_at']):.6f}")
        return Outcome.DONE


def services() -> JobServices:
    settings = Settings()
    redis = Redis.from_url(os.environ["CLINIC_REDIS_URL"])
    return job_services(
        settings, app_engine(settings, pool_size=2), SystemClock(), extra_handlers=(RecordDelay(redis),)
    )
