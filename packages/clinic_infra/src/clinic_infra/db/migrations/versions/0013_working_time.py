"""working time: weekly hours, date overrides, time off, unit closures, booking rules

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clinic_infra.db.migrations.rls import guard_tenant_table, unguard_tenant_table

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TENANT_TABLES = (
    "working_hours",
    "working_date_overrides",
    "time_off",
    "unit_closures",
    "unit_booking_rules",
)


def _professional_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "professional_id"],
        ["professionals.tenant_id", "professionals.id"],
        name=f"fk_{table}_professional",
        ondelete="CASCADE",
    )


def _unit_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        name=f"fk_{table}_unit",
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "working_hours",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("days", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _professional_fk("working_hours"),
        _unit_fk("working_hours"),
        sa.PrimaryKeyConstraint("tenant_id", "professional_id", "unit_id", name="pk_working_hours"),
    )
    with op.batch_alter_table("working_hours", schema=None) as batch_op:
        batch_op.create_index("ix_working_hours_tenant_id_unit_id", ["tenant_id", "unit_id"], unique=False)
    op.create_table(
        "working_date_overrides",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("spans", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('closed', 'replace', 'extra')", name=op.f("ck_working_date_overrides_kind")
        ),
        _professional_fk("working_date_overrides"),
        _unit_fk("working_date_overrides"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "professional_id", "unit_id", "day", name="pk_working_date_overrides"
        ),
    )
    with op.batch_alter_table("working_date_overrides", schema=None) as batch_op:
        batch_op.create_index(
            "ix_working_date_overrides_tenant_id_unit_id_day", ["tenant_id", "unit_id", "day"], unique=False
        )
    op.create_table(
        "time_off",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_time_off_interval")),
        _professional_fk("time_off"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_time_off"),
    )
    with op.batch_alter_table("time_off", schema=None) as batch_op:
        batch_op.create_index(
            "ix_time_off_tenant_id_professional_id_starts_at",
            ["tenant_id", "professional_id", "starts_at"],
            unique=False,
        )
    op.create_table(
        "unit_closures",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("last_day >= first_day", name=op.f("ck_unit_closures_days")),
        _unit_fk("unit_closures"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_unit_closures"),
    )
    with op.batch_alter_table("unit_closures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unit_closures_tenant_id_unit_id_first_day",
            ["tenant_id", "unit_id", "first_day"],
            unique=False,
        )
    op.create_table(
        "unit_booking_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("slot_step_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _unit_fk("unit_booking_rules"),
        sa.PrimaryKeyConstraint("tenant_id", "unit_id", name="pk_unit_booking_rules"),
    )
    for table in _TENANT_TABLES:
        guard_tenant_table(table)


def downgrade() -> None:
    for table in reversed(_TENANT_TABLES):
        unguard_tenant_table(table)
    op.drop_table("unit_booking_rules")
    with op.batch_alter_table("unit_closures", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_closures_tenant_id_unit_id_first_day")
    op.drop_table("unit_closures")
    with op.batch_alter_table("time_off", schema=None) as batch_op:
        batch_op.drop_index("ix_time_off_tenant_id_professional_id_starts_at")
    op.drop_table("time_off")
    with op.batch_alter_table("working_date_overrides", schema=None) as batch_op:
        batch_op.drop_index("ix_working_date_overrides_tenant_id_unit_id_day")
    op.drop_table("working_date_overrides")
    with op.batch_alter_table("working_hours", schema=None) as batch_op:
        batch_op.drop_index("ix_working_hours_tenant_id_unit_id")
    op.drop_table("working_hours")
