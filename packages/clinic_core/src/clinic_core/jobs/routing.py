"""Which queue a message's job goes to, and how often it is retried before it lands in the failed registry."""

from __future__ import annotations

from collections.abc import Sequence

from clinic_core.jobs.model import Priority

_CRITICAL_PREFIXES = ("identity.", "appointment.reminder")
_BULK_PREFIXES = ("webhook.", "attachments.", "catalog.")

RETRY_BACKOFF_SECONDS: Sequence[int] = (10, 30, 120, 600, 1800, 3600)
"""Waits between attempts of a failing job: six retries over about an hour and forty minutes, then the
failed registry (``clinic-admin jobs failed``, ``jobs requeue``)."""

JOB_TIMEOUT_SECONDS = 120
"""A job running longer is killed and retried: an SMTP or HTTP peer that hangs must not hold a worker."""


def priority_of(topic: str) -> Priority:
    if topic.startswith(_CRITICAL_PREFIXES):
        return Priority.CRITICAL
    if topic.startswith(_BULK_PREFIXES):
        return Priority.BULK
    return Priority.DEFAULT
