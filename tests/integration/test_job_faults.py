"""Faults against the real servers, with ``clinic-worker`` running as operators run it (a process with its
dispatcher), on a Redis server of the test's own that the test stops and starts."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from returns.result import Success

from clinic_core.application.unit_of_work import Scope
from clinic_core.scheduling.booking import BookAppointment
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.values import Email
from clinic_core.testing import a_person
from clinic_infra.db.engine import create_engine
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.conftest import PostgresDatabase
from tests.integration.smtp_world import SmtpServerUnderTest, free_port, plain_smtp
from tests.integration.test_booking_sql import SLOT, a_clinic, booking

__all__ = ["plain_smtp"]

WAIT_SECONDS = 60.0


@dataclass
class RedisServer:
    """A redis-server process of the test's own: stopping it is a real outage for whoever uses it."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "the fault tests start their own redis-server: install Redis 7's server binary"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        _until(lambda: _pings(self.url), "redis-server to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.1)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@dataclass
class WorkerProcess:
    effects_dir: Path
    process: subprocess.Popen[bytes]
    metrics_port: int

    def effects(self) -> list[str]:
        path = self.effects_dir / "effects"
        return path.read_text().split() if path.exists() else []

    def started(self) -> list[Path]:
        return sorted(self.effects_dir.glob("started-*"))


@pytest.fixture
def worker(
    own_postgres: PostgresDatabase,
    private_redis: RedisServer,
    plain_smtp: SmtpServerUnderTest,
    tmp_path: Path,
) -> Iterator[WorkerProcess]:
    effects = tmp_path / "effects"
    effects.mkdir()
    metrics_port = free_port()
    env = {
        **os.environ,
        "CLINIC_DATABASE_URL": own_postgres.app_url,
        "CLINIC_REDIS_URL": private_redis.url,
        "CLINIC_DATA_DIR": str(tmp_path / "data"),
        "CLINIC_TEST_EFFECTS_DIR": str(effects),
        "CLINIC_SMTP_HOST": "127.0.0.1",
        "CLINIC_SMTP_PORT": str(plain_smtp.port),
        "CLINIC_SMTP_TLS": "none",
        "CLINIC_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clinic_worker.main",
            "--services",
            "tests.integration.fault_jobs:services",
            "--metrics-port",
            str(metrics_port),
        ],
        env=env,
    )
    yield WorkerProcess(effects, process, metrics_port)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _book(uow: SqlUnitOfWorkFactory, count: int) -> list[str]:
    """``count`` bookings, each for a patient with an email address (so each gets a confirmation)."""
    clinic = await a_clinic(uow, patients=0)
    patients = [
        a_person(clinic.actor.tenant_id, f"Paciente {i}", emails=(Email(f"paciente{i}@example.com"),))
        for i in range(count)
    ]
    async with uow(Scope(tenant_id=clinic.actor.tenant_id)) as tx:
        for patient in patients:
            await tx.patients.add(patient)
        await tx.commit()
    book = BookAppointment(uow, SystemClock())
    ids = []
    for i, patient in enumerate(patients):
        booked = await book(booking(clinic, patient, SLOT.replace(day=12 + i)))
        assert isinstance(booked, Success), booked
        ids.append(str(booked.unwrap().id))
    return ids


async def test_bookings_made_while_redis_is_down_are_delivered_once_it_is_back(
    own_postgres: PostgresDatabase,
    private_redis: RedisServer,
    plain_smtp: SmtpServerUnderTest,
    worker: WorkerProcess,
) -> None:
    engine = create_engine(own_postgres.app_url)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        private_redis.stop()  # the worker and its dispatcher keep running, without Redis
        await _book(uow, 5)  # bookings do not need Redis: their events wait in the outbox
        await asyncio.sleep(2)
        assert worker.effects() == []
        private_redis.start()

        def confirmations() -> list[str]:
            return [
                r.recipients[0]
                for r in plain_smtp.inbox.received
                if r.message["Subject"].startswith("Agendamento")
            ]

        await asyncio.to_thread(_until, lambda: len(confirmations()) >= 5, "the 5 confirmation emails")
        await asyncio.sleep(2)  # nothing more arrives: each booking's confirmation was sent once
        assert sorted(confirmations()) == [f"paciente{i}@example.com" for i in range(5)]
        assert len(worker.effects()) == len(set(worker.effects())) == 5
        assert worker.process.poll() is None, "the worker survived the outage"
    finally:
        await engine.dispose()


async def test_a_job_killed_mid_way_is_retried_and_its_effect_happens_once(
    own_postgres: PostgresDatabase, worker: WorkerProcess
) -> None:
    engine = create_engine(own_postgres.app_url)
    try:
        (worker.effects_dir / "hold").touch()
        await _book(SqlUnitOfWorkFactory(engine), 1)
        await asyncio.to_thread(_until, lambda: bool(worker.started()), "the job to start")
        horse = int(worker.started()[0].name.removeprefix("started-"))
        assert horse != worker.process.pid, "RQ runs the job in a forked work horse"
        os.kill(horse, signal.SIGKILL)  # the work horse dies mid-job, before its effect
        worker.started()[0].unlink()
        (worker.effects_dir / "hold").unlink()
        # RQ's worker sees its horse die and schedules the retry (10 s backoff); its scheduler requeues it.
        await asyncio.to_thread(_until, lambda: len(worker.effects()) == 1, "the retried job's effect")
        await asyncio.sleep(2)
        assert len(worker.effects()) == 1
        retried = int(worker.started()[0].name.removeprefix("started-"))
        assert retried != horse
    finally:
        await engine.dispose()


async def test_sigterm_lets_the_job_in_progress_finish(
    own_postgres: PostgresDatabase, worker: WorkerProcess
) -> None:
    engine = create_engine(own_postgres.app_url)
    try:
        (worker.effects_dir / "hold").touch()
        await _book(SqlUnitOfWorkFactory(engine), 1)
        await asyncio.to_thread(_until, lambda: bool(worker.started()), "the job to start")
        worker.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        assert worker.process.poll() is None, "a warm shutdown waits for the job in progress"
        (worker.effects_dir / "hold").unlink()
        exit_code = await asyncio.to_thread(worker.process.wait, 30)
        assert exit_code == 0
        assert len(worker.effects()) == 1
    finally:
        await engine.dispose()


def _dispatcher_pids(worker_pid: int) -> list[int]:
    """The worker's spawned dispatcher processes (not its work horses, nor multiprocessing's helpers)."""
    children = [
        c
        for task in Path(f"/proc/{worker_pid}/task").iterdir()
        for c in (task / "children").read_text().split()
    ]
    found = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(int(child))
    return found


async def test_a_dead_dispatcher_is_started_again_and_the_outbox_keeps_flowing(
    own_postgres: PostgresDatabase, worker: WorkerProcess
) -> None:
    await asyncio.to_thread(_until, lambda: bool(_dispatcher_pids(worker.process.pid)), "the dispatcher")
    [first] = _dispatcher_pids(worker.process.pid)
    os.kill(first, signal.SIGKILL)
    await asyncio.to_thread(
        _until,
        lambda: [p for p in _dispatcher_pids(worker.process.pid) if p != first] != [],
        "a new dispatcher",
    )
    engine = create_engine(own_postgres.app_url)
    try:
        await _book(SqlUnitOfWorkFactory(engine), 1)
        await asyncio.to_thread(_until, lambda: len(worker.effects()) == 1, "the booking's effect")
    finally:
        await engine.dispose()


def _scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.TransportError:
        return ""


async def test_the_worker_serves_its_metrics(own_postgres: PostgresDatabase, worker: WorkerProcess) -> None:
    engine = create_engine(own_postgres.app_url)
    try:
        await _book(SqlUnitOfWorkFactory(engine), 1)
        await asyncio.to_thread(_until, lambda: len(worker.effects()) == 1, "the booking's effect")
    finally:
        await engine.dispose()
    await asyncio.to_thread(
        _until, lambda: "appointment.created" in _scrape(worker.metrics_port), "the outcome in the metrics"
    )
    text = _scrape(worker.metrics_port)
    assert "clinic_workers 1.0" in text
    assert 'clinic_jobs{queue="default",state="failed"} 0.0' in text
    assert (
        'clinic_job_handler_outcomes_total{handler="test.file-effect",outcome="done",topic="appointment.created"} 1.0'
        in text
    )
