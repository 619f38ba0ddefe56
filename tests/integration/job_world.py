"""What the job tests share: a database of their own, a Redis database of their own, and handlers that
record what they were given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_infra.db.engine import create_engine
from clinic_infra.db.migrate import upgrade
from clinic_infra.queues import DEFAULT_QUEUES, queue
from tests.conftest import REDIS_URL, PostgresDatabase

JOBS_REDIS_DB = 9
"""The job tests' Redis database, emptied by each test: RQ's queues have fixed names."""


def jobs_redis_url() -> str:
    base = REDIS_URL.rsplit("/", 1)[0]
    return f"{base}/{JOBS_REDIS_DB}"


@pytest.fixture
def jobs_redis(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(jobs_redis_url())
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@dataclass(frozen=True)
class JobDatabase:
    """A database of the test's own (the relay reads every tenant's rows): the app's engine, and the
    owner's URL for what only the owner may do (rewinding the outbox, as a relay that died would leave it)."""

    engine: AsyncEngine
    url: str
    owner_url: str

    async def as_owner(self, statement: str) -> None:
        owner = create_engine(self.owner_url, pool_size=1)
        try:
            async with owner.begin() as connection:
                await connection.exec_driver_sql(statement)
        finally:
            await owner.dispose()


@pytest.fixture(params=["postgres", "sqlite"])
async def job_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobDatabase]:
    if request.param == "postgres":
        database: PostgresDatabase = request.getfixturevalue("own_postgres")
        found = JobDatabase(
            create_engine(database.app_url, pool_size=5), database.app_url, database.owner_url
        )
    else:
        url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
        upgrade(url)
        found = JobDatabase(create_engine(url), url, url)
    yield found
    await found.engine.dispose()
    # The module's PostgreSQL database is shared by its tests: leave its outbox handled for the next one.
    await found.as_owner("UPDATE outbox SET handled_at = CURRENT_TIMESTAMP WHERE handled_at IS NULL")


@pytest.fixture
def job_engine(job_db: JobDatabase) -> AsyncEngine:
    return job_db.engine


class TestWorker(SimpleWorker):
    """RQ's in-process worker, runnable off the main thread: no signal handlers, a timer for timeouts.
    (The test's event loop holds the main thread; the jobs start event loops of their own.)"""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def drain(connection: Redis) -> None:
    """Run every queued job (not those waiting for a retry) in this thread, then return."""
    TestWorker(
        [queue(name, connection) for name in DEFAULT_QUEUES], connection=connection, serializer=JSONSerializer
    ).work(burst=True, with_scheduler=False)


class RecordingHandler:
    """Records each message it handles; ``fail`` makes the next calls raise, like an SMTP server down."""

    def __init__(self, name: str = "test.recording", topics: frozenset[str] | None = None) -> None:
        self.name = name
        self.topics = topics or frozenset({"tenancy.tenant_created", "tenancy.unit_created"})
        self.handled: list[OutboxMessage] = []
        self.fail = 0

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("the peer is down")
        self.handled.append(message)
        return Outcome.DONE
