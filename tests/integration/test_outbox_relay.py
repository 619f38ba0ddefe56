"""The outbox relay and handlers over the real databases (PostgreSQL as the app role, and SQLite)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.jobs.handlers import HandleOutboxMessage, HandlerRegistry
from clinic_core.jobs.model import Outcome
from clinic_core.jobs.relay import RelayOutbox
from clinic_core.shared.clock import FixedClock, SystemClock
from clinic_core.testing.jobs import RecordingJobQueue
from clinic_infra.db import tables
from clinic_infra.db.engine import create_engine
from clinic_infra.db.job_repositories import SqlOutboxSource, SqlTenantDirectory
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up
from tests.integration.job_world import JobDatabase, RecordingHandler, job_db, job_engine

__all__ = ["job_db", "job_engine"]


async def test_rows_go_to_the_queue_once_and_each_handler_runs_once(job_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(job_engine)
    signed = await sign_up(uow)
    queue = RecordingJobQueue()
    relay = RelayOutbox(SqlOutboxSource(job_engine), queue, SystemClock())

    first = await relay()
    assert first.dispatched >= 2
    again = await relay()
    assert again.dispatched == 0, "published rows are not handed over twice"
    ours = [m for m in queue.jobs.values() if m.tenant_id == signed.tenant.id]
    assert {m.topic for m in ours} >= {"tenancy.tenant_created", "tenancy.unit_created"}

    handler = RecordingHandler()
    handle = HandleOutboxMessage(uow, HandlerRegistry([handler]), SystemClock())
    created = next(m for m in ours if m.topic == "tenancy.tenant_created")
    assert [r.outcome for r in await handle(created)] == [Outcome.DONE]
    assert [r.outcome for r in await handle(created)] == [Outcome.DUPLICATE]
    assert [m.id for m in handler.handled] == [created.id]
    assert created.payload["slug"] == signed.tenant.slug.value


async def test_rows_wait_while_the_queue_is_down(job_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(job_engine)
    await sign_up(uow)
    queue = RecordingJobQueue()
    queue.down = True
    source = SqlOutboxSource(job_engine)
    relay = RelayOutbox(source, queue, SystemClock())
    assert (await relay()).queue_down
    backlog = await source.backlog()
    assert backlog.unpublished >= 2
    assert backlog.oldest is not None
    queue.down = False
    assert (await relay()).dispatched == backlog.unpublished
    assert (await source.backlog()).unpublished == 0


async def test_a_published_row_nobody_handled_is_dispatched_again_later(job_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(job_engine)
    signed = await sign_up(uow)
    queue = RecordingJobQueue()
    clock = FixedClock(SystemClock().now())
    relay = RelayOutbox(SqlOutboxSource(job_engine), queue, clock, redispatch_after=timedelta(minutes=15))
    dispatched = (await relay()).dispatched
    handle = HandleOutboxMessage(uow, HandlerRegistry([RecordingHandler()]), clock)
    ours = [m for m in queue.jobs.values() if m.tenant_id == signed.tenant.id]
    await handle(ours[0])  # one handled; the others' jobs were "lost"

    clock.advance(timedelta(minutes=16))
    queue.jobs.clear()
    assert (await relay()).dispatched == dispatched - 1
    assert ours[0].id not in queue.jobs


async def test_a_failing_handler_releases_its_receipt_for_the_retry(job_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(job_engine)
    signed = await sign_up(uow)
    queue = RecordingJobQueue()
    await RelayOutbox(SqlOutboxSource(job_engine), queue, SystemClock())()
    message = next(
        m
        for m in queue.jobs.values()
        if m.tenant_id == signed.tenant.id and m.topic == "tenancy.unit_created"
    )
    handler, other = RecordingHandler(), RecordingHandler("test.other")
    handler.fail = 1
    handle = HandleOutboxMessage(uow, HandlerRegistry([other, handler]), SystemClock())
    with pytest.raises(ConnectionError):
        await handle(message)
    runs = await handle(message)  # the job's retry
    assert [(r.handler, r.outcome) for r in runs] == [
        ("test.other", Outcome.DUPLICATE),
        ("test.recording", Outcome.DONE),
    ]
    assert len(handler.handled) == len(other.handled) == 1


async def test_concurrent_deliveries_of_one_message_run_the_handler_once(job_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(job_engine)
    signed = await sign_up(uow)
    queue = RecordingJobQueue()
    await RelayOutbox(SqlOutboxSource(job_engine), queue, SystemClock())()
    message = next(m for m in queue.jobs.values() if m.tenant_id == signed.tenant.id)
    handler = RecordingHandler(topics=frozenset({message.topic}))
    handle = HandleOutboxMessage(uow, HandlerRegistry([handler]), SystemClock())
    results = await asyncio.gather(*(handle(message) for _ in range(8)))
    outcomes = sorted(r[0].outcome for r in results)
    assert outcomes.count(Outcome.DONE) == 1
    assert outcomes.count(Outcome.DUPLICATE) == 7
    assert len(handler.handled) == 1


async def test_two_relays_at_once_hand_over_disjoint_rows(job_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(job_engine)
    for _ in range(5):
        await sign_up(uow)
    queues = [RecordingJobQueue(), RecordingJobQueue()]
    relays = [RelayOutbox(SqlOutboxSource(job_engine), q, SystemClock(), batch_size=4) for q in queues]
    while sum(p.dispatched for p in await asyncio.gather(*(r() for r in relays))):
        pass
    handed = queues[0].handed + queues[1].handed
    assert len(handed) == len(set(handed)) >= 10


async def test_the_tenant_directory_lists_active_tenants(job_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(job_engine)
    signed = await sign_up(uow)
    assert signed.tenant.id in await SqlTenantDirectory(job_engine).active_tenant_ids()


async def test_a_handled_message_leaves_no_token_in_the_outbox(job_db: JobDatabase) -> None:
    uow = SqlUnitOfWorkFactory(job_db.engine)
    signed = await sign_up(uow)
    queue = RecordingJobQueue()
    await RelayOutbox(SqlOutboxSource(job_db.engine), queue, SystemClock())()
    mail = next(
        m
        for m in queue.jobs.values()
        if m.tenant_id == signed.tenant.id and m.topic == "identity.email_verification_requested"
    )
    assert mail.payload["token"]
    await HandleOutboxMessage(uow, HandlerRegistry([]), SystemClock())(mail)
    owner = create_engine(job_db.owner_url, pool_size=1)
    try:
        async with owner.connect() as connection:
            payload = (
                await connection.execute(select(tables.outbox.c.payload).where(tables.outbox.c.id == mail.id))
            ).scalar_one()
    finally:
        await owner.dispose()
    assert "token" not in payload
    assert payload["email"] == mail.payload["email"]
