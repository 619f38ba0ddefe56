"""FHIR import benchmark: patients a second from the Synthea bulk NDJSON file, on SQLite and PostgreSQL.

    uv run --all-packages python -m benchmarks.fhir_import            # both databases, 3 runs each
    uv run --all-packages python -m benchmarks.fhir_import --runs 1 --only sqlite

Reads ``synthea/bulk-ndjson-1000-patients/Patient.000.ndjson`` (1,144 patients) from the shared test data
(CLINIC_SHARED_DATA, by default ``<repo>/../shared/data``) in place. Each run imports it into a new clinic
(every patient created), then again (every patient read, matched and found unchanged), exactly as
``clinic-admin import-fhir`` does: the streaming reader, ``ImportPatients``, one transaction per patient.
PostgreSQL (CLINIC_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres, a role that
may create databases and roles) is a fresh database, used as a member of clinic_app (row-level security
on). The reader alone is timed too: the import's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.http_api import _database
from clinic_core.application.context import RequestContext
from clinic_core.interop.importing import ImportCommand, ImportPatients, ImportSummary, operator
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import TenantId
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher
from clinic_infra.db.engine import create_engine
from clinic_infra.db.migrate import upgrade
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.fhir.reader import FhirFiles

ROOT = Path(__file__).resolve().parents[1]


def patient_file() -> Path:
    base = Path(os.environ.get("CLINIC_SHARED_DATA") or ROOT.parent / "shared" / "data")
    path = base / "synthea" / "bulk-ndjson-1000-patients" / "Patient.000.ndjson"
    if not path.is_file():
        sys.exit(f"{path} is missing: put shared/ beside the repository or set CLINIC_SHARED_DATA")
    return path


async def _clinic(uow: SqlUnitOfWorkFactory, n: int) -> TenantId:
    signed = await SignUp(uow, FakePasswordHasher(), SystemClock())(
        SignUpCommand(
            tenant_name=f"Bench {n}",
            unit_name="Centro",
            timezone="America/Sao_Paulo",
            owner_name="Ana Souza",
            email=f"bench-{n}-{time.time_ns()}@example.com",
            password="benchmark password 2026",
        )
    )
    return signed.unwrap().tenant.id


async def _timed_import(
    uow: SqlUnitOfWorkFactory, tenant_id: TenantId, path: Path
) -> tuple[float, ImportSummary]:
    command = ImportCommand(operator(tenant_id), FhirFiles(path), source="bench", context=RequestContext())
    started = time.perf_counter()
    summary = (await ImportPatients(uow, SystemClock())(command)).unwrap()
    return time.perf_counter() - started, summary


async def _runs(url: str, path: Path, runs: int) -> list[tuple[float, float]]:
    """(first pass, second pass) patients a second, per run."""
    engine = create_engine(url)
    uow = SqlUnitOfWorkFactory(engine)
    rates: list[tuple[float, float]] = []
    try:
        for n in range(runs):
            tenant_id = await _clinic(uow, n)
            first, created = await _timed_import(uow, tenant_id, path)
            second, unchanged = await _timed_import(uow, tenant_id, path)
            assert created.patients.created == unchanged.patients.unchanged == 1144, (created, unchanged)
            rates.append((1144 / first, 1144 / second))
    finally:
        await engine.dispose()
    return rates


def _reader_rate(path: Path) -> float:
    started = time.perf_counter()
    count = sum(1 for _ in FhirFiles(path))
    return count / (time.perf_counter() - started)


def _row(name: str, rates: list[tuple[float, float]]) -> str:
    firsts, seconds = [r[0] for r in rates], [r[1] for r in rates]
    return (
        f"| {name} | {statistics.median(firsts):,.0f} ({min(firsts):,.0f}-{max(firsts):,.0f})"
        f" | {statistics.median(seconds):,.0f} ({min(seconds):,.0f}-{max(seconds):,.0f}) |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args(argv)
    path = patient_file()
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {path}")
    print(f"reader alone: {_reader_rate(path):,.0f} patients/s")
    backends: dict[str, Callable[[], list[tuple[float, float]]]] = {}
    if args.only in (None, "sqlite"):

        def sqlite() -> list[tuple[float, float]]:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
                upgrade(url)
                return asyncio.run(_runs(url, path, args.runs))

        backends["SQLite (file, WAL)"] = sqlite
    if args.only in (None, "postgres"):

        def postgres() -> list[tuple[float, float]]:
            with _database() as (_owner, app):
                return asyncio.run(_runs(app, path, args.runs))

        backends["PostgreSQL 15 (app role, RLS)"] = postgres
    print("| database | first import: patients/s, median (min-max) | re-import (all unchanged): patients/s |")
    print("|---|---:|---:|")
    for name, run in backends.items():
        print(_row(name, run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
