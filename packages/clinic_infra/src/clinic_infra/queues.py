"""RQ queues as the product uses them: JSON-serialised jobs (ids and primitives only), named queues."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

DEFAULT_QUEUES = ("critical", "default", "bulk")
"""Drained in this order: a worker takes a bulk job only when nothing more urgent waits."""


def sync_redis(url: str) -> Redis:
    """RQ works with the blocking client; timeouts keep a dead Redis from hanging a worker forever."""
    return Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)
