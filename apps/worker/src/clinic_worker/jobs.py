"""The functions RQ runs, by dotted path. Each builds its process's job services on first use.

RQ's default worker forks a work horse per job: the services (and so the database engine) are built in
the horse, after the fork, never inherited from the parent. A ``SimpleWorker`` (``clinic-worker
--no-fork``) runs every job in one process and keeps them, with their connection pool and event loop,
from one job to the next.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable
from typing import Any

from rq import get_current_job

from clinic_core.jobs.model import OutboxMessage
from clinic_core.shared.clock import SystemClock
from clinic_infra.jobs.operations import OUTCOMES_KEY, count
from clinic_infra.jobs.wiring import JobServices as JobServices
from clinic_infra.jobs.wiring import app_engine, job_services
from clinic_infra.settings import Settings


class UnknownRecurringJob(LookupError):
    pass


class _Runtime:
    def __init__(self, services: Callable[[], JobServices]) -> None:
        self.pid = os.getpid()
        self.runner = asyncio.Runner()
        self.services = services()

    def close(self) -> None:
        self.runner.run(self.services.engine.dispose())
        self.runner.close()


def default_services() -> JobServices:
    settings = Settings()
    return job_services(settings, app_engine(settings, pool_size=2), SystemClock())


_services_factory: Callable[[], JobServices] = default_services
_runtime: _Runtime | None = None
dispose_after_each_job = False
"""Set by ``clinic-worker`` when it forks per job: the horse closes its connections before it exits."""


def load_factory(path: str) -> Callable[[], JobServices]:
    """``package.module:function`` -> the function (``clinic-worker --services``)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--services takes MODULE:FUNCTION, not {path!r}")
    factory: Callable[[], JobServices] = getattr(importlib.import_module(module_name), attribute)
    return factory


def use_services(factory: Callable[[], JobServices]) -> None:
    """Build job services with ``factory`` from now on (tests and embedding programs)."""
    global _services_factory, _runtime
    if _runtime is not None:
        _runtime.close()
    _services_factory, _runtime = factory, None


def _current() -> _Runtime:
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        _runtime = _Runtime(_services_factory)
    return _runtime


def _run(work: Callable[[JobServices], Any]) -> Any:
    global _runtime
    runtime = _current()
    try:
        return runtime.runner.run(work(runtime.services))
    finally:
        if dispose_after_each_job:
            runtime.close()
            _runtime = None


def handle_outbox_message(message: dict[str, Any]) -> dict[str, str]:
    """Run every handler of one outbox message (each once: see ``HandleOutboxMessage``)."""
    parsed = OutboxMessage.from_job(message)
    prefix = _current().services.settings.redis_key_prefix
    runs = _run(lambda services: services.handle(parsed))
    job = get_current_job()
    if job is not None:  # counted for `clinic-admin jobs stats` and the metrics
        for run in runs:
            count(job.connection, prefix, OUTCOMES_KEY, f"{parsed.topic}|{run.handler}|{run.outcome.value}")
    return {run.handler: run.outcome.value for run in runs}


def run_recurring(name: str) -> dict[str, Any]:
    """One run of the recurring job ``name`` across every tenant."""

    async def work(services: JobServices) -> dict[str, Any]:
        job = services.recurring.get(name)
        if job is None:
            raise UnknownRecurringJob(name)
        return await job.work()

    result: dict[str, Any] = _run(work)
    return result
