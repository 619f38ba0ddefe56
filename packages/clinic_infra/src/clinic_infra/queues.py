"""RQ queues as the product uses them: JSON-serialised jobs (ids and primitives only), named queues."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

DEFAULT_QUEUES = ("critical", "default", "bulk")
"""Drained in this order: a worker takes a bulk job only when nothing more urgent waits."""


def sync_redis(url: str, *, socket_timeout: float | None = None) -> Redis:
    """RQ works with the blocking client; timeouts keep a dead Redis from hanging a worker forever.

    ``socket_timeout`` bounds every reply; the RQ worker's own client has none (it blocks on the queues
    for minutes on purpose), the relay's has one (a half-open connection must not hold its transaction)."""
    return Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=socket_timeout, health_check_interval=30
    )


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)
