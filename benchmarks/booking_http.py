"""Booking benchmark over HTTP on PostgreSQL: the race for one slot, and bookings/s without collisions.

    uv run --all-packages python -m benchmarks.booking_http
    uv run --all-packages python -m benchmarks.booking_http --racers 100 --bookings 2000 --concurrency 32

Needs PostgreSQL at CLINIC_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres, a role
that may create databases and roles). It creates a database, migrates it, and serves the API as a member
of clinic_app (row-level security on), one uvicorn process, exactly as ``clinic-api`` does. The catalog (a
procedure, the professionals) is written through the SQL repositories as the database owner; everything
else goes through the HTTP API.

1. The race: ``--racers`` concurrent ``POST /v1/appointments`` for the same professional and start, each for
   another patient. Exactly one must answer 201 and every other 409 ``slot_taken``; afterwards the database
   must hold no two overlapping active appointments of the professional (counted by SQL).
2. Throughput: ``--bookings`` bookings that never collide (distinct patients, professionals and times),
   ``--concurrency`` at a time: bookings/s and latency percentiles.
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
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import psycopg

from benchmarks.http_api import _database, _port, _serve
from clinic_core.application.unit_of_work import Scope
from clinic_core.shared.ids import TenantId, UnitId, UserId
from clinic_core.testing.catalog import a_procedure, a_professional
from clinic_infra.db.engine import create_engine
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory

PASSWORD = "benchmark password 2026"
BIN = os.path.dirname(sys.executable)


async def _catalog(
    owner_url: str, tenant: TenantId, unit: UnitId, users: list[UserId]
) -> tuple[str, list[str]]:
    engine = create_engine(owner_url)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        procedure = a_procedure(tenant, "Consulta", minutes=30, buffer_after_minutes=10)
        professionals = [
            a_professional(
                tenant,
                user,
                f"Profissional {n:02d}",
                procedure_ids=frozenset({procedure.id}),
                unit_ids=frozenset({unit}),
            )
            for n, user in enumerate(users)
        ]
        async with uow(Scope(tenant_id=tenant)) as tx:
            await tx.procedures.add(procedure)
            for professional in professionals:
                await tx.professionals.add(professional)
            await tx.commit()
        return str(procedure.id), [str(p.id) for p in professionals]
    finally:
        await engine.dispose()


async def _prepare(
    client: httpx.AsyncClient, owner_url: str, patients: int, professionals: int
) -> tuple[dict[str, str], str, str, list[str], list[str]]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    signed = (
        await client.post(
            "/v1/signup",
            json={
                "tenant_name": "Clínica Benchmark",
                "unit_name": "Centro",
                "timezone": "America/Sao_Paulo",
                "owner_name": "Bench Owner",
                "email": email,
                "password": PASSWORD,
            },
        )
    ).json()
    token = (await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})).json()[
        "access_token"
    ]
    auth = {"Authorization": f"Bearer {token}"}
    (
        await client.put("/v1/tenant/security-policy", json={"unverified_email_access": "full"}, headers=auth)
    ).raise_for_status()
    # A new session: the old one's permissions were cached before the policy opened patient data.
    token = (await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})).json()[
        "access_token"
    ]
    auth = {"Authorization": f"Bearer {token}"}
    me = (await client.get("/v1/me", headers=auth)).json()
    users = [UserId(UUID(me["user"]["id"]))]
    for n in range(professionals - 1):
        invited = await client.post(
            "/v1/invitations",
            json={"email": f"pro{n}-{uuid.uuid4().hex[:6]}@example.com", "roles": ["professional"]},
            headers=auth,
        )
        invited.raise_for_status()
        accepted = await client.post(
            "/v1/invitations/accept",
            json={"token": invited.json()["token"], "password": PASSWORD, "name": f"Profissional {n}"},
        )
        accepted.raise_for_status()
        users.append(UserId(UUID(accepted.json()["user"]["id"])))
    semaphore = asyncio.Semaphore(16)

    async def patient(n: int) -> str:
        async with semaphore:
            created = await client.post(
                "/v1/patients", json={"kind": "person", "name": f"Paciente {n:05d}"}, headers=auth
            )
            created.raise_for_status()
            return str(created.json()["id"])

    patient_ids = list(await asyncio.gather(*(patient(n) for n in range(patients))))
    tenant, unit = TenantId(UUID(signed["tenant"]["id"])), signed["unit"]["id"]
    procedure, professional_ids = await _catalog(owner_url, tenant, UnitId(UUID(unit)), users)
    return auth, unit, procedure, professional_ids, patient_ids


def _body(unit: str, procedure: str, professional: str, patient: str, start: datetime) -> dict[str, object]:
    return {
        "patient_id": patient,
        "professional_id": professional,
        "unit_id": unit,
        "start": start.isoformat(),
        "procedure_ids": [procedure],
    }


def _overlaps(owner_url: str) -> int:
    plain = owner_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as connection:
        row = connection.execute(
            "SELECT count(*) FROM appointments a JOIN appointments b"
            " ON a.tenant_id = b.tenant_id AND a.id < b.id"
            " AND (a.professional_id = b.professional_id OR a.patient_id = b.patient_id)"
            " WHERE a.status IN ('pending', 'confirmed', 'checked_in', 'in_progress')"
            " AND b.status IN ('pending', 'confirmed', 'checked_in', 'in_progress')"
            " AND a.block_start < b.block_end AND b.block_start < a.block_end"
        ).fetchone()
    return int(row[0]) if row else -1


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def _run(api: str, owner_url: str, args: argparse.Namespace) -> dict[str, object]:
    limits = httpx.Limits(max_connections=max(args.racers, args.concurrency) + 8)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as client:
        auth, unit, procedure, professionals, patients = await _prepare(
            client, owner_url, args.racers + args.bookings, args.professionals
        )
        day = (datetime.now(UTC) + timedelta(days=7)).replace(hour=12, minute=0, second=0, microsecond=0)

        # 1. the race
        racers = patients[: args.racers]
        gate = asyncio.Event()

        async def race(patient: str) -> tuple[int, str]:
            await gate.wait()
            response = await client.post(
                "/v1/appointments", json=_body(unit, procedure, professionals[0], patient, day), headers=auth
            )
            return response.status_code, response.json().get("code", "")

        tasks = [asyncio.create_task(race(p)) for p in racers]
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        gate.set()
        outcomes = await asyncio.gather(*tasks)
        race_seconds = time.perf_counter() - started
        statuses = Counter(status for status, _ in outcomes)
        codes = Counter(code for status, code in outcomes if status != 201)

        # 2. bookings that never collide: each professional's day filled slot after slot
        rest = patients[args.racers :]
        semaphore = asyncio.Semaphore(args.concurrency)
        latencies: list[float] = []
        failures: Counter[int] = Counter()

        async def book(n: int, patient: str) -> None:
            professional = professionals[n % len(professionals)]
            start = day + timedelta(
                days=1 + n // len(professionals) // 30, minutes=40 * (n // len(professionals) % 30)
            )
            async with semaphore:
                began = time.perf_counter()
                response = await client.post(
                    "/v1/appointments",
                    json=_body(unit, procedure, professional, patient, start),
                    headers=auth,
                )
                latencies.append(time.perf_counter() - began)
                if response.status_code != 201:
                    failures[response.status_code] += 1

        warm = rest[: min(50, len(rest))]
        await asyncio.gather(*(book(10_000 + n, p) for n, p in enumerate(warm)))
        latencies.clear()
        measured = rest[len(warm) :]
        started = time.perf_counter()
        await asyncio.gather(*(book(n, p) for n, p in enumerate(measured)))
        elapsed = time.perf_counter() - started
    return {
        "race": {
            "racers": len(racers),
            "statuses": dict(statuses),
            "codes": dict(codes),
            "seconds": round(race_seconds, 3),
        },
        "overlaps": _overlaps(owner_url),
        "throughput": {
            "bookings": len(measured),
            "failures": dict(failures),
            "per_second": round(len(measured) / elapsed, 1),
            "p50_ms": _ms(latencies, 0.50),
            "p99_ms": _ms(latencies, 0.99),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--racers", type=int, default=100)
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--professionals", type=int, default=8)
    args = parser.parse_args(argv)
    port = _port()
    api = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data, _database() as (owner, app_url):
        env = {
            "CLINIC_DATABASE_URL": app_url,
            "CLINIC_MIGRATIONS_DATABASE_URL": owner,
            "CLINIC_PORT": str(port),
            "CLINIC_DATA_DIR": data,
            "CLINIC_LOG_LEVEL": "WARNING",
            "CLINIC_RATE_LIMIT_SIGNUP_PER_IP": "1000",
            # The benchmark is one user booking thousands of times a minute: lift the budgets meant for people.
            "CLINIC_RATE_LIMIT_PER_USER": "1000000",
            "CLINIC_RATE_LIMIT_ACCEPT_INVITATION_PER_IP": "1000",
            "CLINIC_RATE_LIMIT_PER_TENANT_PLAN": '{"trial": 1000000, "clinic": 1000000, "franchise": 1000000}',
            "CLINIC_DATABASE_POOL_SIZE": "20",
        }
        with _serve([os.path.join(BIN, "clinic-api")], env, f"{api}/health/live"):
            result = asyncio.run(_run(api, owner, args))
    race = result["race"]
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"race: {race}")
    print(f"overlapping active pairs afterwards: {result['overlaps']}")
    print(f"throughput: {result['throughput']}")
    assert isinstance(race, dict)
    statuses = race["statuses"]
    ok = statuses.get(201) == 1 and statuses.get(409) == race["racers"] - 1 and result["overlaps"] == 0
    if not ok:
        raise SystemExit("the race did not end with exactly one 201, the rest 409, and no overlap")


if __name__ == "__main__":
    main()
