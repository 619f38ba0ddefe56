"""audit trail, tenant security policy, device-bound sessions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clinic_infra.db.migrations.rls import append_only, guard_tenant_table, unguard_tenant_table

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("target_kind", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("details", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_audit_events_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_audit_events"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_tenant_id_action_id", ["tenant_id", "action", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_tenant_id_actor_user_id_id", ["tenant_id", "actor_user_id", "id"], unique=False
        )
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("security", _JSON, server_default="{}", nullable=False))
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idle_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("device_label", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("fingerprint_hash", sa.String(length=64), nullable=True))
    guard_tenant_table("audit_events")
    append_only("audit_events")


def downgrade() -> None:
    unguard_tenant_table("audit_events")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_column("fingerprint_hash")
        batch_op.drop_column("device_label")
        batch_op.drop_column("idle_expires_at")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("security")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_tenant_id_actor_user_id_id")
        batch_op.drop_index("ix_audit_events_tenant_id_action_id")
    op.drop_table("audit_events")
