"""clinical records: anamnesis templates, versions and responses, clinical notes, the patient timeline

What is signed is protected here as well as in the use cases:

- a published template version is append-only (the application role may not update or delete one);
- a signed anamnesis refuses every change (trigger), and the application role deletes no response;
- a clinical note refuses every change but the signing of a draft (trigger), and is never deleted by the
  application role: a correction is another note.

The triggers bind every role, the owner included; the revocations bind the application role. SQLite, which
has no roles, gets triggers for the deletions too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clinic_infra.db.migrations.rls import (
    APP_ROLE,
    append_only,
    guard_tenant_table,
    is_postgres,
    unguard_tenant_table,
)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TENANT_TABLES = (
    "anamnesis_templates",
    "anamnesis_template_versions",
    "anamnesis_responses",
    "clinical_notes",
    "patient_timeline",
)

_PG_GUARDS = """
CREATE FUNCTION clinic_anamnesis_response_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION 'anamnesis % is signed and cannot change', OLD.id USING ERRCODE = '23000';
    END IF;
    IF (NEW.tenant_id, NEW.id, NEW.patient_id, NEW.template_id, NEW.version, NEW.created_by, NEW.created_at)
        IS DISTINCT FROM
       (OLD.tenant_id, OLD.id, OLD.patient_id, OLD.template_id, OLD.version, OLD.created_by, OLD.created_at)
       OR NEW.appointment_id IS DISTINCT FROM OLD.appointment_id THEN
        RAISE EXCEPTION 'only the answers and the signing of a draft anamnesis change' USING ERRCODE = '23000';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER anamnesis_responses_guard BEFORE UPDATE ON anamnesis_responses
    FOR EACH ROW EXECUTE FUNCTION clinic_anamnesis_response_guard();

CREATE FUNCTION clinic_clinical_note_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' AND NEW.status = 'signed' AND NEW.signed_at IS NOT NULL
       AND (NEW.tenant_id, NEW.id, NEW.patient_id, NEW.author_id, NEW.type, NEW.body, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.tenant_id, OLD.id, OLD.patient_id, OLD.author_id, OLD.type, OLD.body, OLD.created_at)
       AND NEW.appointment_id IS NOT DISTINCT FROM OLD.appointment_id
       AND NEW.amends IS NOT DISTINCT FROM OLD.amends
       AND NEW.root_id IS NOT DISTINCT FROM OLD.root_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'clinical note % cannot change: only the signing of a draft is allowed', OLD.id
        USING ERRCODE = '23000';
END
$$;

CREATE TRIGGER clinical_notes_guard BEFORE UPDATE ON clinical_notes
    FOR EACH ROW EXECUTE FUNCTION clinic_clinical_note_guard();
"""

_SQLITE_GUARDS = (
    """
    CREATE TRIGGER anamnesis_responses_signed_guard BEFORE UPDATE ON anamnesis_responses
    WHEN OLD.status = 'signed'
    BEGIN SELECT RAISE(ABORT, 'a signed anamnesis cannot change'); END
    """,
    """
    CREATE TRIGGER anamnesis_responses_fixed_guard BEFORE UPDATE ON anamnesis_responses
    WHEN NEW.tenant_id IS NOT OLD.tenant_id OR NEW.id IS NOT OLD.id OR NEW.patient_id IS NOT OLD.patient_id
      OR NEW.template_id IS NOT OLD.template_id OR NEW.version IS NOT OLD.version
      OR NEW.created_by IS NOT OLD.created_by OR NEW.created_at IS NOT OLD.created_at
      OR NEW.appointment_id IS NOT OLD.appointment_id
    BEGIN SELECT RAISE(ABORT, 'only the answers and the signing of a draft anamnesis change'); END
    """,
    """
    CREATE TRIGGER anamnesis_responses_delete_guard BEFORE DELETE ON anamnesis_responses
    BEGIN SELECT RAISE(ABORT, 'anamnesis responses are never deleted'); END
    """,
    """
    CREATE TRIGGER clinical_notes_guard BEFORE UPDATE ON clinical_notes
    WHEN NOT (OLD.status = 'draft' AND NEW.status = 'signed' AND NEW.signed_at IS NOT NULL
      AND NEW.tenant_id IS OLD.tenant_id AND NEW.id IS OLD.id AND NEW.patient_id IS OLD.patient_id
      AND NEW.author_id IS OLD.author_id AND NEW.type IS OLD.type AND NEW.body IS OLD.body
      AND NEW.created_at IS OLD.created_at AND NEW.appointment_id IS OLD.appointment_id
      AND NEW.amends IS OLD.amends AND NEW.root_id IS OLD.root_id)
    BEGIN SELECT RAISE(ABORT, 'a clinical note cannot change: only the signing of a draft is allowed'); END
    """,
    """
    CREATE TRIGGER clinical_notes_delete_guard BEFORE DELETE ON clinical_notes
    BEGIN SELECT RAISE(ABORT, 'clinical notes are never deleted'); END
    """,
    """
    CREATE TRIGGER anamnesis_template_versions_update_guard BEFORE UPDATE ON anamnesis_template_versions
    BEGIN SELECT RAISE(ABORT, 'a published template version never changes'); END
    """,
    """
    CREATE TRIGGER anamnesis_template_versions_delete_guard BEFORE DELETE ON anamnesis_template_versions
    BEGIN SELECT RAISE(ABORT, 'a published template version is never deleted'); END
    """,
)
_SQLITE_TRIGGERS = (
    "anamnesis_responses_signed_guard",
    "anamnesis_responses_fixed_guard",
    "anamnesis_responses_delete_guard",
    "clinical_notes_guard",
    "clinical_notes_delete_guard",
    "anamnesis_template_versions_update_guard",
    "anamnesis_template_versions_delete_guard",
)


def _patient_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "patient_id"],
        ["patients.tenant_id", "patients.id"],
        name=f"fk_{table}_patient",
        ondelete="CASCADE" if table == "patient_timeline" else "RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "anamnesis_templates",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("procedure_ids", _JSON, nullable=False),
        sa.Column("species", _JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_anamnesis_templates_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_anamnesis_templates"),
    )
    op.create_table(
        "anamnesis_template_versions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("questionnaire", _JSON, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=False),
        sa.CheckConstraint("number >= 1", name=op.f("ck_anamnesis_template_versions_positive_number")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "template_id"],
            ["anamnesis_templates.tenant_id", "anamnesis_templates.id"],
            name="fk_anamnesis_template_versions_template",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "template_id", "number", name="pk_anamnesis_template_versions"),
    )
    op.create_table(
        "anamnesis_responses",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("answers", _JSON, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_by", sa.Uuid(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'draft' AND signed_at IS NULL AND signed_by IS NULL)"
            " OR (status = 'signed' AND signed_at IS NOT NULL AND signed_by IS NOT NULL)",
            name=op.f("ck_anamnesis_responses_signed_when_signed"),
        ),
        _patient_fk("anamnesis_responses"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "template_id", "version"],
            [
                "anamnesis_template_versions.tenant_id",
                "anamnesis_template_versions.template_id",
                "anamnesis_template_versions.number",
            ],
            name="fk_anamnesis_responses_version",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_anamnesis_responses"),
    )
    with op.batch_alter_table("anamnesis_responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_anamnesis_responses_tenant_id_patient_id_id", ["tenant_id", "patient_id", "id"], unique=False
        )
    op.create_table(
        "clinical_notes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amends", sa.Uuid(), nullable=True),
        sa.Column("root_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(amends IS NULL) = (root_id IS NULL)", name=op.f("ck_clinical_notes_amendment_has_root")
        ),
        sa.CheckConstraint(
            "(status = 'draft' AND signed_at IS NULL) OR (status = 'signed' AND signed_at IS NOT NULL)",
            name=op.f("ck_clinical_notes_signed_when_signed"),
        ),
        _patient_fk("clinical_notes"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "patient_id", "amends"],
            ["clinical_notes.tenant_id", "clinical_notes.patient_id", "clinical_notes.id"],
            name="fk_clinical_notes_amends",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "patient_id", "root_id"],
            ["clinical_notes.tenant_id", "clinical_notes.patient_id", "clinical_notes.id"],
            name="fk_clinical_notes_root",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_clinical_notes"),
        sa.UniqueConstraint(
            "tenant_id", "patient_id", "id", name="uq_clinical_notes_tenant_id_patient_id_id"
        ),
    )
    with op.batch_alter_table("clinical_notes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_clinical_notes_tenant_id_patient_id_id", ["tenant_id", "patient_id", "id"], unique=False
        )
        batch_op.create_index("ix_clinical_notes_tenant_id_root_id", ["tenant_id", "root_id"], unique=False)
    op.create_table(
        "patient_timeline",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref_id", sa.Uuid(), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        _patient_fk("patient_timeline"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_timeline"),
        sa.UniqueConstraint("tenant_id", "kind", "ref_id", name="uq_patient_timeline_tenant_id_kind_ref_id"),
    )
    with op.batch_alter_table("patient_timeline", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patient_timeline_tenant_id_patient_id_occurred_at_id",
            ["tenant_id", "patient_id", "occurred_at", "id"],
            unique=False,
        )
    for table in _TENANT_TABLES:
        guard_tenant_table(table)
    append_only("anamnesis_template_versions")
    if is_postgres():
        op.execute(_PG_GUARDS)
        op.execute(f"REVOKE DELETE, TRUNCATE ON anamnesis_responses FROM {APP_ROLE}")
        op.execute(f"REVOKE DELETE, TRUNCATE ON clinical_notes FROM {APP_ROLE}")
    else:
        for statement in _SQLITE_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if is_postgres():
        op.execute("DROP TRIGGER IF EXISTS clinical_notes_guard ON clinical_notes")
        op.execute("DROP TRIGGER IF EXISTS anamnesis_responses_guard ON anamnesis_responses")
        op.execute("DROP FUNCTION IF EXISTS clinic_clinical_note_guard()")
        op.execute("DROP FUNCTION IF EXISTS clinic_anamnesis_response_guard()")
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for table in reversed(_TENANT_TABLES):
        unguard_tenant_table(table)
    with op.batch_alter_table("patient_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_timeline_tenant_id_patient_id_occurred_at_id")
    op.drop_table("patient_timeline")
    with op.batch_alter_table("clinical_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_clinical_notes_tenant_id_root_id")
        batch_op.drop_index("ix_clinical_notes_tenant_id_patient_id_id")
    op.drop_table("clinical_notes")
    with op.batch_alter_table("anamnesis_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_anamnesis_responses_tenant_id_patient_id_id")
    op.drop_table("anamnesis_responses")
    op.drop_table("anamnesis_template_versions")
    op.drop_table("anamnesis_templates")
