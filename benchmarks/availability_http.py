"""HTTP benchmark: ``GET /v1/availability`` for a unit with 20 professionals, on PostgreSQL.

    uv run --all-packages python -m benchmarks.availability_http
    uv run --all-packages python -m benchmarks.availability_http --duration 20 --connections 32

Like benchmarks/http_api.py (whose database and server helpers it uses): wrk on the same machine, the API as
one uvicorn process connected as a member of clinic_app (row-level security on), a fresh database migrated
for the run. The unit (America/Sao_Paulo) has 20 professionals who perform the procedure (50 minutes, 10
minutes' buffer after), each working Monday to Friday 08:00-12:00 and 13:00-18:00, some with time off and a
date override, the unit with a holiday; booking rules: no notice, 90 days' horizon, a 15-minute grid; and
``--appointments`` booked appointments a weekday per professional (10:00, 15:00, 11:00, 16:00 local...),
through ``POST /v1/appointments``, each for its own patient. Each request asks for every professional over
one week, then over 31 days (the most one request may ask).
The rate limits are raised for the run: one token sends every request.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from benchmarks.http_api import BIN, PASSWORD, _database, _port, _serve, _wrk

PROFESSIONALS = 20
WEEK = {
    day: [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def _book(client: httpx.Client, auth: dict[str, str], ids: dict[str, str], monday: date, per_day: int) -> int:
    """Book ``per_day`` appointments on each weekday of the 31 days for the professional: how many."""
    hours = (10, 15, 11, 16, 9, 14)[:per_day]
    booked = 0
    for offset in range(31):
        day = monday + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for hour in hours:
            response = client.post(
                "/v1/appointments",
                json={**ids, "start": f"{day.isoformat()}T{hour:02d}:00:00-03:00"},
                headers=auth,
            )
            if response.status_code in (409, 422):  # the holiday, time off: not bookable, left out
                continue
            _ok(response)
            booked += 1
    return booked


def _prepare(api: str, monday: date, per_day: int) -> tuple[str, str, str, int]:
    """Sign a clinic up and give it 20 working professionals: the owner's token, the unit, the procedure."""
    with httpx.Client(base_url=api, timeout=30) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        signed_up = _ok(
            client.post(
                "/v1/signup",
                json={
                    "tenant_name": "Clínica Agenda",
                    "unit_name": "Centro",
                    "timezone": "America/Sao_Paulo",
                    "owner_name": "Bench Owner",
                    "email": email,
                    "password": PASSWORD,
                },
            )
        )
        unit: str = signed_up["unit"]["id"]
        token: str = _ok(client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}))[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        appointments = 0
        # Patient data is withheld from unverified emails by default; the benchmark's owner never verifies.
        _ok(client.put("/v1/tenant/security-policy", json={"unverified_email_access": "full"}, headers=auth))
        token = _ok(client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}))[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}  # a new token: the old one's permissions were narrowed
        procedure: str = _ok(
            client.post(
                "/v1/procedures",
                json={
                    "name": "Limpeza de pele",
                    "duration_minutes": 50,
                    "buffer_after_minutes": 10,
                    "price": {"amount": "180.00"},
                },
                headers=auth,
            )
        )["id"]
        for n in range(PROFESSIONALS):
            invited = _ok(
                client.post(
                    "/v1/invitations",
                    json={"email": f"pro{n}-{email}", "roles": ["professional"], "unit_ids": []},
                    headers=auth,
                )
            )
            accepted = _ok(
                client.post(
                    "/v1/invitations/accept",
                    json={"token": invited["token"], "password": PASSWORD, "name": f"Profissional {n:02d}"},
                )
            )
            professional = _ok(
                client.post(
                    "/v1/professionals",
                    json={
                        "user_id": accepted["user"]["id"],
                        "procedure_ids": [procedure],
                        "unit_ids": [unit],
                    },
                    headers=auth,
                )
            )["id"]
            base = f"/v1/professionals/{professional}"
            _ok(client.put(f"{base}/working-hours?unit_id={unit}", json={"days": WEEK}, headers=auth))
            if per_day:
                patient = _ok(
                    client.post(
                        "/v1/patients", json={"kind": "person", "name": f"Paciente {n:02d}"}, headers=auth
                    )
                )["id"]
                ids = {
                    "patient_id": patient,
                    "professional_id": professional,
                    "unit_id": unit,
                    "procedure_ids": [procedure],
                }
                appointments += _book(client, auth, ids, monday, per_day)
            if n % 4 == 0:  # a quarter of them: a morning off in the first week, an afternoon-only day
                start = monday + timedelta(days=n % 5)
                _ok(
                    client.post(
                        f"{base}/time-off",
                        json={
                            "starts_at": f"{start.isoformat()}T08:00:00-03:00",
                            "ends_at": f"{start.isoformat()}T12:00:00-03:00",
                        },
                        headers=auth,
                    )
                )
                _ok(
                    client.put(
                        f"{base}/overrides/{(start + timedelta(days=7)).isoformat()}?unit_id={unit}",
                        json={"kind": "replace", "spans": [{"start": "13:00", "end": "18:00"}]},
                        headers=auth,
                    )
                )
        _ok(
            client.post(
                f"/v1/units/{unit}/closures",
                json={"first_day": (monday + timedelta(days=17)).isoformat(), "reason": "Feriado"},
                headers=auth,
            )
        )
        _ok(
            client.put(
                f"/v1/units/{unit}/booking-rules",
                json={"min_notice_minutes": 0, "horizon_days": 90, "slot_step_minutes": 15},
                headers=auth,
            )
        )
        return token, unit, procedure, appointments


def _query(api: str, unit: str, procedure: str, first: date, days: int) -> str:
    last = first + timedelta(days=days)
    params = {
        "unit_id": unit,
        "procedure_ids": procedure,
        "from": f"{first.isoformat()}T03:00:00Z",  # local midnight at -03:00
        "to": f"{last.isoformat()}T03:00:00Z",
    }
    return f"{api}/v1/availability?{urlencode(params)}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per case")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--appointments", type=int, default=1, choices=range(7), help="booked a weekday per professional"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())  # next Monday: every slot is in the future
    port = _port()
    api = f"http://127.0.0.1:{port}"
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data, _database() as (owner, app_url):
        env = {
            "CLINIC_DATABASE_URL": app_url,
            "CLINIC_MIGRATIONS_DATABASE_URL": owner,
            "CLINIC_PORT": str(port),
            "CLINIC_DATA_DIR": data,
            "CLINIC_LOG_LEVEL": "WARNING",
            "CLINIC_RATE_LIMIT_SIGNUP_PER_IP": "1000",
            "CLINIC_RATE_LIMIT_ACCEPT_INVITATION_PER_IP": "1000",
            "CLINIC_RATE_LIMIT_PER_USER": "100000000",
            "CLINIC_RATE_LIMIT_PER_TENANT_PLAN": json.dumps(
                {"trial": 100_000_000, "clinic": 100_000_000, "franchise": 100_000_000}
            ),
            "CLINIC_DATABASE_POOL_SIZE": "20",
        }
        with _serve([str(BIN / "clinic-api")], env, f"{api}/health/live"):
            token, unit, procedure, booked = _prepare(api, monday, args.appointments)
            auth = {"Authorization": f"Bearer {token}"}
            cases = [
                ("GET /v1/availability, 20 professionals, 7 days", _query(api, unit, procedure, monday, 7)),
                ("GET /v1/availability, 20 professionals, 31 days", _query(api, unit, procedure, monday, 31)),
            ]
            slots: dict[str, int] = {}
            for label, url in cases:
                found = _ok(httpx.get(url, headers=auth, timeout=30))
                slots[label] = sum(p["slot_count"] for p in found["professionals"])
                if len(found["professionals"]) != PROFESSIONALS or not slots[label]:
                    raise SystemExit(f"{label}: unexpected answer {found['professionals']}")
            for _label, url in cases:  # warm-up: pools filled, code paths hot
                _wrk(url, 2, args.connections, auth)
            for label, url in cases:
                results[label] = _wrk(url, args.duration, args.connections, auth)
                alone = _wrk(url, max(3, args.duration // 2), 1, auth)  # one client: no queueing
                results[label] |= {
                    "alone_p50_ms": alone["p50_ms"],
                    "alone_p99_ms": alone["p99_ms"],
                    "slots": float(slots[label]),
                }

    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, wrk -t2 -c{args.connections} -d{args.duration}s on the same machine\n"
    )
    print(f"{booked} appointments booked\n")
    print(
        f"| request | slots | requests/s ({args.connections} conns) | p50 ms | p99 ms | p50 ms, 1 conn "
        "| p99 ms, 1 conn | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        print(
            f"| {label} | {r['slots']:,.0f} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['alone_p50_ms']:.2f} | {r['alone_p99_ms']:.2f} | {r['errors']:.0f} |"
        )
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "availability_http.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
