"""The booking tables: appointments, their items (snapshots of the procedures) and history, and the
``Idempotency-Key`` records. Imported by ``tables`` so that ``metadata`` holds them.

No two *active* appointments of a tenant overlap for one professional, one room or one patient. On
PostgreSQL three ``EXCLUDE USING gist`` constraints over ``tstzrange(block_start, block_end)`` say so
(migration 0014; they are not in this metadata, which SQLite shares); the booking use case takes advisory
locks before it checks, and the constraints are the backstop. ``block_start``/``block_end`` are the
appointment's time widened by its buffers.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import UtcDateTime

ACTIVE_STATUS_VALUES = ("pending", "confirmed", "checked_in", "in_progress")
"""The statuses in which an appointment holds its time."""

appointments = Table(
    "appointments",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("professional_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("room_id", Uuid),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("block_start", UtcDateTime, nullable=False),
    Column("block_end", UtcDateTime, nullable=False),
    Column("buffer_before_minutes", Integer, nullable=False),
    Column("buffer_after_minutes", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("source", String(10), nullable=False),
    Column("booked_by_user_id", Uuid),
    Column("booked_by_api_key_id", Uuid),
    Column("notes", String(500)),
    Column("total_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("cancel_reason", String(500)),
    Column("cancelled_by_user_id", Uuid),
    Column("cancelled_by_api_key_id", Uuid),
    Column("cancelled_at", UtcDateTime),
    Column("cancelled_late", Boolean),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_appointments"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="RESTRICT",
        name="fk_appointments_patient",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        ondelete="RESTRICT",
        name="fk_appointments_unit",
    ),
    CheckConstraint("end_at > start_at", name="ends_after_start"),
    CheckConstraint("block_start <= start_at AND block_end >= end_at", name="block_holds_the_time"),
    CheckConstraint(
        "status IN ('pending', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show')",
        name="status",
    ),
    CheckConstraint("source IN ('staff', 'portal', 'public')", name="source"),
    CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at"),
    CheckConstraint("version >= 1", name="version"),
    # The agenda (a professional's days), the unit calendar and a patient's list, each by start time.
    Index("ix_appointments_tenant_id_professional_id_start_at", "tenant_id", "professional_id", "start_at"),
    Index("ix_appointments_tenant_id_unit_id_start_at", "tenant_id", "unit_id", "start_at"),
    Index("ix_appointments_tenant_id_patient_id_start_at", "tenant_id", "patient_id", "start_at"),
)

appointment_items = Table(
    "appointment_items",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("appointment_id", Uuid, nullable=False),
    Column("position", Integer, nullable=False),
    Column("procedure_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("buffer_before_minutes", Integer, nullable=False),
    Column("buffer_after_minutes", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "appointment_id", "position", name="pk_appointment_items"),
    ForeignKeyConstraint(
        ["tenant_id", "appointment_id"],
        ["appointments.tenant_id", "appointments.id"],
        ondelete="CASCADE",
        name="fk_appointment_items_appointment",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "procedure_id"],
        ["procedures.tenant_id", "procedures.id"],
        ondelete="RESTRICT",
        name="fk_appointment_items_procedure",
    ),
    CheckConstraint("duration_minutes > 0", name="positive_duration"),
    CheckConstraint("price_cents >= 0", name="price_not_negative"),
)

appointment_history = Table(
    "appointment_history",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("appointment_id", Uuid, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("transition", String(12), nullable=False),
    Column("from_status", String(12)),
    Column("to_status", String(12), nullable=False),
    Column("by_user_id", Uuid),
    Column("by_api_key_id", Uuid),
    Column("from_start", UtcDateTime),
    Column("from_end", UtcDateTime),
    Column("to_start", UtcDateTime),
    Column("to_end", UtcDateTime),
    Column("reason", String(500)),
    PrimaryKeyConstraint("tenant_id", "appointment_id", "seq", name="pk_appointment_history"),
    ForeignKeyConstraint(
        ["tenant_id", "appointment_id"],
        ["appointments.tenant_id", "appointments.id"],
        ondelete="CASCADE",
        name="fk_appointment_history_appointment",
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer),
    Column("body", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)

waitlist_entries = Table(
    "waitlist_entries",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("procedure_id", Uuid, nullable=False),
    Column("professional_id", Uuid),
    Column("unit_id", Uuid, nullable=False),
    Column("earliest", UtcDateTime, nullable=False),
    Column("latest", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_by_user_id", Uuid),
    Column("created_by_api_key_id", Uuid),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_waitlist_entries"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="CASCADE",
        name="fk_waitlist_entries_patient",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        ondelete="CASCADE",
        name="fk_waitlist_entries_unit",
    ),
    CheckConstraint("latest > earliest", name="range"),
    CheckConstraint("status IN ('waiting', 'offered', 'booked', 'removed')", name="status"),
    # Matching a freed slot: the waiting entries of a unit, oldest first.
    Index(
        "ix_waitlist_entries_tenant_id_unit_id_status_created_at",
        "tenant_id",
        "unit_id",
        "status",
        "created_at",
    ),
)

waitlist_offers = Table(
    "waitlist_offers",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("entry_id", Uuid, nullable=False),
    Column("freed_by", Uuid, nullable=False),
    Column("professional_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("room_id", Uuid),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime),
    Column("appointment_id", Uuid),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_waitlist_offers"),
    ForeignKeyConstraint(
        ["tenant_id", "entry_id"],
        ["waitlist_entries.tenant_id", "waitlist_entries.id"],
        ondelete="CASCADE",
        name="fk_waitlist_offers_entry",
    ),
    CheckConstraint("status IN ('open', 'accepted', 'declined', 'expired')", name="status"),
    Index("ix_waitlist_offers_tenant_id_entry_id", "tenant_id", "entry_id"),
)
