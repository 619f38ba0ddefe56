"""A real ``clinic-api`` process, started the way an operator starts it, reached over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PostgresDatabase

STARTUP_SECONDS = 60
LOGIN_PER_EMAIL = 5


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(tmp: Path, env: dict[str, str], *args: str) -> Iterator[Server]:
    """``clinic-api *args`` with nothing but ``env`` (and a data directory) configured, until the block ends."""
    port = _free_port()
    log = tmp / "server.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    full_env |= {
        "CLINIC_DATA_DIR": str(tmp / "data"),
        "CLINIC_PORT": str(port),
        "CLINIC_HOST": "127.0.0.1",
        **env,
    }
    executable = Path(sys.executable).parent / "clinic-api"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(executable), *args], env=full_env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"clinic-api exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{server.url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"clinic-api did not answer in {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def clean_env(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without any CLINIC_* variable, plus ``settings``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | settings


def run_api(tmp: Path, settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``clinic-api`` to completion (for the ways it refuses to start)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "clinic-api"), *args],
        env=clean_env({"CLINIC_DATA_DIR": str(tmp), **settings}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def pg_server(
    postgres: PostgresDatabase, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """On PostgreSQL as the clinic_app login, with Redis, migrated and seeded on start."""
    with serving(
        tmp_path_factory.mktemp("pg-server"),
        {
            "CLINIC_DATABASE_URL": postgres.app_url,
            "CLINIC_MIGRATIONS_DATABASE_URL": postgres.owner_url,
            "CLINIC_REDIS_URL": redis_url,
            "CLINIC_REDIS_KEY_PREFIX": f"clinic-e2e-{uuid.uuid4().hex[:8]}:",
            "CLINIC_RATE_LIMIT_SIGNUP_PER_IP": "1000",
            "CLINIC_RATE_LIMIT_LOGIN_PER_IP": "1000",
            "CLINIC_RATE_LIMIT_LOGIN_PER_EMAIL": str(LOGIN_PER_EMAIL),
            "CLINIC_RATE_LIMIT_ANONYMOUS_PER_IP": "10000",  # every test's client comes from 127.0.0.1
        },
        "--migrate",
        "--seed-demo",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The quickstart's embedded defaults: nothing configured but a data directory."""
    with serving(tmp_path_factory.mktemp("embedded-server"), {}, "--migrate", "--seed-demo") as server:
        yield server
