"""API keys and custom roles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clinic_infra.db.migrations.rls import guard_tenant_table, is_postgres, unguard_tenant_table

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TENANT_TABLES = ("roles", "membership_roles", "api_keys")


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("name_key", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("permissions", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_roles_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_roles"),
        sa.UniqueConstraint("tenant_id", "name_key", name="uq_roles_tenant_id_name_key"),
    )
    op.create_table(
        "membership_roles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            name="fk_membership_roles_membership",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "role_id"],
            ["roles.tenant_id", "roles.id"],
            name="fk_membership_roles_role",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "membership_id", "role_id", name="pk_membership_roles"),
    )
    with op.batch_alter_table("membership_roles", schema=None) as batch_op:
        batch_op.create_index("ix_membership_roles_tenant_id_role_id", ["tenant_id", "role_id"], unique=False)
    op.create_table(
        "api_key_prefixes",
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_key_prefixes_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_api_key_prefixes")),
    )
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", _JSON, nullable=False),
        sa.Column("allowed_cidrs", _JSON, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_api_keys_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_api_keys"),
        sa.UniqueConstraint("tenant_id", "prefix", name="uq_api_keys_tenant_id_prefix"),
    )
    for table in _TENANT_TABLES:
        guard_tenant_table(table)
    if is_postgres():
        # The prefix index is global (read before a tenant is chosen) but written only for the tenant of
        # the transaction, and never changed: like the tenant directory.
        op.execute("ALTER TABLE api_key_prefixes ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE api_key_prefixes FORCE ROW LEVEL SECURITY")
        op.execute("CREATE POLICY prefix_directory ON api_key_prefixes FOR SELECT USING (true)")
        op.execute(
            "CREATE POLICY prefix_insert ON api_key_prefixes FOR INSERT"
            " WITH CHECK (tenant_id = app_current_tenant())"
        )


def downgrade() -> None:
    if is_postgres():
        op.execute("DROP POLICY IF EXISTS prefix_insert ON api_key_prefixes")
        op.execute("DROP POLICY IF EXISTS prefix_directory ON api_key_prefixes")
    for table in reversed(_TENANT_TABLES):
        unguard_tenant_table(table)
    op.drop_table("api_keys")
    op.drop_table("api_key_prefixes")
    with op.batch_alter_table("membership_roles", schema=None) as batch_op:
        batch_op.drop_index("ix_membership_roles_tenant_id_role_id")
    op.drop_table("membership_roles")
    op.drop_table("roles")
