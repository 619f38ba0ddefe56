"""Developer sessions. Every session installs from the lock file (uv.lock) into its own virtualenv."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["packages", "apps", "tests", "benchmarks", "noxfile.py"]


def _sync(session: nox.Session, *, dev: bool) -> None:
    """Install the whole workspace, exactly as locked, into the session's virtualenv."""
    args = ["uv", "sync", "--locked", "--all-packages", "--inexact"]
    if not dev:
        args.append("--no-dev")
    session.run_install(*args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}, silent=True)


@nox.session
def serve(session: nox.Session) -> None:
    """Start the API on the embedded defaults (SQLite file, in-process jobs, in-memory limiter)."""
    _sync(session, dev=False)
    session.run("clinic-api", "--migrate", "--seed-demo", *session.posargs, env=dict(os.environ))


@nox.session
def tests(session: nox.Session) -> None:
    """Every test: unit, integration (real PostgreSQL and Redis) and end-to-end over HTTP."""
    _sync(session, dev=True)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _sync(session, dev=True)
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict (with the returns plugin) over every workspace member and the tests."""
    _sync(session, dev=True)
    session.run(
        "mypy",
        "packages/clinic_core/src",
        "packages/clinic_infra/src",
        "apps/api/src",
        "apps/worker/src",
        "tests",
        "benchmarks",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not run in CI): figures go to BENCHMARKS.md."""
    _sync(session, dev=True)
    session.run("python", "-m", "benchmarks.http_api", *session.posargs)
    session.run("python", "-m", "benchmarks.fhir_import")
    session.run("python", "-m", "benchmarks.jobs_throughput")
