"""appointments: appointments with item snapshots and history, Idempotency-Key records, the waitlist

No two active appointments (pending, confirmed, checked in, in progress) of a tenant overlap for one
professional, one room or one patient. On PostgreSQL three ``EXCLUDE USING gist`` constraints (btree_gist
for the equality parts) over ``tstzrange(block_start, block_end)`` enforce it, whatever the writer; the
booking use case serialises contenders with advisory locks first, so the constraints are the backstop
(see docs/SCHEDULING.md for the measurements behind that design). SQLite has one writer at a time and the
use case checks inside its write transaction.

The history of an appointment is append-only for the application role.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_infra.db.migrations.rls import append_only, guard_tenant_table, is_postgres, unguard_tenant_table

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TENANT_TABLES = (
    "appointments",
    "appointment_items",
    "appointment_history",
    "idempotency_keys",
    "waitlist_entries",
    "waitlist_offers",
)
_ACTIVE = "status IN ('pending', 'confirmed', 'checked_in', 'in_progress')"
_EXCLUSIONS = {
    "ex_appointments_professional": ("professional_id", ""),
    "ex_appointments_room": ("room_id", " AND room_id IS NOT NULL"),
    "ex_appointments_patient": ("patient_id", ""),
}


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("block_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("block_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("booked_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("booked_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("notes", sa.String(length=500), nullable=True),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("cancelled_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("cancelled_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_late", sa.Boolean(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_appointments_ends_after_start")),
        sa.CheckConstraint(
            "block_start <= start_at AND block_end >= end_at",
            name=op.f("ck_appointments_block_holds_the_time"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show')",
            name=op.f("ck_appointments_status"),
        ),
        sa.CheckConstraint("source IN ('staff', 'portal', 'public')", name=op.f("ck_appointments_source")),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)", name=op.f("ck_appointments_cancelled_at")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_appointments_version")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_appointments_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "patient_id"],
            ["patients.tenant_id", "patients.id"],
            name="fk_appointments_patient",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "unit_id"],
            ["units.tenant_id", "units.id"],
            name="fk_appointments_unit",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_appointments"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointments_tenant_id_professional_id_start_at", ["tenant_id", "professional_id", "start_at"]
        )
        batch_op.create_index(
            "ix_appointments_tenant_id_unit_id_start_at", ["tenant_id", "unit_id", "start_at"]
        )
        batch_op.create_index(
            "ix_appointments_tenant_id_patient_id_start_at", ["tenant_id", "patient_id", "start_at"]
        )
    if is_postgres():
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for name, (column, extra) in _EXCLUSIONS.items():
            op.execute(
                f"ALTER TABLE appointments ADD CONSTRAINT {name} EXCLUDE USING gist"
                f" (tenant_id WITH =, {column} WITH =, tstzrange(block_start, block_end, '[)') WITH &&)"
                f" WHERE ({_ACTIVE}{extra})"
            )

    op.create_table(
        "appointment_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_appointment_items_positive_duration")),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_appointment_items_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "appointment_id"],
            ["appointments.tenant_id", "appointments.id"],
            name="fk_appointment_items_appointment",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "procedure_id"],
            ["procedures.tenant_id", "procedures.id"],
            name="fk_appointment_items_procedure",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "appointment_id", "position", name="pk_appointment_items"),
    )
    op.create_table(
        "appointment_history",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transition", sa.String(length=12), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("by_user_id", sa.Uuid(), nullable=True),
        sa.Column("by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("from_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("from_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("to_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("to_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "appointment_id"],
            ["appointments.tenant_id", "appointments.id"],
            name="fk_appointment_history_appointment",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "appointment_id", "seq", name="pk_appointment_history"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_idempotency_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires_at", ["expires_at"])

    op.create_table(
        "waitlist_entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("procedure_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=True),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("earliest", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("latest > earliest", name=op.f("ck_waitlist_entries_range")),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'removed')", name=op.f("ck_waitlist_entries_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "patient_id"],
            ["patients.tenant_id", "patients.id"],
            name="fk_waitlist_entries_patient",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "unit_id"],
            ["units.tenant_id", "units.id"],
            name="fk_waitlist_entries_unit",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_waitlist_entries"),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entries_tenant_id_unit_id_status_created_at",
            ["tenant_id", "unit_id", "status", "created_at"],
        )
    op.create_table(
        "waitlist_offers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("freed_by", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'declined', 'expired')", name=op.f("ck_waitlist_offers_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["waitlist_entries.tenant_id", "waitlist_entries.id"],
            name="fk_waitlist_offers_entry",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_waitlist_offers"),
    )
    with op.batch_alter_table("waitlist_offers", schema=None) as batch_op:
        batch_op.create_index("ix_waitlist_offers_tenant_id_entry_id", ["tenant_id", "entry_id"])

    for table in _TENANT_TABLES:
        guard_tenant_table(table)
    append_only("appointment_history")


def downgrade() -> None:
    for table in reversed(_TENANT_TABLES):
        unguard_tenant_table(table)
    with op.batch_alter_table("waitlist_offers", schema=None) as batch_op:
        batch_op.drop_index("ix_waitlist_offers_tenant_id_entry_id")
    op.drop_table("waitlist_offers")
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_waitlist_entries_tenant_id_unit_id_status_created_at")
    op.drop_table("waitlist_entries")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_expires_at")
    op.drop_table("idempotency_keys")
    op.drop_table("appointment_history")
    op.drop_table("appointment_items")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_tenant_id_patient_id_start_at")
        batch_op.drop_index("ix_appointments_tenant_id_unit_id_start_at")
        batch_op.drop_index("ix_appointments_tenant_id_professional_id_start_at")
    op.drop_table("appointments")
    # btree_gist stays: another schema object may use it, and it holds no data.
