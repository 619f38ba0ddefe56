"""Row-level security for tables added after the initial schema: the same policy the first migration set.

Migrations import this rather than repeat the SQL: a tenant table guarded differently from the others
would be a hole. It must stay backward compatible, since old migrations keep calling it.
"""

from __future__ import annotations

from alembic import op

APP_ROLE = "clinic_app"


def is_postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def guard_tenant_table(table: str) -> None:
    """Forced RLS on ``table``: rows of the transaction's tenant only, for reads and writes alike."""
    if not is_postgres():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table}"
        " USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())"
    )


def unguard_tenant_table(table: str) -> None:
    if is_postgres():
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")


def append_only(table: str) -> None:
    """The application may add rows to ``table`` and read them, never change or remove them."""
    if is_postgres():
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {APP_ROLE}")
