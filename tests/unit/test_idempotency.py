"""Idempotency-Key: replay, refusal of a reused key, one execution under concurrency, release on error,
expiry after 24 hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Success

from clinic_core.application.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    StoredResponse,
    parse_key,
    request_hash,
)
from clinic_core.application.idempotent_requests import Idempotency
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.testing import InMemoryUnitOfWorkFactory

TENANT = TenantId(new_uuid())


class Counter:
    def __init__(self, status: int = 201, delay: float = 0.0) -> None:
        self.calls = 0
        self.status, self.delay = status, delay

    async def __call__(self) -> StoredResponse:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return StoredResponse(self.status, f'{{"n": {self.calls}}}')


def world() -> tuple[Idempotency, FixedClock, InMemoryUnitOfWorkFactory]:
    clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    uow = InMemoryUnitOfWorkFactory()
    return Idempotency(uow, clock, wait=timedelta(seconds=2), poll=timedelta(milliseconds=5)), clock, uow


def body_hash(body: object) -> str:
    return request_hash(method="POST", path="/v1/appointments", caller="u1", body=body)


async def test_the_same_key_and_body_replays_the_first_response() -> None:
    runner, _, _ = world()
    work = Counter()
    first = await runner.run(TENANT, "k1", body_hash({"a": 1}), work)
    second = await runner.run(TENANT, "k1", body_hash({"a": 1}), work)
    assert first == Success(StoredResponse(201, '{"n": 1}'))
    assert second == Success(StoredResponse(201, '{"n": 1}', replayed=True))
    assert work.calls == 1


async def test_the_same_key_with_another_body_is_refused() -> None:
    runner, _, _ = world()
    work = Counter()
    await runner.run(TENANT, "k1", body_hash({"a": 1}), work)
    result = await runner.run(TENANT, "k1", body_hash({"a": 2}), work)
    assert isinstance(result, Failure)
    assert isinstance(result.failure(), IdempotencyKeyReused)
    assert work.calls == 1


async def test_keys_are_per_tenant() -> None:
    runner, _, _ = world()
    work = Counter()
    await runner.run(TENANT, "k1", body_hash({}), work)
    other = await runner.run(TenantId(new_uuid()), "k1", body_hash({}), work)
    assert other == Success(StoredResponse(201, '{"n": 2}'))


async def test_concurrent_requests_with_one_key_execute_once() -> None:
    runner, _, _ = world()
    work = Counter(delay=0.05)
    results = await asyncio.gather(*(runner.run(TENANT, "k", body_hash({"x": 1}), work) for _ in range(8)))
    assert work.calls == 1
    bodies = {r.unwrap().body for r in results}
    assert bodies == {'{"n": 1}'}
    assert sum(not r.unwrap().replayed for r in results) == 1


async def test_a_request_still_running_past_the_wait_answers_in_use() -> None:
    clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    runner = Idempotency(
        InMemoryUnitOfWorkFactory(), clock, wait=timedelta(milliseconds=20), poll=timedelta(milliseconds=5)
    )
    slow = Counter(delay=0.3)
    first = asyncio.create_task(runner.run(TENANT, "k", body_hash({}), slow))
    await asyncio.sleep(0.01)
    second = await runner.run(TENANT, "k", body_hash({}), slow)
    assert isinstance(second, Failure)
    assert isinstance(second.failure(), IdempotencyKeyInUse)
    assert (await first).unwrap().status == 201
    assert slow.calls == 1


async def test_an_exception_releases_the_key_so_a_retry_executes() -> None:
    runner, _, _ = world()

    async def boom() -> StoredResponse:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        await runner.run(TENANT, "k", body_hash({}), boom)
    work = Counter()
    assert (await runner.run(TENANT, "k", body_hash({}), work)).unwrap().replayed is False
    assert work.calls == 1


async def test_a_server_error_is_not_stored() -> None:
    runner, _, _ = world()
    failing, working = Counter(status=503), Counter()
    assert (await runner.run(TENANT, "k", body_hash({}), failing)).unwrap().status == 503
    assert (await runner.run(TENANT, "k", body_hash({}), working)).unwrap().status == 201


async def test_client_errors_are_answers_and_are_replayed() -> None:
    runner, _, _ = world()
    conflict = Counter(status=409)
    await runner.run(TENANT, "k", body_hash({}), conflict)
    again = await runner.run(TENANT, "k", body_hash({}), Counter())
    assert again.unwrap().status == 409
    assert again.unwrap().replayed


async def test_after_24_hours_a_key_is_forgotten() -> None:
    runner, clock, uow = world()
    await runner.run(TENANT, "k", body_hash({"a": 1}), Counter())
    clock.advance(timedelta(hours=24))
    fresh = await runner.run(TENANT, "k", body_hash({"a": 2}), Counter(status=200))
    assert fresh == Success(StoredResponse(200, '{"n": 1}'))
    clock.advance(timedelta(hours=24, seconds=1))
    from clinic_core.application.unit_of_work import Scope

    async with uow(Scope(tenant_id=TENANT)) as tx:
        assert await tx.idempotency_keys.purge_expired(clock.now()) == 1
        await tx.commit()


def test_request_hash_ignores_key_order_but_not_values_or_caller() -> None:
    a = request_hash(method="post", path="/p", caller="u", body={"a": 1, "b": [1, 2]})
    assert a == request_hash(method="POST", path="/p", caller="u", body={"b": [1, 2], "a": 1})
    assert a != request_hash(method="POST", path="/p", caller="u", body={"a": 1, "b": [2, 1]})
    assert a != request_hash(method="POST", path="/p", caller="v", body={"a": 1, "b": [1, 2]})
    assert a != request_hash(method="POST", path="/q", caller="u", body={"a": 1, "b": [1, 2]})


@pytest.mark.parametrize("raw", ["", " ", "x" * 256, "ação", "a b"])
def test_malformed_keys_are_refused(raw: str) -> None:
    assert isinstance(parse_key(raw), Failure)


def test_absent_and_good_keys_are_accepted() -> None:
    assert parse_key(None) == Success(None)
    key = str(new_uuid())
    assert parse_key(f" {key} ") == Success(key)
