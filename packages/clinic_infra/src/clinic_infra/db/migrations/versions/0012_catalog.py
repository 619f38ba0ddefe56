"""catalog: categories, procedures, professionals (procedures performed, units), rooms and equipment

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clinic_infra.db.migrations.rls import guard_tenant_table, unguard_tenant_table

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TENANT_TABLES = (
    "categories",
    "procedures",
    "professionals",
    "professional_procedures",
    "professional_units",
    "rooms",
    "equipment",
)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="RESTRICT"
    )


def _unit_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        name=f"fk_{table}_unit",
        ondelete="RESTRICT",
    )


def _professional_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "professional_id"],
        ["professionals.tenant_id", "professionals.id"],
        name=f"fk_{table}_professional",
        ondelete="CASCADE",
    )


def _unit_things(table: str) -> None:
    """Rooms and equipment: the same shape, a unit's named things of a type."""
    op.create_table(
        table,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _unit_fk(table),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{table}"),
        sa.UniqueConstraint("tenant_id", "unit_id", "name", name=f"uq_{table}_tenant_id_unit_id_name"),
    )


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("icon", sa.String(length=40), nullable=True),
        sa.Column("colour", sa.String(length=7), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("colour IS NULL OR length(colour) = 7", name=op.f("ck_categories_colour")),
        _tenant_fk("categories"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_categories"),
        sa.UniqueConstraint("tenant_id", "slug", name="uq_categories_tenant_id_slug"),
    )
    op.create_table(
        "procedures",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("room_type", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "duration_minutes BETWEEN 5 AND 720 AND duration_minutes % 5 = 0",
            name=op.f("ck_procedures_duration_minutes"),
        ),
        sa.CheckConstraint(
            "buffer_before_minutes BETWEEN 0 AND 240", name=op.f("ck_procedures_buffer_before_minutes")
        ),
        sa.CheckConstraint(
            "buffer_after_minutes BETWEEN 0 AND 240", name=op.f("ck_procedures_buffer_after_minutes")
        ),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_procedures_price_minor")),
        _tenant_fk("procedures"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["categories.tenant_id", "categories.id"],
            name="fk_procedures_category",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_procedures"),
    )
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_procedures_tenant_id_sort_order_id", ["tenant_id", "sort_order", "id"], unique=False
        )
        batch_op.create_index(
            "ix_procedures_tenant_id_category_id", ["tenant_id", "category_id"], unique=False
        )
    op.create_table(
        "professionals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("council", sa.String(length=10), nullable=True),
        sa.Column("registration_number", sa.String(length=20), nullable=True),
        sa.Column("registration_state", sa.String(length=2), nullable=True),
        sa.Column("specialties", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(council IS NULL) = (registration_number IS NULL)"
            " AND (council IS NULL) = (registration_state IS NULL)",
            name=op.f("ck_professionals_registration"),
        ),
        _tenant_fk("professionals"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_professionals_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_professionals"),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_professionals_tenant_id_user_id"),
        sa.UniqueConstraint(
            "tenant_id",
            "council",
            "registration_number",
            "registration_state",
            name="uq_professionals_tenant_id_registration",
        ),
    )
    op.create_table(
        "professional_procedures",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("procedure_id", sa.Uuid(), nullable=False),
        _professional_fk("professional_procedures"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "procedure_id"],
            ["procedures.tenant_id", "procedures.id"],
            name="fk_professional_procedures_procedure",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "professional_id", "procedure_id", name="pk_professional_procedures"
        ),
    )
    with op.batch_alter_table("professional_procedures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_professional_procedures_tenant_id_procedure_id", ["tenant_id", "procedure_id"], unique=False
        )
    op.create_table(
        "professional_units",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        _professional_fk("professional_units"),
        _unit_fk("professional_units"),
        sa.PrimaryKeyConstraint("tenant_id", "professional_id", "unit_id", name="pk_professional_units"),
    )
    with op.batch_alter_table("professional_units", schema=None) as batch_op:
        batch_op.create_index(
            "ix_professional_units_tenant_id_unit_id", ["tenant_id", "unit_id"], unique=False
        )
    _unit_things("rooms")
    _unit_things("equipment")
    for table in _TENANT_TABLES:
        guard_tenant_table(table)


def downgrade() -> None:
    for table in reversed(_TENANT_TABLES):
        unguard_tenant_table(table)
    op.drop_table("equipment")
    op.drop_table("rooms")
    with op.batch_alter_table("professional_units", schema=None) as batch_op:
        batch_op.drop_index("ix_professional_units_tenant_id_unit_id")
    op.drop_table("professional_units")
    with op.batch_alter_table("professional_procedures", schema=None) as batch_op:
        batch_op.drop_index("ix_professional_procedures_tenant_id_procedure_id")
    op.drop_table("professional_procedures")
    op.drop_table("professionals")
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.drop_index("ix_procedures_tenant_id_category_id")
        batch_op.drop_index("ix_procedures_tenant_id_sort_order_id")
    op.drop_table("procedures")
    op.drop_table("categories")
