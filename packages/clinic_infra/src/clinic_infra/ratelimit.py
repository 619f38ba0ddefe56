"""Token-bucket rate limiters: one process (in memory), or every process sharing Redis.

A bucket holds at most ``limit`` tokens, refills continuously at ``limit`` tokens per ``window_seconds`` and
each hit takes one. Over any span of t seconds at most ``limit + t * limit / window_seconds`` hits pass, so
no window boundary lets a burst of twice the limit through, as fixed windows did.

A full bucket and a missing one mean the same: state lives only while a bucket is refilling.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from clinic_core.application.ports import RateDecision

MAX_IN_MEMORY_BUCKETS: Final = 100_000
MICROSECONDS: Final = 1_000_000

# KEYS[1]: the bucket, a hash of ``tokens`` (a float) and ``updated`` (server time in microseconds).
# ARGV: capacity, window in microseconds. Returns allowed (1 or 0), whole tokens left, and the microseconds
# until the next token and until the bucket is full.
# Time is the server's (Redis >= 5 replicates the writes, so TIME is allowed before them): API processes
# with skewed clocks still agree on how far a bucket has refilled. A refused hit writes nothing: the stored
# state and its expiry (when the bucket will be full) already describe the bucket. Products come before
# quotients (elapsed * capacity / window) so that whole numbers stay exact.
TAKE_A_TOKEN: Final = """
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = capacity
if state[1] and state[2] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(capacity, tonumber(state[1]) + elapsed * capacity / window)
end
local allowed = 0
if tokens >= 1 then
  allowed = 1
  tokens = tokens - 1
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'updated', string.format('%.17g', now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * window / capacity / 1000))
end
local until_token = 0
if tokens < 1 then
  until_token = math.ceil((1 - tokens) * window / capacity)
end
local until_full = math.ceil((capacity - tokens) * window / capacity)
return {allowed, math.floor(tokens), until_token, until_full}
"""


class RedisRateLimiter:
    """One Lua script per hit, run by EVALSHA (redis-py loads it again if the server forgot it), so that
    concurrent hits from every process count exactly. Redis errors propagate."""

    def __init__(self, redis: Redis, prefix: str = "clinic:rl:") -> None:
        self._prefix = prefix
        self._take_a_token = redis.register_script(TAKE_A_TOKEN)

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        _check_budget(limit, window_seconds)
        allowed, remaining, until_token, until_full = await self._take_a_token(
            keys=[f"{self._prefix}{key}"], args=[limit, window_seconds * MICROSECONDS]
        )
        return RateDecision(
            allowed=bool(allowed),
            remaining=int(remaining),
            retry_after_seconds=_whole_seconds(int(until_token)),
            reset_seconds=_whole_seconds(int(until_full)),
        )


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    full_at: float


class InMemoryRateLimiter:
    """Buckets in this process: right for the single-process embedded setup, wrong behind several workers.

    ``clock`` reads seconds that never go back (``time.monotonic``; tests pass their own). Buckets are kept
    least recently used first: full ones are dropped from that end as it is passed, and past
    ``max_buckets`` the least recently used is dropped even if not full, which bounds memory against a
    flood of distinct keys at the price of a fresh budget for a key idle that long.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_buckets: int = MAX_IN_MEMORY_BUCKETS
    ) -> None:
        self._clock, self._max_buckets = clock, max_buckets
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        _check_budget(limit, window_seconds)
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        tokens = float(limit)
        if bucket is not None:
            elapsed = max(0.0, now - bucket.updated)
            tokens = min(float(limit), bucket.tokens + elapsed * limit / window_seconds)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        # Below capacity after any hit (limit >= 1), so always worth keeping; last, as the most recent.
        self._buckets[key] = _Bucket(tokens, now, now + (limit - tokens) * window_seconds / limit)
        self._evict(now)
        return RateDecision(
            allowed=allowed,
            remaining=math.floor(tokens),
            retry_after_seconds=0 if tokens >= 1 else math.ceil((1 - tokens) * window_seconds / limit),
            reset_seconds=math.ceil((limit - tokens) * window_seconds / limit),
        )

    def _evict(self, now: float) -> None:
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if oldest.full_at > now and len(self._buckets) <= self._max_buckets:
                return
            del self._buckets[key]


def _check_budget(limit: int, window_seconds: int) -> None:
    if limit < 1 or window_seconds <= 0:
        raise ValueError(f"a budget needs a limit >= 1 and a window > 0, not {limit} per {window_seconds}s")


def _whole_seconds(microseconds: int) -> int:
    return -(-microseconds // MICROSECONDS)
