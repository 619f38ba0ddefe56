"""The attachments' table. Imported by ``tables`` so that ``metadata`` holds it.

The bytes are not here: a row names its blob by ``sha256`` (the key is ``<tenant_id>/<sha256[:2]>/<sha256>``
in the BlobStore). Rows point at their patient through the composite key that includes the tenant, so an
attachment can never belong to another clinic's patient.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import UtcDateTime

attachments = Table(
    "attachments",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("category", String(20), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("media_type", String(50), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("taken_at", UtcDateTime),
    Column("appointment_id", Uuid),
    Column("uploaded_at", UtcDateTime, nullable=False),
    Column("uploaded_by", Uuid),
    Column("uploaded_by_api_key", Uuid),
    Column("deleted_at", UtcDateTime),
    Column("deleted_by", Uuid),
    Column("deleted_by_api_key", Uuid),
    Column("deletion_reason", String(500)),
    # Set by an anonymisation (migration 0010): the content was erased, sha256 is all zeros.
    Column("erased_at", UtcDateTime),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_attachments"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="RESTRICT",
        name="fk_attachments_patient",
    ),
    CheckConstraint("size > 0", name="size_positive"),
    # A patient's attachments, newest first: the list reads this index backwards.
    Index("ix_attachments_tenant_id_patient_id_id", "tenant_id", "patient_id", "id"),
    # Whether any row still refers to a blob, before the blob is erased.
    Index("ix_attachments_tenant_id_sha256", "tenant_id", "sha256"),
)
