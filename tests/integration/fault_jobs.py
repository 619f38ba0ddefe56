"""Job services for the fault tests' ``clinic-worker`` processes: the deployment's own, plus a handler of
``appointment.created`` whose effect is a line in a file (like an email leaving the building).

Files in ``CLINIC_TEST_EFFECTS_DIR``: ``effects`` gets one line per effect; ``started-<pid>`` marks an
attempt's start; while ``hold`` exists, an attempt waits (so that a test can kill it mid-job, or stop the
worker while it runs).
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.shared.clock import SystemClock
from clinic_infra.jobs.wiring import JobServices, app_engine, job_services
from clinic_infra.settings import Settings


class FileEffect:
    name = "test.file-effect"
    topics = frozenset({"appointment.created"})

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        (self._dir / f"started-{os.getpid()}").write_text(str(message.id))
        while (self._dir / "hold").exists():  # noqa: ASYNC110 - another process removes it
            await asyncio.sleep(0.05)
        with (self._dir / "effects").open("a") as effects:
            effects.write(f"{message.id}\n")
        return Outcome.DONE


def services() -> JobServices:
    settings = Settings()
    directory = Path(os.environ["CLINIC_TEST_EFFECTS_DIR"])
    return job_services(
        settings, app_engine(settings, pool_size=2), SystemClock(), extra_handlers=(FileEffect(directory),)
    )
