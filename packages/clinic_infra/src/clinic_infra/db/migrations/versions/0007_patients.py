"""patients: people and animals, identifiers, weights, search terms, guardians, access log

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

On PostgreSQL it also installs pg_trgm and unaccent (both trusted extensions), a trigram index on
``patients.search_name``, and ``clinic_patient_infix_search(q, lim)``: a SECURITY DEFINER function, owned by
the role that runs the migrations, that finds the current tenant's patients whose folded name contains
the folded words of ``q`` in order. It runs as its owner so that the trigram index can serve ``LIKE``,
which is not leakproof and so cannot be an index condition under the app role's forced row-level
security; it filters by the transaction's tenant itself, and returns ids only. (The owner must be able to
bypass row-level security, as a superuser or the table owner with BYPASSRLS can; otherwise the function
still answers correctly, only without the index.)
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

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TENANT_TABLES = (
    "patients",
    "patient_identifiers",
    "patient_weights",
    "patient_search_terms",
    "guardian_links",
    "patient_access_log",
)


def _c_text(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def _patient_fk(table: str, column: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column], ["patients.tenant_id", "patients.id"], name=name, ondelete="CASCADE"
    )


INFIX_SEARCH = r"""
CREATE FUNCTION clinic_patient_infix_search(q text, lim int) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    pattern text;
BEGIN
    -- The folded words of q, LIKE-escaped, in order: 'mar sil' -> '%mar%sil%'.
    SELECT '%' || string_agg(replace(replace(replace(w, '\', '\\'), '%', '\%'), '_', '\_'), '%') || '%'
      INTO pattern
      FROM regexp_split_to_table(btrim(q), '\s+') AS w
     WHERE w <> '';
    IF pattern IS NULL OR lim IS NULL OR lim < 1 THEN
        RETURN;
    END IF;
    -- EXECUTE plans with the pattern's value, so that the trigram index is weighed for it.
    RETURN QUERY EXECUTE
        'SELECT id FROM public.patients'
        ' WHERE tenant_id = nullif(pg_catalog.current_setting(''app.tenant_id'', true), '''')::uuid'
        '   AND search_name LIKE $1'
        ' ORDER BY search_name, id LIMIT $2'
        USING pattern, least(lim, 1000);
END
$$
"""


def upgrade() -> None:
    if is_postgres():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("patients_shared_across_units", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.create_table(
        "patients",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("social_name", sa.String(length=200), nullable=True),
        sa.Column("search_name", _c_text(200), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("birth_date_estimated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("phones", _JSON, nullable=False),
        sa.Column("emails", _JSON, nullable=False),
        sa.Column("address", _JSON, nullable=True),
        sa.Column("allergies", _JSON, nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("deceased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("cpf", sa.String(length=11), nullable=True),
        sa.Column("species", sa.String(length=20), nullable=True),
        sa.Column("breed", sa.String(length=120), nullable=True),
        sa.Column("coat", sa.String(length=120), nullable=True),
        sa.Column("neutered", sa.Boolean(), nullable=True),
        sa.Column("microchip", sa.String(length=15), nullable=True),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('person', 'animal')", name=op.f("ck_patients_kind")),
        sa.CheckConstraint(
            "(status = 'deceased') = (deceased_at IS NOT NULL)", name=op.f("ck_patients_deceased_at")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_patients_version")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_patients_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "unit_id"],
            ["units.tenant_id", "units.id"],
            name="fk_patients_unit",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_patients_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_patients"),
        sa.UniqueConstraint("tenant_id", "cpf", name="uq_patients_tenant_id_cpf"),
        sa.UniqueConstraint("tenant_id", "microchip", name="uq_patients_tenant_id_microchip"),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_patients_tenant_id_user_id"),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patients_tenant_id_search_name_id", ["tenant_id", "search_name", "id"], unique=False
        )
        batch_op.create_index(
            "ix_patients_search_name_trgm",
            ["search_name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        )
    op.create_table(
        "patient_identifiers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=80), nullable=False),
        _patient_fk("patient_identifiers", "patient_id", "fk_patient_identifiers_patient"),
        sa.PrimaryKeyConstraint("tenant_id", "patient_id", "system", "value", name="pk_patient_identifiers"),
        sa.UniqueConstraint(
            "tenant_id", "system", "value", name="uq_patient_identifiers_tenant_id_system_value"
        ),
    )
    op.create_table(
        "patient_weights",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kg", sa.Numeric(precision=9, scale=3), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kg > 0", name=op.f("ck_patient_weights_kg_positive")),
        _patient_fk("patient_weights", "patient_id", "fk_patient_weights_patient"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_weights"),
    )
    with op.batch_alter_table("patient_weights", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patient_weights_tenant_id_patient_id_measured_at",
            ["tenant_id", "patient_id", "measured_at"],
            unique=False,
        )
    op.create_table(
        "patient_search_terms",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("term", _c_text(100), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        _patient_fk("patient_search_terms", "patient_id", "fk_patient_search_terms_patient"),
        sa.PrimaryKeyConstraint("tenant_id", "term", "patient_id", name="pk_patient_search_terms"),
    )
    with op.batch_alter_table("patient_search_terms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patient_search_terms_tenant_id_patient_id", ["tenant_id", "patient_id"], unique=False
        )
    op.create_table(
        "guardian_links",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("guardian_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("patient_id <> guardian_id", name=op.f("ck_guardian_links_not_self")),
        sa.CheckConstraint(
            "role IN ('owner', 'financially_responsible', 'emergency_contact', 'legal_guardian')",
            name=op.f("ck_guardian_links_role"),
        ),
        _patient_fk("guardian_links", "patient_id", "fk_guardian_links_patient"),
        _patient_fk("guardian_links", "guardian_id", "fk_guardian_links_guardian"),
        sa.PrimaryKeyConstraint("tenant_id", "patient_id", "guardian_id", "role", name="pk_guardian_links"),
    )
    with op.batch_alter_table("guardian_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_guardian_links_tenant_id_guardian_id", ["tenant_id", "guardian_id"], unique=False
        )
        batch_op.create_index(
            "uq_guardian_links_one_primary",
            ["tenant_id", "patient_id"],
            unique=True,
            postgresql_where=sa.text("is_primary"),
            sqlite_where=sa.text("is_primary"),
        )
    op.create_table(
        "patient_access_log",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_patient_access_log_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_patient_access_log"),
    )
    with op.batch_alter_table("patient_access_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patient_access_log_tenant_id_patient_id_id", ["tenant_id", "patient_id", "id"], unique=False
        )
    for table in _TENANT_TABLES:
        guard_tenant_table(table)
    append_only("patient_access_log")
    if is_postgres():
        op.execute(INFIX_SEARCH)
        op.execute("REVOKE ALL ON FUNCTION clinic_patient_infix_search(text, int) FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION clinic_patient_infix_search(text, int) TO {APP_ROLE}")


def downgrade() -> None:
    if is_postgres():
        op.execute("DROP FUNCTION IF EXISTS clinic_patient_infix_search(text, int)")
    for table in reversed(_TENANT_TABLES):
        unguard_tenant_table(table)
    with op.batch_alter_table("patient_access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_access_log_tenant_id_patient_id_id")
    op.drop_table("patient_access_log")
    with op.batch_alter_table("guardian_links", schema=None) as batch_op:
        batch_op.drop_index("uq_guardian_links_one_primary", sqlite_where=sa.text("is_primary"))
        batch_op.drop_index("ix_guardian_links_tenant_id_guardian_id")
    op.drop_table("guardian_links")
    with op.batch_alter_table("patient_search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_search_terms_tenant_id_patient_id")
    op.drop_table("patient_search_terms")
    with op.batch_alter_table("patient_weights", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_weights_tenant_id_patient_id_measured_at")
    op.drop_table("patient_weights")
    op.drop_table("patient_identifiers")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_search_name_trgm", postgresql_using="gin")
        batch_op.drop_index("ix_patients_tenant_id_search_name_id")
    op.drop_table("patients")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("patients_shared_across_units")
    # pg_trgm and unaccent stay: other schema objects may use them, and they hold no data.
