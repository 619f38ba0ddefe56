"""privacy (LGPD): consent decisions, append-only, and each clinic's retention setting

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-23

``patient_consents`` is append-only for the application: it may add decisions and read them, never delete
them, and change nothing but what anonymisation clears (``ip``, ``user_agent``, ``evidence``, set once
to NULL with ``redacted_at``). PostgreSQL holds the application role to it with privileges (no DELETE,
UPDATE of those columns only) and a trigger (the UPDATE may only clear them); SQLite, which has no roles,
with triggers of the same rule.

``patients.anonymised_at`` says when a patient's identity was erased (then the row keeps no name to
search, no CPF, microchip or account, and the patient has no identifiers and no search terms);
``attachments.erased_at`` when an attachment's content was erased by an anonymisation (the row stays,
without its name, description or hash, and the blob goes once no other row refers to it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_infra.db.migrations.rls import APP_ROLE, guard_tenant_table, is_postgres, unguard_tenant_table

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REDACTABLE = ("ip", "user_agent", "evidence", "redacted_at")
_FIXED = (
    "tenant_id",
    "id",
    "patient_id",
    "kind",
    "decision",
    "version",
    "recorded_at",
    "channel",
    "recorded_by_user_id",
    "recorded_by_api_key_id",
)
# What an UPDATE may do: clear the free text and network details, once, and nothing else.
_NOT_A_REDACTION = " OR ".join(
    [
        *(f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in _FIXED),
        "OLD.redacted_at IS NOT NULL",
        "NEW.redacted_at IS NULL",
        "NEW.ip IS NOT NULL",
        "NEW.user_agent IS NOT NULL",
        "NEW.evidence IS NOT NULL",
    ]
)


def upgrade() -> None:
    op.add_column("patients", sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("attachments", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "patient_consents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recorded_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("evidence", sa.String(length=500), nullable=True),
        sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("decision IN ('granted', 'withdrawn')", name=op.f("ck_patient_consents_decision")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_patient_consents_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "patient_id"],
            ["patients.tenant_id", "patients.id"],
            name="fk_patient_consents_patient",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_consents"),
    )
    with op.batch_alter_table("patient_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patient_consents_tenant_id_patient_id_id", ["tenant_id", "patient_id", "id"], unique=False
        )
    op.create_table(
        "tenant_privacy_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("clinical_record_retention_years", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_privacy_settings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_privacy_settings"),
    )
    guard_tenant_table("patient_consents")
    guard_tenant_table("tenant_privacy_settings")
    if is_postgres():
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON patient_consents FROM {APP_ROLE}")
        op.execute(f"GRANT UPDATE ({', '.join(_REDACTABLE)}) ON patient_consents TO {APP_ROLE}")
        op.execute(f"""
            CREATE FUNCTION patient_consents_redaction_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {_NOT_A_REDACTION} THEN
                    RAISE EXCEPTION 'patient_consents is append-only: an update may only redact'
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END $$
        """)
        op.execute(
            "CREATE TRIGGER patient_consents_redaction_only BEFORE UPDATE ON patient_consents"
            " FOR EACH ROW EXECUTE FUNCTION patient_consents_redaction_only()"
        )
    else:
        op.execute(f"""
            CREATE TRIGGER patient_consents_redaction_only BEFORE UPDATE ON patient_consents
            WHEN {_NOT_A_REDACTION}
            BEGIN SELECT RAISE(ABORT, 'patient_consents is append-only: an update may only redact'); END
        """)
        op.execute("""
            CREATE TRIGGER patient_consents_no_delete BEFORE DELETE ON patient_consents
            BEGIN SELECT RAISE(ABORT, 'patient_consents is append-only'); END
        """)


def downgrade() -> None:
    if is_postgres():
        op.execute("DROP TRIGGER IF EXISTS patient_consents_redaction_only ON patient_consents")
        op.execute("DROP FUNCTION IF EXISTS patient_consents_redaction_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS patient_consents_no_delete")
        op.execute("DROP TRIGGER IF EXISTS patient_consents_redaction_only")
    unguard_tenant_table("tenant_privacy_settings")
    unguard_tenant_table("patient_consents")
    op.drop_table("tenant_privacy_settings")
    with op.batch_alter_table("patient_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_consents_tenant_id_patient_id_id")
    op.drop_table("patient_consents")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
