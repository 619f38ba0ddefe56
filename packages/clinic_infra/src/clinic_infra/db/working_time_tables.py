"""Working time: weekly hours and date overrides per professional and unit, time off per professional,
closures and booking rules per unit. Imported by ``tables`` so that ``metadata`` holds them.

Spans are stored as minutes since local midnight (``[[540, 720], [780, 1080]]``), in the unit's zone: the
local clock times are the truth, their UTC instants are computed for each date (docs/SCHEDULING.md).
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    text,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import JsonDocument, UtcDateTime


def _professional_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "professional_id"],
        ["professionals.tenant_id", "professionals.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_professional",
    )


def _unit_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        ondelete="RESTRICT",
        name=f"fk_{table}_unit",
    )


working_hours = Table(
    "working_hours",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("professional_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("days", JsonDocument, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "professional_id", "unit_id", name="pk_working_hours"),
    _professional_fk("working_hours"),
    _unit_fk("working_hours"),
    Index("ix_working_hours_tenant_id_unit_id", "tenant_id", "unit_id"),
)

working_date_overrides = Table(
    "working_date_overrides",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("professional_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("spans", JsonDocument, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "professional_id", "unit_id", "day", name="pk_working_date_overrides"),
    CheckConstraint("kind IN ('closed', 'replace', 'extra')", name="kind"),
    _professional_fk("working_date_overrides"),
    _unit_fk("working_date_overrides"),
    Index("ix_working_date_overrides_tenant_id_unit_id_day", "tenant_id", "unit_id", "day"),
)

time_off = Table(
    "time_off",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("professional_id", Uuid, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_time_off"),
    CheckConstraint("ends_at > starts_at", name="interval"),
    _professional_fk("time_off"),
    Index("ix_time_off_tenant_id_professional_id_starts_at", "tenant_id", "professional_id", "starts_at"),
)

unit_closures = Table(
    "unit_closures",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_unit_closures"),
    CheckConstraint("last_day >= first_day", name="days"),
    _unit_fk("unit_closures"),
    Index("ix_unit_closures_tenant_id_unit_id_first_day", "tenant_id", "unit_id", "first_day"),
)

unit_booking_rules = Table(
    "unit_booking_rules",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("min_notice_minutes", Integer, nullable=False),
    Column("horizon_days", Integer, nullable=False),
    Column("slot_step_minutes", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("cancellation_window_hours", Integer, nullable=False, server_default=text("24")),
    Column("waitlist_offer_minutes", Integer, nullable=False, server_default=text("120")),
    PrimaryKeyConstraint("tenant_id", "unit_id", name="pk_unit_booking_rules"),
    CheckConstraint("cancellation_window_hours BETWEEN 0 AND 336", name="cancellation_window_hours"),
    CheckConstraint("waitlist_offer_minutes BETWEEN 15 AND 2880", name="waitlist_offer_minutes"),
    _unit_fk("unit_booking_rules"),
)
