"""The reminder ledger, and the indexes the recurring sweeps read by (migration 0018). Imported by
``tables``.

A row says the reminder of one kind for one appointment at one start was queued: its primary key is what
lets one of two concurrent sweeps queue it. A moved appointment has a new start, hence rows of its own.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
)

from clinic_infra.db.appointment_tables import appointments, waitlist_offers
from clinic_infra.db.tables import metadata, outbox
from clinic_infra.db.types import UtcDateTime

appointment_reminders = Table(
    "appointment_reminders",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("appointment_id", Uuid, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("start_at", UtcDateTime, nullable=False),
    Column("queued_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "appointment_id", "kind", "start_at", name="pk_appointment_reminders"),
    ForeignKeyConstraint(
        ["tenant_id", "appointment_id"],
        ["appointments.tenant_id", "appointments.id"],
        ondelete="CASCADE",
        name="fk_appointment_reminders_appointment",
    ),
    CheckConstraint("kind IN ('24h', '2h')", name="kind"),
)

# The reminder and no-show sweeps: a tenant's pending or confirmed appointments, by start.
Index(
    "ix_appointments_tenant_id_status_start_at",
    appointments.c.tenant_id,
    appointments.c.status,
    appointments.c.start_at,
)
# The offer expiry sweep: a tenant's open offers, by expiry.
Index(
    "ix_waitlist_offers_tenant_id_status_expires_at",
    waitlist_offers.c.tenant_id,
    waitlist_offers.c.status,
    waitlist_offers.c.expires_at,
)
# The purge: a tenant's outbox rows handled long ago.
Index("ix_outbox_tenant_id_handled_at", outbox.c.tenant_id, outbox.c.handled_at)
