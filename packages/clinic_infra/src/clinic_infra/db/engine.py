"""Engines for PostgreSQL (psycopg 3) and SQLite (aiosqlite), created inside the process that uses them.

On SQLite a unit of work that may write starts with ``BEGIN IMMEDIATE``: writers queue on the database lock
up front instead of failing with "database is locked" when a read transaction later tries to write. A
read-only one starts with a plain (deferred) ``BEGIN`` and, under WAL, reads alongside the writer.

Every engine hides statement parameters from its errors and logs: they hold emails, names and password
hashes, and a failed statement's message ends up in an exception log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 15_000
SQLITE_BEGIN_OPTION = "clinic_sqlite_begin"
"""Execution option naming the statement that opens a SQLite transaction (``BEGIN`` for read-only work)."""


def async_url(url: str) -> str:
    """The async-driver form of a database URL (``postgresql://`` -> psycopg, ``sqlite://`` -> aiosqlite)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite:///")


def sync_url(url: str) -> str:
    """The blocking-driver form, for Alembic (psycopg's sync mode, or the stdlib sqlite3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return parsed.set(drivername="sqlite").render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    full = async_url(url)
    if not is_postgres(url):
        database = make_url(full).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full, hide_parameters=True)
        _serialise_sqlite_writes(engine)
        return engine
    return create_async_engine(
        full,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,  # a dead connection fails one request (503) and invalidates the pool
        pool_recycle=1800,
    )


def _serialise_sqlite_writes(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "foreign_keys = ON",
            "journal_mode = WAL",
            "synchronous = NORMAL",
            f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(
            connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "BEGIN IMMEDIATE")
        )
