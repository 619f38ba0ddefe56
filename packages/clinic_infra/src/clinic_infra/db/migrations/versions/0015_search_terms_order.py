"""search terms carry the patient's sort key; bounded two-phase infix search

``patient_search_terms`` gets ``search_name`` (the patient's, copied: the repository rewrites a patient's
terms on every save), with a covering index ``(tenant_id, term, search_name, patient_id)``: the first page
of "every patient with a term in this range, in name order" is an index-only range scan and a top-N sort
on the terms alone, whose cost grows with the word's matches, never with the clinic's size. The index on
``(tenant_id, patient_id)`` becomes ``(tenant_id, patient_id, term)``, so that checking a patient's other
words is index-only too.

``clinic_patient_infix_search`` (migration 0007) first walks a bounded stretch of the clinic in name order
(what answers common patterns at once), and only when that does not fill ``lim`` goes by the trigram index
(what answers rare ones), the sort applied after: the same ids as before, without walking a big clinic.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_infra.db.migrations.rls import APP_ROLE, is_postgres

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INFIX_SEARCH = r"""
CREATE OR REPLACE FUNCTION clinic_patient_infix_search(q text, lim int) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    pattern text;
    tenant uuid := nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid;
    seen bigint;
    ids uuid[];
BEGIN
    -- The folded words of q, LIKE-escaped, in order: 'mar sil' -> '%mar%sil%'.
    SELECT '%' || string_agg(replace(replace(replace(w, '\', '\\'), '%', '\%'), '_', '\_'), '%') || '%'
      INTO pattern
      FROM regexp_split_to_table(btrim(q), '\s+') AS w
     WHERE w <> '';
    IF pattern IS NULL OR lim IS NULL OR lim < 1 OR tenant IS NULL THEN
        RETURN;
    END IF;
    lim := least(lim, 1000);
    -- 1. The first 10,000 patients in name order (index-only): common patterns fill lim here, and
    --    when the clinic has no more patients than that, this is the whole answer.
    SELECT count(*), (array_agg(w.id ORDER BY w.search_name, w.id) FILTER (WHERE w.search_name LIKE pattern))[1:lim]
      INTO seen, ids
      FROM (SELECT p.id, p.search_name FROM public.patients p
             WHERE p.tenant_id = tenant ORDER BY p.search_name, p.id LIMIT 10000) AS w;
    IF coalesce(cardinality(ids), 0) >= lim OR seen < 10000 THEN
        RETURN QUERY SELECT unnest(ids);
        RETURN;
    END IF;
    -- 2. Every match through the trigram index (the MATERIALIZED CTE has no order to walk for), then the
    --    first lim in name order. EXECUTE plans with the pattern's value, so that the index is weighed.
    RETURN QUERY EXECUTE
        'WITH m AS MATERIALIZED ('
        '  SELECT id, search_name FROM public.patients WHERE tenant_id = $3 AND search_name LIKE $1)'
        ' SELECT id FROM m ORDER BY search_name, id LIMIT $2'
        USING pattern, lim, tenant;
END
$$
"""


def upgrade() -> None:
    with op.batch_alter_table("patient_search_terms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "search_name",
                sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
                nullable=True,
            )
        )
    if is_postgres():
        # The backfill must see every clinic's rows: the owner is exempt from row-level security unless
        # it is forced, so it is lifted for this statement only.
        op.execute("ALTER TABLE patient_search_terms NO FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE patients NO FORCE ROW LEVEL SECURITY")
        op.execute(
            "UPDATE patient_search_terms AS t SET search_name = p.search_name FROM patients AS p"
            " WHERE p.tenant_id = t.tenant_id AND p.id = t.patient_id"
        )
        op.execute("ALTER TABLE patients FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE patient_search_terms FORCE ROW LEVEL SECURITY")
    else:
        op.execute(
            "UPDATE patient_search_terms SET search_name = (SELECT p.search_name FROM patients AS p"
            " WHERE p.tenant_id = patient_search_terms.tenant_id AND p.id = patient_search_terms.patient_id)"
        )
    with op.batch_alter_table("patient_search_terms", schema=None) as batch_op:
        batch_op.alter_column(
            "search_name",
            existing_type=sa.String(length=200).with_variant(
                sa.String(length=200, collation="C"), "postgresql"
            ),
            nullable=False,
        )
        batch_op.drop_index("ix_patient_search_terms_tenant_id_patient_id")
        batch_op.create_index(
            "ix_patient_search_terms_tenant_id_patient_id_term",
            ["tenant_id", "patient_id", "term"],
            unique=False,
        )
        batch_op.create_index(
            "ix_patient_search_terms_tenant_id_term_search_name_patient_id",
            ["tenant_id", "term", "search_name", "patient_id"],
            unique=False,
        )
    if is_postgres():
        op.execute(INFIX_SEARCH)
        op.execute("REVOKE ALL ON FUNCTION clinic_patient_infix_search(text, int) FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION clinic_patient_infix_search(text, int) TO {APP_ROLE}")


def downgrade() -> None:
    if is_postgres():
        previous = importlib.import_module("clinic_infra.db.migrations.versions.0007_patients").INFIX_SEARCH
        op.execute(previous.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    with op.batch_alter_table("patient_search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_search_terms_tenant_id_term_search_name_patient_id")
        batch_op.drop_index("ix_patient_search_terms_tenant_id_patient_id_term")
        batch_op.create_index(
            "ix_patient_search_terms_tenant_id_patient_id", ["tenant_id", "patient_id"], unique=False
        )
        batch_op.drop_column("search_name")
