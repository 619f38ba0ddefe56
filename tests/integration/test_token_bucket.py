"""The Redis token bucket against a real Redis: exact under concurrency, refilling at its rate, run by
EVALSHA, and gone from Redis once full. Timed tests sleep with wide margins and assert counts only."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from clinic_infra.ratelimit import TAKE_A_TOKEN, RedisRateLimiter
from clinic_infra.redis_connection import create_redis

PREFIX = "clinic:test:rl:"


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[Redis]]:
    """Five clients, each with its own connection pool: five API processes, as far as Redis can tell."""
    made = [create_redis(redis_url) for _ in range(5)]
    yield made
    for client in made:
        await client.aclose()


def a_key() -> str:
    return f"bucket:{uuid.uuid4().hex}"


async def allowed_in_a_burst(limiter: RedisRateLimiter, key: str, hits: int, limit: int, window: int) -> int:
    return sum([(await limiter.hit(key, limit, window)).allowed for _ in range(hits)])


async def test_fifty_concurrent_hits_on_a_bucket_of_seven_let_exactly_seven_through(
    clients: list[Redis],
) -> None:
    limiters = [RedisRateLimiter(client, prefix=PREFIX) for client in clients]
    key = a_key()
    # A one-hour window: the bucket refills a token every ~8.6 minutes, never during the burst.
    decisions = await asyncio.gather(
        *(limiters[n % len(limiters)].hit(key, limit=7, window_seconds=3600) for n in range(50))
    )
    assert sum(d.allowed for d in decisions) == 7
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(7))
    assert all(d.retry_after_seconds >= 1 for d in decisions if not d.allowed)


async def test_the_bucket_refills_at_the_configured_rate(clients: list[Redis]) -> None:
    limiter, key = RedisRateLimiter(clients[0], prefix=PREFIX), a_key()
    # Two tokens per two seconds: one a second.
    assert await allowed_in_a_burst(limiter, key, 5, limit=2, window=2) == 2
    refused = await limiter.hit(key, 2, 2)
    assert (refused.allowed, refused.retry_after_seconds, refused.reset_seconds) == (False, 1, 2)
    await asyncio.sleep(1.5)  # one and a half tokens; one whole one for anything between 1 and 2 s
    assert await allowed_in_a_burst(limiter, key, 3, limit=2, window=2) == 1
    await asyncio.sleep(3.5)  # full after 2 s, and no fuller after 3.5
    assert await allowed_in_a_burst(limiter, key, 4, limit=2, window=2) == 2


async def test_processes_share_one_bucket(clients: list[Redis]) -> None:
    first, second = (RedisRateLimiter(client, prefix=PREFIX) for client in clients[:2])
    key = a_key()
    decisions = [await (first if n % 2 else second).hit(key, 3, 60) for n in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert decisions[3].retry_after_seconds == 20
    assert decisions[3].reset_seconds == 60


async def test_the_script_runs_by_evalsha_and_survives_a_script_flush(
    clients: list[Redis], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = clients[0]
    calls: list[str] = []

    def spy(command: str) -> Any:
        original = getattr(client, command)

        async def recorded(*args: Any) -> Any:
            calls.append(command)
            return await original(*args)

        return recorded

    for command in ("eval", "evalsha", "script_load"):
        monkeypatch.setattr(client, command, spy(command))
    limiter, key = RedisRateLimiter(client, prefix=PREFIX), a_key()
    sha = hashlib.sha1(TAKE_A_TOKEN.encode()).hexdigest()  # noqa: S324  # Redis names scripts by SHA-1

    await client.script_flush()
    assert (await limiter.hit(key, 3, 60)).allowed
    assert calls == ["evalsha", "script_load", "evalsha"]  # NOSCRIPT, loaded once, then run by its SHA
    assert await client.script_exists(sha) == [True]

    calls.clear()
    assert (await limiter.hit(key, 3, 60)).remaining == 1
    assert calls == ["evalsha"]


async def test_a_bucket_is_one_hash_that_expires_when_full_again(clients: list[Redis]) -> None:
    client = clients[0]
    limiter, key = RedisRateLimiter(client, prefix=PREFIX), a_key()
    name = f"{PREFIX}{key}"

    await limiter.hit(key, 7, 70)  # a token every 10 s
    assert await client.type(name) == b"hash"
    assert set(await client.hkeys(name)) == {b"tokens", b"updated"}
    # The key lives until the bucket would be full again: 10 s after one hit, 20 s after two. The lower
    # bounds leave seconds of slack for a loaded machine between the hit and the PTTL.
    assert 5_000 < await client.pttl(name) <= 10_000
    await limiter.hit(key, 7, 70)
    assert 15_000 < await client.pttl(name) <= 20_000

    short = a_key()
    await limiter.hit(short, 2, 1)  # full again half a second later
    assert await client.exists(f"{PREFIX}{short}") == 1
    await asyncio.sleep(1.5)
    assert await client.exists(f"{PREFIX}{short}") == 0
    assert await allowed_in_a_burst(limiter, short, 3, limit=2, window=1) == 2


async def test_a_refused_hit_takes_nothing(clients: list[Redis]) -> None:
    client = clients[0]
    limiter, key = RedisRateLimiter(client, prefix=PREFIX), a_key()
    await limiter.hit(key, 1, 3600)
    before = await client.hgetall(f"{PREFIX}{key}")
    for _ in range(5):
        assert not (await limiter.hit(key, 1, 3600)).allowed
    assert await client.hgetall(f"{PREFIX}{key}") == before
