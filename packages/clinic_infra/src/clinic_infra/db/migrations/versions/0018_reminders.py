"""reminders: the ledger of appointment reminders queued, and the indexes the recurring sweeps read by

``appointment_reminders`` holds one row per (appointment, kind, start) whose reminder was queued: its
primary key lets one of two concurrent sweeps queue it, and a moved appointment gets rows for its new
start. The indexes serve the sweeps: pending and confirmed appointments by start (reminders, no-shows),
open waitlist offers by expiry, and outbox rows by when they were handled (the purge).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_infra.db.migrations.rls import guard_tenant_table, unguard_tenant_table

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointment_reminders",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('24h', '2h')", name=op.f("ck_appointment_reminders_kind")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "appointment_id"],
            ["appointments.tenant_id", "appointments.id"],
            name="fk_appointment_reminders_appointment",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "appointment_id", "kind", "start_at", name="pk_appointment_reminders"
        ),
    )
    guard_tenant_table("appointment_reminders")
    op.create_index(
        "ix_appointments_tenant_id_status_start_at", "appointments", ["tenant_id", "status", "start_at"]
    )
    op.create_index(
        "ix_waitlist_offers_tenant_id_status_expires_at",
        "waitlist_offers",
        ["tenant_id", "status", "expires_at"],
    )
    op.create_index("ix_outbox_tenant_id_handled_at", "outbox", ["tenant_id", "handled_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_tenant_id_handled_at", table_name="outbox")
    op.drop_index("ix_waitlist_offers_tenant_id_status_expires_at", table_name="waitlist_offers")
    op.drop_index("ix_appointments_tenant_id_status_start_at", table_name="appointments")
    unguard_tenant_table("appointment_reminders")
    op.drop_table("appointment_reminders")
