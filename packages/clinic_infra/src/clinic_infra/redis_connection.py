"""Redis clients with short timeouts: a dead Redis must fail a request fast, not hang it."""

from __future__ import annotations

from redis.asyncio import Redis

CONNECT_TIMEOUT_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 2.0


def create_redis(url: str) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
