"""Recurring work: sweeps that run on a fixed period in every deployment.

Each run is identified by its job's name and the period it belongs to (``run_id``): the worker processes
that tick it all ask the queue for the same job id, and the queue keeps the first, so a period runs once
however many workers there are. The work itself is written to be safe to run twice (it acts on rows whose
state says it is due), so a run repeated after a crash does no harm either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clinic_core.jobs.model import Priority

RecurringWork = Callable[[], Awaitable[dict[str, Any]]]
"""One run across every tenant; returns counts for the log and ``jobs stats``."""


@dataclass(frozen=True, slots=True)
class RecurringJob:
    name: str
    every: timedelta
    work: RecurringWork
    priority: Priority = Priority.BULK

    def run_id(self, now: datetime) -> str:
        """The id of the run of the period ``now`` falls in: ``recurring-<name>-<period number>`` (RQ job ids allow letters, digits, ``-`` and ``_``)."""
        period = int(now.timestamp() // self.every.total_seconds())
        return f"recurring-{self.name}-{period}"


class RecurringRegistry:
    def __init__(self, jobs: Iterable[RecurringJob] = ()) -> None:
        self._jobs: dict[str, RecurringJob] = {}
        for job in jobs:
            self.add(job)

    def add(self, job: RecurringJob) -> None:
        if job.name in self._jobs:
            raise ValueError(f"two recurring jobs are named {job.name!r}")
        if job.every < timedelta(seconds=10):
            raise ValueError("a recurring job runs at most every 10 seconds")
        self._jobs[job.name] = job

    def get(self, name: str) -> RecurringJob | None:
        return self._jobs.get(name)

    def __iter__(self) -> Any:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)
