"""Tables of what is imported from other systems: practitioners known by NPI. Imported by ``tables`` so that
``metadata`` holds them."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import JsonDocument, UtcDateTime

external_practitioners = Table(
    "external_practitioners",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("npi", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(60)),
    Column("gender", String(10)),
    Column("contacts", JsonDocument, nullable=False),
    Column("address", JsonDocument),
    Column("source", String(60), nullable=False),
    Column("source_id", String(64)),
    Column("raw", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_external_practitioners"),
    UniqueConstraint("tenant_id", "npi", name="uq_external_practitioners_tenant_id_npi"),
    # A patient's link may name the practitioner by the source's id rather than by NPI.
    Index("ix_external_practitioners_tenant_id_source_source_id", "tenant_id", "source", "source_id"),
)
