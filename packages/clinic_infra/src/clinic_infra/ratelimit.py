"""Fixed-window rate limiters: one process (in memory), or every process sharing Redis."""

from __future__ import annotations

import math
import time
from collections import defaultdict

from redis.asyncio import Redis

from clinic_core.application.ports import RateDecision

_MAX_TRACKED_WINDOWS = 100_000


class InMemoryRateLimiter:
    """Counts in this process: right for the single-process embedded setup, wrong behind several workers."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = defaultdict(int)

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = time.time()
        window = int(now // window_seconds)
        self._counts[(key, window)] += 1
        count = self._counts[(key, window)]
        if len(self._counts) > _MAX_TRACKED_WINDOWS:
            for stale in [k for k in self._counts if k[1] < window]:
                del self._counts[stale]
        return _decision(count, limit, (window + 1) * window_seconds - now)


class RedisRateLimiter:
    """INCR plus EXPIRE NX in one round trip; the key dies with its window. Redis errors propagate."""

    def __init__(self, redis: Redis, prefix: str = "clinic:rl:") -> None:
        self._redis, self._prefix = redis, prefix

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = time.time()
        window = int(now // window_seconds)
        name = f"{self._prefix}{key}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds + 1, nx=True)
            count, _ = await pipe.execute()
        return _decision(int(count), limit, (window + 1) * window_seconds - now)


def _decision(count: int, limit: int, seconds_left: float) -> RateDecision:
    allowed = count <= limit
    return RateDecision(allowed, max(0, limit - count), 0 if allowed else max(1, math.ceil(seconds_left)))
