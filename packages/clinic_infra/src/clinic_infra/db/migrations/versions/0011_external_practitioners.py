"""external practitioners: practitioners imported from other systems (FHIR), one per NPI in a tenant

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clinic_infra.db.migrations.rls import guard_tenant_table, unguard_tenant_table

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "external_practitioners",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("npi", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=60), nullable=True),
        sa.Column("gender", sa.String(length=10), nullable=True),
        sa.Column("contacts", _JSON, nullable=False),
        sa.Column("address", _JSON, nullable=True),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_external_practitioners_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_external_practitioners"),
        sa.UniqueConstraint("tenant_id", "npi", name="uq_external_practitioners_tenant_id_npi"),
    )
    with op.batch_alter_table("external_practitioners", schema=None) as batch_op:
        batch_op.create_index(
            "ix_external_practitioners_tenant_id_source_source_id",
            ["tenant_id", "source", "source_id"],
            unique=False,
        )
    guard_tenant_table("external_practitioners")


def downgrade() -> None:
    unguard_tenant_table("external_practitioners")
    with op.batch_alter_table("external_practitioners", schema=None) as batch_op:
        batch_op.drop_index("ix_external_practitioners_tenant_id_source_source_id")
    op.drop_table("external_practitioners")
