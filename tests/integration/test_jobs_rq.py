"""Outbox to RQ to handler, for real: the relay enqueues on Redis, an RQ worker runs the job."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from clinic_core.application.unit_of_work import Scope
from clinic_core.jobs.relay import RelayOutbox
from clinic_core.shared.clock import SystemClock
from clinic_infra.db.job_repositories import SqlOutboxSource
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.jobs.rq_queue import RqJobQueue
from clinic_infra.jobs.wiring import JobServices, app_engine, job_services
from clinic_infra.queues import DEFAULT_QUEUES, queue
from clinic_infra.settings import Settings
from clinic_worker import jobs
from tests.integration.conftest import sign_up
from tests.integration.job_world import JobDatabase, RecordingHandler, drain, job_db, jobs_redis

__all__ = ["job_db", "jobs_redis"]


@pytest.fixture
def handler(job_db: JobDatabase, tmp_path: Path) -> Iterator[RecordingHandler]:
    """A recording handler added to the services the RQ job functions build (whose emails become files
    in the test's own directory)."""
    recording = RecordingHandler()
    settings = Settings(database_url=job_db.url, data_dir=tmp_path)

    def services() -> JobServices:
        return job_services(
            settings, app_engine(settings, pool_size=2), SystemClock(), extra_handlers=(recording,)
        )

    jobs.use_services(services)
    yield recording
    jobs.use_services(jobs.default_services)


async def test_each_outbox_row_reaches_its_handler_once_through_rq(
    job_db: JobDatabase, jobs_redis: Redis, handler: RecordingHandler
) -> None:
    signed = await sign_up(SqlUnitOfWorkFactory(job_db.engine))
    source = SqlOutboxSource(job_db.engine)
    relay = RelayOutbox(source, RqJobQueue(jobs_redis), SystemClock())
    dispatched = (await relay()).dispatched
    assert dispatched >= 2
    await asyncio.to_thread(drain, jobs_redis)
    ours = sorted(m.topic for m in handler.handled if m.tenant_id == signed.tenant.id)
    assert ours == ["tenancy.tenant_created", "tenancy.unit_created"]
    assert (await source.backlog()).pending == 0

    # The same rows relayed again, as after a relay that died before its commit: RQ still holds the
    # finished jobs' ids and refuses them; and once it forgot them, the receipts absorb the second run.
    await job_db.as_owner("UPDATE outbox SET published_at = NULL, handled_at = NULL")
    assert (await relay()).dispatched == dispatched
    await asyncio.to_thread(drain, jobs_redis)
    jobs_redis.flushdb()
    await job_db.as_owner("UPDATE outbox SET published_at = NULL, handled_at = NULL")
    assert (await relay()).dispatched == dispatched
    await asyncio.to_thread(drain, jobs_redis)
    assert sorted(m.topic for m in handler.handled if m.tenant_id == signed.tenant.id) == ours
    assert (await source.backlog()).pending == 0


async def test_a_failing_handler_waits_for_its_retry_with_backoff(
    job_db: JobDatabase, jobs_redis: Redis, handler: RecordingHandler
) -> None:
    await sign_up(SqlUnitOfWorkFactory(job_db.engine))
    handler.fail = 100
    await RelayOutbox(SqlOutboxSource(job_db.engine), RqJobQueue(jobs_redis), SystemClock())()
    await asyncio.to_thread(drain, jobs_redis)
    scheduled = sum(
        len(queue(name, jobs_redis).scheduled_job_registry.get_job_ids()) for name in DEFAULT_QUEUES
    )
    assert scheduled >= 2, "each failed job waits in the scheduled registry for its retry"
    failed = sum(len(FailedJobRegistry(name, connection=jobs_redis).get_job_ids()) for name in DEFAULT_QUEUES)
    assert failed == 0
    assert handler.handled == []


async def test_an_account_token_never_reaches_redis(job_db: JobDatabase, jobs_redis: Redis) -> None:
    """The token stays in the database (row-level security, scrubbed once sent): the job carries the rest,
    and the handler reads the token from the row."""
    uow = SqlUnitOfWorkFactory(job_db.engine)
    signed = await sign_up(uow)
    await RelayOutbox(SqlOutboxSource(job_db.engine), RqJobQueue(jobs_redis), SystemClock())()
    jobs_found = [
        Job.fetch(key.decode().removeprefix("rq:job:"), connection=jobs_redis, serializer=JSONSerializer)
        for key in jobs_redis.scan_iter("rq:job:*")
    ]
    [mail] = [
        j.kwargs["message"]
        for j in jobs_found
        if j.kwargs["message"]["topic"] == "identity.email_verification_requested"
        and j.kwargs["message"]["tenant_id"] == str(signed.tenant.id)
    ]
    assert "token" not in mail["payload"]
    assert mail["secret_withheld"] is True
    async with uow(Scope(tenant_id=signed.tenant.id), read_only=True) as tx:
        token = await tx.job_receipts.secret_of(UUID(mail["id"]))
    assert token
    assert all(token not in json.dumps(j.kwargs) for j in jobs_found), "in no job's arguments"
