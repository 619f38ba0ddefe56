"""The in-memory token bucket on a clock the test moves: capacity, continuous refill, retry-after, reset,
never more than capacity in a burst, and bounded memory."""

from __future__ import annotations

import pytest

from clinic_core.application.ports import RateDecision
from clinic_infra.ratelimit import InMemoryRateLimiter


class SteppedClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def burst(limiter: InMemoryRateLimiter, key: str, hits: int, limit: int, window: int) -> list[bool]:
    return [(await limiter.hit(key, limit, window)).allowed for _ in range(hits)]


async def test_a_full_bucket_lets_its_capacity_through_and_no_more() -> None:
    limiter = InMemoryRateLimiter(SteppedClock())
    decisions = [await limiter.hit("k", limit=5, window_seconds=60) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]


async def test_the_bucket_refills_continuously_at_limit_per_window() -> None:
    clock = SteppedClock()
    limiter = InMemoryRateLimiter(clock)
    assert await burst(limiter, "k", 4, limit=4, window=2) == [True] * 4  # one token every half second
    clock.advance(0.25)
    assert not (await limiter.hit("k", 4, 2)).allowed  # half a token is not a token
    clock.advance(0.25)
    assert await burst(limiter, "k", 2, limit=4, window=2) == [True, False]
    clock.advance(1.0)
    assert await burst(limiter, "k", 3, limit=4, window=2) == [True, True, False]


async def test_a_long_wait_refills_up_to_capacity_only() -> None:
    clock = SteppedClock()
    limiter = InMemoryRateLimiter(clock)
    await burst(limiter, "k", 3, limit=3, window=60)
    clock.advance(3600)
    assert await burst(limiter, "k", 5, limit=3, window=60) == [True] * 3 + [False] * 2


async def test_no_span_lets_more_than_capacity_plus_refill_through() -> None:
    """What fixed windows got wrong: a burst at the end of one window and another at the start of the next
    passed twice the limit. A bucket hit at every tick passes at most capacity + elapsed * rate."""
    clock = SteppedClock()
    limiter = InMemoryRateLimiter(clock)
    passed_at: list[float] = []
    for _ in range(2000):  # 125 seconds in steps of 1/16 s, hitting three times a tick
        for allowed in await burst(limiter, "k", 3, limit=8, window=4):
            if allowed:
                passed_at.append(clock.now)
        clock.advance(0.0625)
    for start in passed_at:
        for span in (0.5, 4.0, 10.0):
            within = sum(1 for t in passed_at if start <= t <= start + span)
            assert within <= 8 + span * 8 / 4, (start, span, within)
    # The capacity, then a token per half second: 249 whole ones in the 124.9375 s after the first tick.
    assert len(passed_at) == 8 + 249


async def test_retry_after_is_until_the_next_token_and_reset_until_full() -> None:
    clock = SteppedClock()
    limiter = InMemoryRateLimiter(clock)
    await burst(limiter, "k", 2, limit=3, window=30)  # one token every 10 s
    last = await limiter.hit("k", 3, 30)
    assert last == RateDecision(allowed=True, remaining=0, retry_after_seconds=10, reset_seconds=30)
    clock.advance(2.5)
    refused = await limiter.hit("k", 3, 30)
    assert refused == RateDecision(allowed=False, remaining=0, retry_after_seconds=8, reset_seconds=28)
    clock.advance(7.5)
    assert await limiter.hit("k", 3, 30) == RateDecision(True, 0, 10, 30)


async def test_while_tokens_are_left_there_is_nothing_to_wait_for() -> None:
    decision = await InMemoryRateLimiter(SteppedClock()).hit("k", 3, 30)
    assert decision == RateDecision(allowed=True, remaining=2, retry_after_seconds=0, reset_seconds=10)


async def test_keys_have_buckets_of_their_own() -> None:
    limiter = InMemoryRateLimiter(SteppedClock())
    assert await burst(limiter, "a", 2, limit=1, window=60) == [True, False]
    assert await burst(limiter, "b", 2, limit=1, window=60) == [True, False]


async def test_full_buckets_are_forgotten() -> None:
    clock = SteppedClock()
    limiter = InMemoryRateLimiter(clock)
    for n in range(100):
        await limiter.hit(f"ip:{n}", 2, 10)
    assert len(limiter) == 100
    clock.advance(5)  # every bucket is full again
    await limiter.hit("another", 2, 10)
    assert len(limiter) == 1


async def test_memory_is_bounded_even_while_every_bucket_refills() -> None:
    clock = SteppedClock()
    limiter = InMemoryRateLimiter(clock, max_buckets=50)
    for n in range(1000):
        await limiter.hit(f"ip:{n}", 5, 3600)
    assert len(limiter) == 50
    # The least recently used went first: the most recent keys still remember their hit.
    assert (await limiter.hit("ip:999", 5, 3600)).remaining == 3


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (-1, 60), (5, 0)])
async def test_a_budget_that_can_never_refill_is_a_bug(limit: int, window: int) -> None:
    with pytest.raises(ValueError, match="budget"):
        await InMemoryRateLimiter(SteppedClock()).hit("k", limit, window)
