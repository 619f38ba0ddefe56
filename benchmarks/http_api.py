"""HTTP benchmark: the API on PostgreSQL, beside a bare BlackSheep endpoint measured in the same run.

    nox -s bench                      # or: uv run --all-packages python -m benchmarks.http_api
    nox -s bench -- --duration 20 --connections 64

Needs wrk (Debian: apt-get install wrk), PostgreSQL at CLINIC_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres, a role that may create databases and roles). It creates a
database, migrates it, and serves the API as a member of clinic_app (row-level security on), one uvicorn
process, exactly as ``clinic-api`` does. wrk runs on the same machine: its share of the CPU is part of the
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from clinic_infra.db.migrate import upgrade
from clinic_infra.db.roles import create_login_role

ADMIN_URL = os.environ.get("CLINIC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "benchmark password 2026"
BIN = Path(sys.executable).parent


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _database() -> Iterator[tuple[str, str]]:
    name = f"clinic_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_plain(ADMIN_URL), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    owner = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(owner)
        create_login_role(owner, "clinic_bench_app", None)
        app = make_url(ADMIN_URL).set(database=name, username="clinic_bench_app", password=None)
        yield owner, app.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_plain(ADMIN_URL), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def _serve(command: list[str], env: dict[str, str], url: str) -> Iterator[None]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                try:
                    if httpx.get(url, timeout=1).status_code < 500:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                log.seek(0)
                raise SystemExit(f"server did not start:\n{log.read().decode()[-2000:]}")
            yield
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wrk(url: str, duration: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    percentiles = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M)}
    return {
        "rps": rps,
        "p50_ms": percentiles["50"],
        "p99_ms": percentiles["99"],
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _prepare(api: str) -> str:
    with httpx.Client(base_url=api, timeout=30) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        client.post(
            "/v1/signup",
            json={
                "tenant_name": "Clínica Benchmark",
                "unit_name": "Centro",
                "timezone": "America/Sao_Paulo",
                "owner_name": "Bench Owner",
                "email": email,
                "password": PASSWORD,
            },
        ).raise_for_status()
        token: str = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        for n in range(19):
            client.post(
                "/v1/units",
                json={"name": f"Unidade {n:02d}", "timezone": "America/Sao_Paulo"},
                headers={"Authorization": f"Bearer {token}"},
            ).raise_for_status()
        return token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    api_port, bare_port = _port(), _port()
    api, bare = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data, _database() as (owner, app_url):
        env = {
            "CLINIC_DATABASE_URL": app_url,
            "CLINIC_MIGRATIONS_DATABASE_URL": owner,
            "CLINIC_PORT": str(api_port),
            "CLINIC_DATA_DIR": data,
            "CLINIC_LOG_LEVEL": "WARNING",
            "CLINIC_RATE_LIMIT_SIGNUP_PER_IP": "1000",
            "CLINIC_DATABASE_POOL_SIZE": "20",
        }
        bare_cmd = [
            str(BIN / "uvicorn"),
            "benchmarks.bare_app:app",
            "--port",
            str(bare_port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with (
            _serve([str(BIN / "clinic-api")], env, f"{api}/health/live"),
            _serve(bare_cmd, {}, f"{bare}/bare"),
        ):
            token = _prepare(api)
            auth = {"Authorization": f"Bearer {token}"}
            cases = [
                ("bare BlackSheep endpoint (ceiling)", f"{bare}/bare", {}),
                ("GET /health/live", f"{api}/health/live", {}),
                ("GET /v1/me (real token)", f"{api}/v1/me", auth),
                ("GET /v1/units (20 units)", f"{api}/v1/units", auth),
            ]
            for _ in range(2):  # warm-up: pools filled, code paths hot
                for _label, url, headers in cases:
                    _wrk(url, 2, args.connections, headers)
            for label, url, headers in cases:
                results[label] = _wrk(url, args.duration, args.connections, headers)
                alone = _wrk(
                    url, max(3, args.duration // 2), 1, headers
                )  # one client: latency without queueing
                results[label] |= {"alone_p50_ms": alone["p50_ms"], "alone_p99_ms": alone["p99_ms"]}

    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"wrk -t2 -c{args.connections} -d{args.duration}s on the same machine\n"
    )
    print(
        f"| endpoint | requests/s ({args.connections} conns) | p50 ms | p99 ms | p50 ms, 1 conn | p99 ms, 1 conn "
        "| non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        print(
            f"| {label} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['alone_p50_ms']:.2f} "
            f"| {r['alone_p99_ms']:.2f} | {r['errors']:.0f} |"
        )
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "http_api.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
