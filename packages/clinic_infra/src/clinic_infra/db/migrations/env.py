"""Alembic environment. Runs with a blocking driver (psycopg's sync mode, or sqlite3) as the table owner."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from clinic_infra.db.engine import sync_url
from clinic_infra.db.tables import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(
        sync_url(config.get_main_option("sqlalchemy.url") or ""),
        poolclass=pool.NullPool,
        hide_parameters=True,
    )
    with engine.connect() as fresh:
        _run(fresh)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]  # a sqlalchemy Connection, typed loosely by alembic
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run `clinic-admin migrate`")
run_migrations_online()
