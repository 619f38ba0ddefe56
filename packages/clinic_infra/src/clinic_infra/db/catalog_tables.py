"""The catalog's tables: categories, procedures, professionals (with the procedures they perform and the units
where they work), rooms and equipment. Imported by ``tables`` so that ``metadata`` holds them.

Like every tenant table they lead with ``tenant_id``, every unique constraint includes it, and they point at
each other (and at ``units``) through composite keys that include it: a procedure cannot be filed under
another tenant's category, nor a professional work in another tenant's unit. Prices are integer minor units
(cents) and an ISO 4217 currency, never floating point.
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
    UniqueConstraint,
    Uuid,
    true,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import JsonDocument, UtcDateTime


def _unit_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        ondelete="RESTRICT",
        name=f"fk_{table}_unit",
    )


categories = Table(
    "categories",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("name", String(120), nullable=False),
    Column("slug", String(63), nullable=False),
    Column("icon", String(40)),
    Column("colour", String(7)),
    Column("sort_order", Integer, nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_categories"),
    UniqueConstraint("tenant_id", "slug", name="uq_categories_tenant_id_slug"),
    CheckConstraint("colour IS NULL OR length(colour) = 7", name="colour"),
)

procedures = Table(
    "procedures",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("name", String(120), nullable=False),
    Column("description", Text),
    Column("category_id", Uuid),
    Column("duration_minutes", Integer, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("buffer_before_minutes", Integer, nullable=False),
    Column("buffer_after_minutes", Integer, nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("sort_order", Integer, nullable=False),
    Column("room_type", String(40)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_procedures"),
    ForeignKeyConstraint(
        ["tenant_id", "category_id"],
        ["categories.tenant_id", "categories.id"],
        ondelete="RESTRICT",
        name="fk_procedures_category",
    ),
    CheckConstraint(
        "duration_minutes BETWEEN 5 AND 720 AND duration_minutes % 5 = 0", name="duration_minutes"
    ),
    CheckConstraint("buffer_before_minutes BETWEEN 0 AND 240", name="buffer_before_minutes"),
    CheckConstraint("buffer_after_minutes BETWEEN 0 AND 240", name="buffer_after_minutes"),
    CheckConstraint("price_minor >= 0", name="price_minor"),
    # Listing and reordering: (sort_order, id) after the tenant, as the keyset pagination reads it.
    Index("ix_procedures_tenant_id_sort_order_id", "tenant_id", "sort_order", "id"),
    Index("ix_procedures_tenant_id_category_id", "tenant_id", "category_id"),
)

professionals = Table(
    "professionals",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False),
    Column("display_name", String(120), nullable=False),
    Column("council", String(10)),
    Column("registration_number", String(20)),
    Column("registration_state", String(2)),
    Column("specialties", JsonDocument, nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_professionals"),
    UniqueConstraint("tenant_id", "user_id", name="uq_professionals_tenant_id_user_id"),
    UniqueConstraint(
        "tenant_id",
        "council",
        "registration_number",
        "registration_state",
        name="uq_professionals_tenant_id_registration",
    ),
    CheckConstraint(
        "(council IS NULL) = (registration_number IS NULL)"
        " AND (council IS NULL) = (registration_state IS NULL)",
        name="registration",
    ),
)

professional_procedures = Table(
    "professional_procedures",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("professional_id", Uuid, nullable=False),
    Column("procedure_id", Uuid, nullable=False),
    PrimaryKeyConstraint("tenant_id", "professional_id", "procedure_id", name="pk_professional_procedures"),
    ForeignKeyConstraint(
        ["tenant_id", "professional_id"],
        ["professionals.tenant_id", "professionals.id"],
        ondelete="CASCADE",
        name="fk_professional_procedures_professional",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "procedure_id"],
        ["procedures.tenant_id", "procedures.id"],
        ondelete="CASCADE",
        name="fk_professional_procedures_procedure",
    ),
    # "Who performs this procedure?", the availability engine's first question.
    Index("ix_professional_procedures_tenant_id_procedure_id", "tenant_id", "procedure_id"),
)

professional_units = Table(
    "professional_units",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("professional_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    PrimaryKeyConstraint("tenant_id", "professional_id", "unit_id", name="pk_professional_units"),
    ForeignKeyConstraint(
        ["tenant_id", "professional_id"],
        ["professionals.tenant_id", "professionals.id"],
        ondelete="CASCADE",
        name="fk_professional_units_professional",
    ),
    _unit_fk("professional_units"),
    Index("ix_professional_units_tenant_id_unit_id", "tenant_id", "unit_id"),
)

rooms = Table(
    "rooms",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("name", String(120), nullable=False),
    Column("type", String(40), nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_rooms"),
    UniqueConstraint("tenant_id", "unit_id", "name", name="uq_rooms_tenant_id_unit_id_name"),
    _unit_fk("rooms"),
)

equipment = Table(
    "equipment",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("name", String(120), nullable=False),
    Column("type", String(40), nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_equipment"),
    UniqueConstraint("tenant_id", "unit_id", "name", name="uq_equipment_tenant_id_unit_id_name"),
    _unit_fk("equipment"),
)
