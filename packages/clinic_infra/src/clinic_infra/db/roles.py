"""PostgreSQL login roles for the API and the worker: members of ``clinic_app``, so row-level security holds."""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

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
