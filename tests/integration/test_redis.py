"""Redis for real: a dead Redis, and the worker draining a queue. The shared rate limiter has its own module,
test_token_bucket."""

from __future__ import annotations

import uuid

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from clinic_infra.health import RedisReadiness
from clinic_infra.queues import queue, sync_redis
from clinic_infra.ratelimit import RedisRateLimiter
from clinic_infra.redis_connection import create_redis
from clinic_worker.main import main as worker_main

DEAD_REDIS = "redis://127.0.0.1:1/0"


async def test_a_dead_redis_fails_fast_and_loudly() -> None:
    client: AsyncRedis = create_redis(DEAD_REDIS)
    try:
        with pytest.raises(redis.ConnectionError):
            await RedisRateLimiter(client).hit("k", 1, 60)
        with pytest.raises(redis.ConnectionError):
            await RedisReadiness(client).check()
    finally:
        await client.aclose()


def test_the_worker_drains_its_queue(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_REDIS_URL", redis_url)
    name, key = f"test-{uuid.uuid4().hex[:8]}", f"test:worker:{uuid.uuid4().hex}"
    connection = sync_redis(redis_url)
    job = queue(name, connection).enqueue("tests.integration.jobs.record", key, "done", job_timeout=30)
    assert worker_main(["--burst", "--queues", name]) == 0
    assert connection.get(key) == b"done"
    job.refresh()  # type: ignore[no-untyped-call]  # rq leaves it unannotated
    assert job.is_finished
    assert job.return_value() == "done"


def test_the_worker_refuses_to_start_without_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLINIC_REDIS_URL", raising=False)
    assert worker_main(["--burst"]) == 2
    assert "CLINIC_REDIS_URL" in capsys.readouterr().err
