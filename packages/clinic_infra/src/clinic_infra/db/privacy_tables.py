"""The privacy tables (LGPD): consent decisions, append-only, and each clinic's privacy settings.

Imported by ``tables`` so that ``tables.metadata`` holds them (migrations and the drift check read it).
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import UtcDateTime

patient_consents = Table(
    "patient_consents",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("kind", String(60), nullable=False),
    Column("decision", String(10), nullable=False),
    Column("version", String(40), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("recorded_by_user_id", Uuid),
    Column("recorded_by_api_key_id", Uuid),
    Column("ip", String(45)),
    Column("user_agent", String(512)),
    Column("evidence", String(500)),
    Column("redacted_at", UtcDateTime),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_consents"),
    CheckConstraint("decision IN ('granted', 'withdrawn')", name="decision"),
    # RESTRICT: a patient with consents is anonymised, never deleted (the decisions are the proof).
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="RESTRICT",
        name="fk_patient_consents_patient",
    ),
    # A patient's history, in order (ids are time-ordered).
    Index("ix_patient_consents_tenant_id_patient_id_id", "tenant_id", "patient_id", "id"),
)

tenant_privacy_settings = Table(
    "tenant_privacy_settings",
    metadata,
    # One row per clinic that changed a setting; none means the defaults.
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("clinical_record_retention_years", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", name="pk_tenant_privacy_settings"),
)

PRIVACY_TENANT_TABLES = ("patient_consents", "tenant_privacy_settings")
