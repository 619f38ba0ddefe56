"""The patients' tables: patients (people and animals), their identifiers, weights, search terms,
guardians, and the log of who read them. Imported by ``tables`` so that ``metadata`` holds them.

Like every tenant table they lead with ``tenant_id`` and point at each other through composite keys that
include it. Name search reads ``patient_search_terms`` (one row per folded word of a patient's names, plus
digits of CPF, phones and microchip) by range on a btree: under forced row-level security PostgreSQL uses
only leakproof operators (``=``, ``<``, ``>=`` on text are; ``LIKE`` and pg_trgm's are not) in index
conditions, so prefix search is a range, never a LIKE.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import JsonDocument, UtcDateTime

SEARCH_TEXT = String(200).with_variant(String(200, collation="C"), "postgresql")
"""Folded search text, compared byte-wise on PostgreSQL (code point order in UTF-8), as SQLite does."""

patients = Table(
    "patients",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("social_name", String(200)),
    # The folded words of the name (accents and case dropped): what search orders and filters by.
    Column("search_name", SEARCH_TEXT, nullable=False),
    Column("sex", String(10), nullable=False),
    Column("birth_date", Date),
    Column("birth_date_estimated", Boolean, nullable=False, server_default=false()),
    Column("phones", JsonDocument, nullable=False),
    Column("emails", JsonDocument, nullable=False),
    Column("address", JsonDocument),
    Column("allergies", JsonDocument, nullable=False),
    Column("notes", Text),
    Column("status", String(10), nullable=False),
    Column("deceased_at", UtcDateTime),
    Column("tags", JsonDocument, nullable=False),
    Column("cpf", String(11)),
    Column("species", String(20)),
    Column("breed", String(120)),
    Column("coat", String(120)),
    Column("neutered", Boolean),
    Column("microchip", String(15)),
    Column("unit_id", Uuid),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="RESTRICT")),
    # When the identity was erased (privacy, migration 0010): then search_name is empty and the
    # patient has no identifiers and no search terms.
    Column("anonymised_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_patients"),
    ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        ondelete="RESTRICT",
        name="fk_patients_unit",
    ),
    UniqueConstraint("tenant_id", "cpf", name="uq_patients_tenant_id_cpf"),
    UniqueConstraint("tenant_id", "microchip", name="uq_patients_tenant_id_microchip"),
    UniqueConstraint("tenant_id", "user_id", name="uq_patients_tenant_id_user_id"),
    CheckConstraint("kind IN ('person', 'animal')", name="kind"),
    CheckConstraint("(status = 'deceased') = (deceased_at IS NOT NULL)", name="deceased_at"),
    CheckConstraint("version >= 1", name="version"),
    # Alphabetical listing and its keyset pagination: (search_name, id) after the tenant.
    Index("ix_patients_tenant_id_search_name_id", "tenant_id", "search_name", "id"),
    # Infix search (PostgreSQL): trigrams of search_name, read by clinic_patient_infix_search().
    Index(
        "ix_patients_search_name_trgm",
        "search_name",
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    ),
)

patient_identifiers = Table(
    "patient_identifiers",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("system", String(50), nullable=False),
    Column("value", String(80), nullable=False),
    PrimaryKeyConstraint("tenant_id", "patient_id", "system", "value", name="pk_patient_identifiers"),
    UniqueConstraint("tenant_id", "system", "value", name="uq_patient_identifiers_tenant_id_system_value"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="CASCADE",
        name="fk_patient_identifiers_patient",
    ),
)

patient_weights = Table(
    "patient_weights",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("kg", Numeric(9, 3), nullable=False),
    Column("measured_at", UtcDateTime, nullable=False),
    Column("recorded_by", Uuid),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_weights"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="CASCADE",
        name="fk_patient_weights_patient",
    ),
    CheckConstraint("kg > 0", name="kg_positive"),
    Index("ix_patient_weights_tenant_id_patient_id_measured_at", "tenant_id", "patient_id", "measured_at"),
)

patient_search_terms = Table(
    "patient_search_terms",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("term", String(100).with_variant(String(100, collation="C"), "postgresql"), nullable=False),
    Column("patient_id", Uuid, nullable=False),
    # The patient's search_name, copied (rewritten with the terms on every save): the sort key of search,
    # so that a word's first page in name order comes from this table's index alone (migration 0015).
    Column("search_name", SEARCH_TEXT, nullable=False),
    # Leads with (tenant_id, term): a query word is the range [word, word || U+10FFFF) on it.
    PrimaryKeyConstraint("tenant_id", "term", "patient_id", name="pk_patient_search_terms"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="CASCADE",
        name="fk_patient_search_terms_patient",
    ),
    # A patient's terms (rewritten on save), and whether a patient has a term in a range, with its sort
    # key: index-only, so that a two-word search can start from either word.
    Index(
        "ix_patient_search_terms_tenant_id_patient_id_term_search_name",
        "tenant_id",
        "patient_id",
        "term",
        "search_name",
    ),
    # A word's matches in name order: a range scan and a top-N sort on this index alone.
    Index(
        "ix_patient_search_terms_tenant_id_term_search_name_patient_id",
        "tenant_id",
        "term",
        "search_name",
        "patient_id",
    ),
)

guardian_links = Table(
    "guardian_links",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("guardian_id", Uuid, nullable=False),
    Column("role", String(30), nullable=False),
    Column("is_primary", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "patient_id", "guardian_id", "role", name="pk_guardian_links"),
    ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="CASCADE",
        name="fk_guardian_links_patient",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "guardian_id"],
        ["patients.tenant_id", "patients.id"],
        ondelete="CASCADE",
        name="fk_guardian_links_guardian",
    ),
    CheckConstraint("patient_id <> guardian_id", name="not_self"),
    CheckConstraint(
        "role IN ('owner', 'financially_responsible', 'emergency_contact', 'legal_guardian')", name="role"
    ),
    # A guardian's dependants.
    Index("ix_guardian_links_tenant_id_guardian_id", "tenant_id", "guardian_id"),
    # At most one primary guardian per patient.
    Index(
        "uq_guardian_links_one_primary",
        "tenant_id",
        "patient_id",
        unique=True,
        postgresql_where=text("is_primary"),
        sqlite_where=text("is_primary"),
    ),
)

patient_access_log = Table(
    "patient_access_log",
    metadata,
    # Append-only (LGPD art. 37: a record of the processing): no foreign key to patients, so that the
    # record of who read a patient outlives the patient's erasure.
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("action", String(30), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_user_id", Uuid),
    Column("actor_api_key_id", Uuid),
    Column("ip", String(45)),
    Column("user_agent", String(512)),
    Column("request_id", String(128)),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_access_log"),
    Index("ix_patient_access_log_tenant_id_patient_id_id", "tenant_id", "patient_id", "id"),
)

PATIENT_TABLES = (
    "patients",
    "patient_identifiers",
    "patient_weights",
    "patient_search_terms",
    "guardian_links",
    "patient_access_log",
)
"""The patients' tenant tables (row-level security on PostgreSQL)."""
