"""Webhooks for real: an event goes through the outbox, the relay and RQ to an HTTP server on this machine,
signed; a failing server gets retries, and an endpoint that keeps failing is disabled."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import select

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.jobs.relay import RelayOutbox
from clinic_core.shared.clock import SystemClock
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand
from clinic_core.webhooks.model import (
    MAX_DELIVERY_ATTEMPTS,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from clinic_core.webhooks.use_cases import CreateWebhook, CreateWebhookCommand, WebhookSecretIssued
from clinic_infra.db import tables
from clinic_infra.db.engine import create_engine
from clinic_infra.db.job_repositories import SqlOutboxSource
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.jobs.rq_queue import RqJobQueue
from clinic_infra.jobs.wiring import JobServices, app_engine, job_services, webhook_policy
from clinic_infra.queues import DEFAULT_QUEUES, queue
from clinic_infra.security.secret_box import new_key, secret_box_for
from clinic_infra.settings import Settings
from clinic_worker import jobs
from tests.docs.webhooks import verify_as_documented
from tests.integration.conftest import sign_up
from tests.integration.job_world import JobDatabase, drain, job_db, jobs_redis

__all__ = ["job_db", "jobs_redis"]

DISABLE_AFTER = 2
PAGE = PageRequest(None, 50)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records what it is sent and answers ``status``."""

    url: str
    status: int = 204
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/clinic"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def settings(job_db: JobDatabase, tmp_path: Path) -> Settings:
    return Settings(
        database_url=job_db.url,
        data_dir=tmp_path,
        secret_key=new_key(),
        webhook_allow_private_hosts=True,
        webhook_disable_after_failures=DISABLE_AFTER,
    )


@pytest.fixture
def worker_services(settings: Settings) -> Iterator[None]:
    """The RQ job functions build their services from ``settings`` (the same secret key as the API's)."""

    def services() -> JobServices:
        return job_services(settings, app_engine(settings, pool_size=2), SystemClock())

    jobs.use_services(services)
    yield
    jobs.use_services(jobs.default_services)


def owner_of(clinic: SignedUp) -> Actor:
    return Actor(
        user_id=clinic.owner.id,
        tenant_id=clinic.tenant.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
    )


async def relay_and_drain(job_db: JobDatabase, redis: Redis) -> int:
    """Relay the outbox to RQ and run what is queued, until nothing is left to relay."""
    relay = RelayOutbox(SqlOutboxSource(job_db.engine), RqJobQueue(redis), SystemClock())
    total = 0
    while (dispatched := (await relay()).dispatched) > 0:
        total += dispatched
        await asyncio.to_thread(drain, redis)
    return total


def retry_now(redis: Redis) -> int:
    """Move the jobs waiting for their retry to their queues at once, as the scheduler does when due."""
    moved = 0
    for name in DEFAULT_QUEUES:
        waiting = queue(name, redis)
        registry = waiting.scheduled_job_registry
        for job_id in registry.get_job_ids():
            job = waiting.fetch_job(job_id)
            assert job is not None
            registry.remove(job)
            waiting.enqueue_job(job)
            moved += 1
    return moved


async def register(
    uow: SqlUnitOfWorkFactory, settings: Settings, clinic: SignedUp, url: str
) -> WebhookSecretIssued:
    create = CreateWebhook(uow, secret_box_for(settings), SystemClock(), webhook_policy(settings))
    command = CreateWebhookCommand(owner_of(clinic), url, ("tenancy.unit_created",), "ERP")
    return (await create(command)).unwrap()


async def add_unit(uow: SqlUnitOfWorkFactory, clinic: SignedUp, name: str) -> None:
    command = CreateUnitCommand(owner_of(clinic), name, "America/Sao_Paulo")
    (await CreateUnit(uow, SystemClock())(command)).unwrap()


async def deliveries(
    uow: SqlUnitOfWorkFactory, clinic: SignedUp, endpoint: WebhookEndpoint
) -> list[WebhookDelivery]:
    async with uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as work:
        return (await work.webhook_deliveries.page(endpoint.id, PAGE)).items


async def outbox_payloads(job_db: JobDatabase, clinic: SignedUp, topic: str) -> list[dict[str, Any]]:
    """The outbox rows of ``topic``, read as the owner (the relay's view: every row, handled or not)."""
    owner = create_engine(job_db.owner_url, pool_size=1)
    try:
        async with owner.connect() as connection:
            outbox = tables.outbox
            rows = await connection.execute(
                select(outbox.c.payload).where(
                    outbox.c.tenant_id == clinic.tenant.id, outbox.c.topic == topic
                )
            )
            return [dict(r[0]) for r in rows]
    finally:
        await owner.dispose()


async def endpoint_now(uow: SqlUnitOfWorkFactory, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    async with uow(Scope(tenant_id=endpoint.tenant_id), read_only=True) as work:
        found = await work.webhook_endpoints.get(endpoint.id)
    assert found is not None
    return found


async def test_an_event_reaches_the_endpoint_signed_through_the_outbox_and_rq(
    job_db: JobDatabase, jobs_redis: Redis, receiver: Receiver, settings: Settings, worker_services: None
) -> None:
    uow = SqlUnitOfWorkFactory(job_db.engine)
    clinic = await sign_up(uow)
    await relay_and_drain(job_db, jobs_redis)  # the sign-up's own events, before any endpoint existed
    issued = await register(uow, settings, clinic, receiver.url)
    await add_unit(uow, clinic, "Unidade Jardins")

    await relay_and_drain(job_db, jobs_redis)

    assert len(receiver.received) == 1
    got = receiver.received[0]
    event = verify_as_documented(issued.secret, got.headers, got.body)
    assert event["type"] == "tenancy.unit_created"
    assert event["tenant_id"] == str(clinic.tenant.id)
    assert set(event["data"]) >= {"unit_id", "tenant_id", "occurred_at"}
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("Clinic-Webhooks/")
    [delivery] = await deliveries(uow, clinic, issued.endpoint)
    assert got.headers["webhook-id"] == str(delivery.id)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.SUCCEEDED,
        1,
        204,
    )
    assert event["id"] == str(delivery.message_id)

    # Another clinic's endpoint hears nothing of this clinic's events, and the other way round.
    other = await sign_up(uow)
    await relay_and_drain(job_db, jobs_redis)
    await register(uow, settings, other, receiver.url)
    await add_unit(uow, clinic, "Unidade Moema")
    await relay_and_drain(job_db, jobs_redis)
    tenants = [json.loads(r.body)["tenant_id"] for r in receiver.received]
    assert tenants == [str(clinic.tenant.id)] * 2


async def test_a_failing_endpoint_is_retried_then_disabled(
    job_db: JobDatabase, jobs_redis: Redis, receiver: Receiver, settings: Settings, worker_services: None
) -> None:
    uow = SqlUnitOfWorkFactory(job_db.engine)
    clinic = await sign_up(uow)
    await relay_and_drain(job_db, jobs_redis)
    issued = await register(uow, settings, clinic, receiver.url)
    receiver.status = 503
    await add_unit(uow, clinic, "Unidade Jardins")
    await add_unit(uow, clinic, "Unidade Moema")

    await relay_and_drain(job_db, jobs_redis)

    assert len(receiver.received) == 2
    attempted = await deliveries(uow, clinic, issued.endpoint)
    assert [(d.status, d.attempts, d.response_status) for d in attempted] == [
        (DeliveryStatus.PENDING, 1, 503)
    ] * 2
    assert all(d.last_error == "the endpoint answered HTTP 503" for d in attempted)
    scheduled = sum(len(queue(n, jobs_redis).scheduled_job_registry.get_job_ids()) for n in DEFAULT_QUEUES)
    assert scheduled == 2, "each failed delivery waits in the scheduled registry for its retry"
    assert (await endpoint_now(uow, issued.endpoint)).consecutive_failures == 0

    for _ in range(MAX_DELIVERY_ATTEMPTS - 1):
        assert retry_now(jobs_redis) == 2
        await asyncio.to_thread(drain, jobs_redis)
    assert retry_now(jobs_redis) == 0, "the last attempt settles the delivery: no retry after it"

    assert len(receiver.received) == 2 * MAX_DELIVERY_ATTEMPTS
    failed = await deliveries(uow, clinic, issued.endpoint)
    assert [(d.status, d.attempts) for d in failed] == [(DeliveryStatus.FAILED, MAX_DELIVERY_ATTEMPTS)] * 2
    endpoint = await endpoint_now(uow, issued.endpoint)
    assert endpoint.status is EndpointStatus.DISABLED
    assert endpoint.consecutive_failures == DISABLE_AFTER
    assert endpoint.disabled_at is not None

    disabled = await outbox_payloads(job_db, clinic, "webhooks.endpoint_disabled")
    assert [(p["endpoint_id"], p["failed_deliveries"]) for p in disabled] == [
        (str(endpoint.id), DISABLE_AFTER)
    ]

    # A disabled endpoint is sent nothing more.
    receiver.status = 204
    await add_unit(uow, clinic, "Unidade Pinheiros")
    await relay_and_drain(job_db, jobs_redis)
    assert len(receiver.received) == 2 * MAX_DELIVERY_ATTEMPTS
