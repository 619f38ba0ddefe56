"""Jobs benchmark: outbox to handler through RQ, with clinic-worker processes as operators run them.

    uv run --all-packages python -m benchmarks.jobs_throughput
    uv run --all-packages python -m benchmarks.jobs_throughput --workers 2 --burst 2000 --rate 20 --seconds 30

Needs PostgreSQL at CLINIC_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and
Redis at CLINIC_BENCH_REDIS_URL (default redis://127.0.0.1:6379/11; the benchmark empties that database).
It creates and migrates a database, signs up one clinic, and starts ``--workers`` clinic-worker processes
(the first with the dispatcher: the relay and the recurring jobs) as a member of clinic_app.

1. Throughput: ``--burst`` transactions, each committing one event, written 8 at a time; jobs/s is the
   count divided by the time from the first commit to the last handler run.
2. Delay: ``--rate`` transactions a second for ``--seconds``: the delay from each commit to its handler
   (relay poll + Redis + the worker taking the job + forking a work horse + the handler's own work).
Run once with the default fork per job, once with ``--no-fork`` (RQ's SimpleWorker).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from redis import Redis

from benchmarks.availability_engine import percentile
from benchmarks.http_api import _database
from benchmarks.jobs_services import LATENCIES, Ping
from clinic_core.application.unit_of_work import Scope
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import TenantId
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher
from clinic_infra.db.engine import create_engine
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory

REDIS_URL = os.environ.get("CLINIC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The repository: the workers import benchmarks.jobs_services from it."""


async def _commit_pings(uow: SqlUnitOfWorkFactory, tenant: TenantId, count: int, concurrency: int) -> None:
    semaphore = asyncio.Semaphore(concurrency)
    clock = SystemClock()

    async def one() -> None:
        async with semaphore, uow(Scope(tenant_id=tenant)) as tx:
            tx.record(Ping(tenant_id=tenant, occurred_at=clock.now(), committed_at=time.time()))
            await tx.commit()

    await asyncio.gather(*(one() for _ in range(count)))


async def _paced(uow: SqlUnitOfWorkFactory, tenant: TenantId, rate: float, seconds: float) -> int:
    clock, sent, started = SystemClock(), 0, time.monotonic()
    while time.monotonic() - started < seconds:
        async with uow(Scope(tenant_id=tenant)) as tx:
            tx.record(Ping(tenant_id=tenant, occurred_at=clock.now(), committed_at=time.time()))
            await tx.commit()
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    return sent


def _wait_for(redis: Redis, count: int, timeout: float) -> float:
    """When the ``count``-th handler ran; fails if any event ran twice (checked a second later)."""
    deadline = time.monotonic() + timeout
    while redis.llen(LATENCIES) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {redis.llen(LATENCIES)} of {count} jobs ran in {timeout:.0f} s")
        time.sleep(0.02)
    done = time.time()
    time.sleep(1.0)
    if redis.llen(LATENCIES) != count:
        raise SystemExit(f"{redis.llen(LATENCIES)} handler runs for {count} events")
    return done


def _start(command: list[str], env: dict[str, str], count: int) -> list[subprocess.Popen[bytes]]:
    """The first worker runs the dispatcher; the others only drain the queues."""
    return [
        subprocess.Popen(command + ([] if i == 0 else ["--no-dispatcher"]), env=env) for i in range(count)
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-fork", action="store_true")
    args = parser.parse_args()

    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    with _database() as (_owner_url, app_url), tempfile.TemporaryDirectory() as data:
        engine = create_engine(app_url, pool_size=10)
        uow = SqlUnitOfWorkFactory(engine)
        signed = (
            await SignUp(uow, FakePasswordHasher(), SystemClock())(
                SignUpCommand(
                    tenant_name="Bench",
                    unit_name="Centro",
                    timezone="America/Sao_Paulo",
                    owner_name="Ana",
                    email="bench@example.com",
                    password="benchmark password 2026",
                )
            )
        ).unwrap()
        tenant = signed.tenant.id
        env = {
            **os.environ,
            "CLINIC_DATABASE_URL": app_url,
            "CLINIC_REDIS_URL": REDIS_URL,
            "CLINIC_DATA_DIR": data,
            "CLINIC_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
        }
        command = [f"{BIN}/clinic-worker", "--services", "benchmarks.jobs_services:services"]
        if args.no_fork:
            command.append("--no-fork")
        workers = _start(command, env, args.workers)
        try:
            # Warm up (sign-up's own events, imports in the work horses), then measure.
            await _commit_pings(uow, tenant, 20, 4)
            _wait_for(redis, 20, 120)
            redis.delete(LATENCIES)

            started = time.time()
            await _commit_pings(uow, tenant, args.burst, 8)
            committed = time.time() - started
            finished = await asyncio.to_thread(_wait_for, redis, args.burst, 600)
            burst_delays = [float(v) for v in redis.lrange(LATENCIES, 0, -1)]
            redis.delete(LATENCIES)

            sent = await _paced(uow, tenant, args.rate, args.seconds)
            await asyncio.to_thread(_wait_for, redis, sent, 120)
            delays = [float(v) * 1000 for v in redis.lrange(LATENCIES, 0, -1)]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(60)
            await engine.dispose()
    mode = "SimpleWorker (--no-fork)" if args.no_fork else "fork per job"
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{args.workers} clinic-worker processes, {mode}"
    )
    print(
        f"throughput: {args.burst} events committed in {committed:.1f} s; all handled "
        f"{finished - started:.1f} s after the first commit: {args.burst / (finished - started):.0f} jobs/s "
        f"(delay under that load p50 {statistics.median(burst_delays):.1f} s)"
    )
    print(
        f"delay commit -> handler at {args.rate:.0f} events/s for {args.seconds:.0f} s ({sent} events): "
        f"p50 {percentile(delays, 0.50):.0f} ms, p95 {percentile(delays, 0.95):.0f} ms, "
        f"p99 {percentile(delays, 0.99):.0f} ms, max {max(delays):.0f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
