"""The clinical record's tables: anamnesis templates and versions, responses, clinical notes, and the
patient timeline. Imported by ``tables`` so that ``metadata`` holds them.

What is signed is protected by the database as well as by the use cases (migration 0008): a trigger
refuses any change to a signed anamnesis, any change to a note but the signing of a draft, and the
application role may not delete either, nor change or delete a published template version.
"""

from __future__ import annotations

from sqlalchemy import (
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
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import JsonDocument, UtcDateTime

anamnesis_templates = Table(
    "anamnesis_templates",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("name", String(120), nullable=False),
    Column("procedure_ids", JsonDocument, nullable=False),
    Column("species", JsonDocument, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_anamnesis_templates"),
)

anamnesis_template_versions = Table(
    "anamnesis_template_versions",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("template_id", Uuid, nullable=False),
    Column("number", Integer, nullable=False),
    Column("title", String(120), nullable=False),
    Column("questionnaire", JsonDocument, nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
    Column("published_by", Uuid, nullable=False),
    PrimaryKeyConstraint("tenant_id", "template_id", "number", name="pk_anamnesis_template_versions"),
    ForeignKeyConstraint(
        ["tenant_id", "template_id"],
        ["anamnesis_templates.tenant_id", "anamnesis_templates.id"],
        name="fk_anamnesis_template_versions_template",
        ondelete="RESTRICT",
    ),
    CheckConstraint("number >= 1", name="positive_number"),
)

anamnesis_responses = Table(
    "anamnesis_responses",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("template_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("appointment_id", Uuid),
    Column("answers", JsonDocument, nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("signed_by", Uuid),
    Column("signed_at", UtcDateTime),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_anamnesis_responses"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        name="fk_anamnesis_responses_patient",
        ondelete="RESTRICT",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "template_id", "version"],
        [
            "anamnesis_template_versions.tenant_id",
            "anamnesis_template_versions.template_id",
            "anamnesis_template_versions.number",
        ],
        name="fk_anamnesis_responses_version",
        ondelete="RESTRICT",
    ),
    CheckConstraint(
        "(status = 'draft' AND signed_at IS NULL AND signed_by IS NULL)"
        " OR (status = 'signed' AND signed_at IS NOT NULL AND signed_by IS NOT NULL)",
        name="signed_when_signed",
    ),
    Index("ix_anamnesis_responses_tenant_id_patient_id_id", "tenant_id", "patient_id", "id"),
)

clinical_notes = Table(
    "clinical_notes",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("author_id", Uuid, nullable=False),
    Column("type", String(30), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("appointment_id", Uuid),
    Column("status", String(10), nullable=False),
    Column("signed_at", UtcDateTime),
    # An amendment: the note it corrects and the original of its chain, both of the same patient (the
    # composite keys include patient_id). NULL both for an original note.
    Column("amends", Uuid),
    Column("root_id", Uuid),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_clinical_notes"),
    UniqueConstraint("tenant_id", "patient_id", "id", name="uq_clinical_notes_tenant_id_patient_id_id"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        name="fk_clinical_notes_patient",
        ondelete="RESTRICT",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id", "amends"],
        ["clinical_notes.tenant_id", "clinical_notes.patient_id", "clinical_notes.id"],
        name="fk_clinical_notes_amends",
        ondelete="RESTRICT",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id", "root_id"],
        ["clinical_notes.tenant_id", "clinical_notes.patient_id", "clinical_notes.id"],
        name="fk_clinical_notes_root",
        ondelete="RESTRICT",
    ),
    CheckConstraint("(amends IS NULL) = (root_id IS NULL)", name="amendment_has_root"),
    CheckConstraint(
        "(status = 'draft' AND signed_at IS NULL) OR (status = 'signed' AND signed_at IS NOT NULL)",
        name="signed_when_signed",
    ),
    Index("ix_clinical_notes_tenant_id_patient_id_id", "tenant_id", "patient_id", "id"),
    Index("ix_clinical_notes_tenant_id_root_id", "tenant_id", "root_id"),
)

patient_timeline = Table(
    "patient_timeline",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ref_id", Uuid, nullable=False),
    Column("summary", String(200), nullable=False),
    Column("status", String(20)),
    Column("actor_id", Uuid),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_timeline"),
    UniqueConstraint("tenant_id", "kind", "ref_id", name="uq_patient_timeline_tenant_id_kind_ref_id"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        name="fk_patient_timeline_patient",
        ondelete="CASCADE",
    ),
    Index(
        "ix_patient_timeline_tenant_id_patient_id_occurred_at_id",
        "tenant_id",
        "patient_id",
        "occurred_at",
        "id",
    ),
)

CLINICAL_TABLES = (
    "anamnesis_templates",
    "anamnesis_template_versions",
    "anamnesis_responses",
    "clinical_notes",
    "patient_timeline",
)
"""The clinical record's tenant tables (row-level security on PostgreSQL)."""
