"""Jobs for the worker tests, importable by dotted path from RQ's work horse."""

from __future__ import annotations

import os

from redis import Redis


def record(key: str, value: str) -> str:
    Redis.from_url(os.environ["CLINIC_REDIS_URL"]).set(key, value, ex=60)
    return value


def explode(reason: str) -> None:
    raise RuntimeError(reason)
