"""The test servers: PostgreSQL and Redis, real ones, named by CLINIC_TEST_DATABASE_URL / CLINIC_TEST_REDIS_URL.

A run that needs a server checks it once, before any test, and stops at once with one line saying which
server is unreachable and how to point the tests at another. Nothing is skipped.

Each run creates its own PostgreSQL database (migrated as the owner), a login role that is a member of
``clinic_app`` (what the API connects as), and drops the database at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_infra.db.engine import create_engine
from clinic_infra.db.migrate import upgrade
from clinic_infra.db.roles import create_login_role

DATABASE_URL = os.environ.get("CLINIC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CLINIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
APP_LOGIN = "clinic_test_app"
POSTGRES_FIXTURES = {"postgres", "own_postgres", "pg_app_engine", "pg_owner_engine"}
REDIS_FIXTURES = {"redis_url"}


def _postgres_problem() -> str | None:
    try:
        with psycopg.connect(_plain(DATABASE_URL), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return (
            f"PostgreSQL is unreachable at {_safe(DATABASE_URL)} ({first}); start it, or set "
            "CLINIC_TEST_DATABASE_URL=postgresql://USER@HOST:PORT/DB (a role that may CREATE DATABASE and ROLE)"
        )
    return None


def _redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return (
            f"Redis is unreachable at {REDIS_URL} ({error}); start it, or set "
            "CLINIC_TEST_REDIS_URL=redis://HOST:PORT/DB"
        )
    return None


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    needed = {name for item in items for name in getattr(item, "fixturenames", ())}
    problems = []
    if needed & POSTGRES_FIXTURES:
        problems.append(_postgres_problem())
    if needed & REDIS_FIXTURES:
        problems.append(_redis_problem())
    found = [p for p in problems if p]
    if found:
        pytest.exit("\n".join(found), returncode=3)


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class PostgresDatabase:
    owner_url: str
    """The table owner (migrations)."""
    app_url: str
    """A member of clinic_app: no superuser, no BYPASSRLS, owns nothing. What the API connects as."""
    name: str


@contextmanager
def new_database() -> Iterator[PostgresDatabase]:
    """A new database, migrated as the owner, with the app login; dropped afterwards."""
    name = f"clinic_test_{uuid.uuid4().hex[:12]}"
    admin = make_url(DATABASE_URL)
    with psycopg.connect(_plain(DATABASE_URL), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    owner_url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(owner_url)
        create_login_role(owner_url, APP_LOGIN, None)
        app_url = admin.set(database=name, username=APP_LOGIN, password=None).render_as_string(
            hide_password=False
        )
        yield PostgresDatabase(owner_url, app_url, name)
    finally:
        with psycopg.connect(_plain(DATABASE_URL), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabase]:
    with new_database() as database:
        yield database


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresDatabase]:
    """A database of the module's own: for tests that read every tenant's rows (the outbox relay), which
    the session's shared database fills with other modules' rows."""
    with new_database() as database:
        yield database


@pytest.fixture(scope="session")
async def pg_app_engine(postgres: PostgresDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres.app_url, pool_size=20)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def pg_owner_engine(postgres: PostgresDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres.owner_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL
