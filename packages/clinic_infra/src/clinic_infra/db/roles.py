"""PostgreSQL login roles for the API and the worker: members of ``clinic_app``, so row-level security holds."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_infra.db.engine import is_postgres

APP_ROLE = "clinic_app"


def create_login_role(owner_url: str, name: str, password: str | None) -> None:
    """Create (or update) login role ``name`` inheriting ``clinic_app``'s grants; needs CREATEROLE."""
    if not is_postgres(owner_url):
        raise ValueError("database roles exist on PostgreSQL only")
    url = make_url(owner_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
        statement = sql.SQL("{} {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE").format(
            verb, sql.Identifier(name)
        )
        if password is not None:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
        connection.execute(statement)
        connection.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_ROLE), sql.Identifier(name)))


def assume_role_on_connect(engine: AsyncEngine, role: str) -> None:
    """Make every new connection of ``engine`` act as ``role`` (``SET ROLE``), for row-level security.

    A login that is a superuser or owns the tables escapes RLS; ``SET ROLE clinic_app`` makes it act as the
    application role instead, so the quickstart's ``postgres`` URL still runs with RLS on. The SET is
    committed at once: left inside the connection's first transaction, a rollback would undo it.
    """
    if engine.dialect.name != "postgresql":
        return
    statement = sql.SQL("SET ROLE {}").format(sql.Identifier(role))

    @event.listens_for(engine.sync_engine, "connect")
    def _set_role(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement.as_string())
        cursor.close()
        dbapi_connection.commit()
