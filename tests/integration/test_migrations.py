"""One Alembic history takes an empty PostgreSQL and an empty SQLite to head, and back, matching the tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg import sql
from sqlalchemy import create_engine, inspect, pool
from sqlalchemy.engine import make_url

from clinic_infra.db.engine import sync_url
from clinic_infra.db.migrate import downgrade, upgrade
from clinic_infra.db.tables import metadata
from tests.conftest import DATABASE_URL, PostgresDatabase


@pytest.fixture
def empty_postgres(postgres: PostgresDatabase) -> Iterator[str]:
    name = f"clinic_migrations_{uuid.uuid4().hex[:10]}"
    plain = make_url(DATABASE_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _schema_drift(url: str) -> list[object]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        drift = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), metadata
        )
    engine.dispose()
    return list(drift)


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    return names


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_history_goes_up_down_and_up_again_without_drift(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        request.getfixturevalue("empty_postgres")
        if backend == "postgres"
        else f"sqlite:///{tmp_path / 'm.sqlite3'}"
    )
    upgrade(url)
    assert _tables(url) == set(metadata.tables)
    assert _schema_drift(url) == []
    downgrade(url, "base")
    assert _tables(url) == set()
    upgrade(url)
    assert _schema_drift(url) == []
