"""jobs: outbox rows finished by their handlers, handler receipts, the relay's cross-tenant functions

``outbox.handled_at`` says every handler finished a row (the relay dispatches again a row published long
ago and never handled: its job was lost). ``job_receipts`` holds one row per (message, handler) that
finished. On PostgreSQL the relay reads every tenant's outbox through three SECURITY DEFINER functions,
owned by the table owner, which a policy lets see every row: the application role itself stays under
row-level security and can reach other tenants' rows only through what these functions do. A statement
trigger notifies ``clinic_outbox`` when rows are written, so that a listening relay wakes at the commit.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_infra.db.migrations.rls import APP_ROLE, guard_tenant_table, is_postgres, unguard_tenant_table

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = (
    r"""
CREATE FUNCTION clinic_outbox_claim(lim int, redispatch_before timestamptz)
RETURNS TABLE (tenant_id uuid, id uuid, topic text, payload jsonb, occurred_at timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT o.tenant_id, o.id, o.topic::text, o.payload, o.occurred_at
      FROM public.outbox o
     WHERE o.handled_at IS NULL
       AND (o.published_at IS NULL OR o.published_at < redispatch_before)
     ORDER BY o.occurred_at, o.id
     LIMIT least(greatest(lim, 0), 1000)
       FOR UPDATE SKIP LOCKED
$$
""",
    r"""
CREATE FUNCTION clinic_outbox_published(ids uuid[], at timestamptz) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    UPDATE public.outbox SET published_at = at, attempts = attempts + 1
     WHERE id = ANY(ids) AND handled_at IS NULL
$$
""",
    r"""
CREATE FUNCTION clinic_outbox_backlog()
RETURNS TABLE (pending bigint, unpublished bigint, oldest timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT count(*), count(*) FILTER (WHERE published_at IS NULL), min(occurred_at)
      FROM public.outbox WHERE handled_at IS NULL
$$
""",
    r"""
CREATE FUNCTION clinic_active_tenant_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT id FROM public.tenants WHERE status = 'active' ORDER BY id
$$
""",
)
NOTIFY_TRIGGER = (
    r"""
CREATE FUNCTION clinic_outbox_notify() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('clinic_outbox', '');
    RETURN NULL;
END
$$
""",
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION clinic_outbox_notify()",
)
FUNCTION_NAMES = (
    "clinic_outbox_claim(int, timestamptz)",
    "clinic_outbox_published(uuid[], timestamptz)",
    "clinic_outbox_backlog()",
    "clinic_active_tenant_ids()",
)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["occurred_at"],
        unique=False,
        postgresql_where=sa.text("handled_at IS NULL"),
        sqlite_where=sa.text("handled_at IS NULL"),
    )
    # Rows written before this revision were never delivered, and now they would be late: an appointment
    # notice for a past visit, a link that expired. They are closed, and their tokens dropped.
    op.execute("UPDATE outbox SET handled_at = CURRENT_TIMESTAMP WHERE handled_at IS NULL")
    if is_postgres():
        op.execute("UPDATE outbox SET payload = payload - 'token' WHERE payload ? 'token'")
    else:
        op.execute("UPDATE outbox SET payload = json_remove(payload, '$.token')")
    op.create_table(
        "job_receipts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("handler", sa.String(length=80), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "message_id", "handler", name="pk_job_receipts"),
    )
    guard_tenant_table("job_receipts")
    if is_postgres():
        # The owner (who runs migrations and owns the functions below) sees every tenant's rows; forced
        # row-level security would otherwise hide them from it too.
        op.execute("CREATE POLICY relay_owner ON outbox TO CURRENT_USER USING (true) WITH CHECK (true)")
        op.execute("CREATE POLICY relay_owner ON tenants FOR SELECT TO CURRENT_USER USING (true)")
        for function in FUNCTIONS:
            op.execute(function)
        # PostgreSQL lets every role run a new function: only the application role may run these.
        for name in FUNCTION_NAMES:
            op.execute(f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC")
            op.execute(f"GRANT EXECUTE ON FUNCTION {name} TO {APP_ROLE}")
        # Wakes a waiting relay when a transaction that wrote outbox rows commits (NOTIFY is delivered at
        # commit, once per transaction and payload): the relay need not poll to be prompt.
        for statement in NOTIFY_TRIGGER:
            op.execute(statement)


def downgrade() -> None:
    if is_postgres():
        op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
        op.execute("DROP FUNCTION IF EXISTS clinic_outbox_notify()")
        for name in FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION IF EXISTS {name}")
        op.execute("DROP POLICY IF EXISTS relay_owner ON tenants")
        op.execute("DROP POLICY IF EXISTS relay_owner ON outbox")
    unguard_tenant_table("job_receipts")
    op.drop_table("job_receipts")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("handled_at")
