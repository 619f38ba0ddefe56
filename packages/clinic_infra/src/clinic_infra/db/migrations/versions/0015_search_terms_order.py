"""search terms carry the patient's sort key; bounded two-phase infix search

``patient_search_terms`` gets ``search_name`` (the patient's, copied: the repository rewrites a patient's
terms on every save), with a covering index ``(tenant_id, term, search_name, patient_id)``: the first page
of "every patient with a term in this range, in name order" is an index-only range scan and a top-N sort
on the terms alone, whose cost grows with the word's matches, never with the clinic's size. The index on
``(tenant_id, patient_id)`` becomes ``(tenant_id, patient_id, term, search_name)``, so that checking a
patient's other words is index-only too, and a two-word search can start from whichever word is rarer.

``clinic_patient_infix_search`` (migration 0007) takes a cursor and returns the first ``lim`` matches after
it, with their ``search_name`` (``lim`` can then be a page, not the first 1,000 names of the clinic). It
first walks a bounded stretch of the clinic in name order (what answers common patterns at once), and only
when that does not fill ``lim`` goes by the trigram index (what answers rare ones), the sort applied after:
never a walk of a big clinic.

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
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = "clinic_patient_infix_search(text, int, text, uuid)"

INFIX_SEARCH = r"""
CREATE FUNCTION clinic_patient_infix_search(
    q text, lim int, after_name text DEFAULT NULL, after_id uuid DEFAULT NULL
) RETURNS TABLE (id uuid, search_name text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    pattern text;
    tenant uuid := nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid;
    -- No cursor: from before the first name ('' and the nil uuid, which no patient has).
    after_n text := coalesce(after_name, '');
    after_i uuid := coalesce(after_id, '00000000-0000-0000-0000-000000000000');
    seen bigint;
    found uuid[];
    names text[];
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
    -- 1. The next 10,000 patients in name order after the cursor (index-only): a common pattern fills lim
    --    here, and when the clinic has no more patients than that, this is the whole answer.
    SELECT count(*),
           (array_agg(w.id ORDER BY w.search_name, w.id) FILTER (WHERE w.search_name LIKE pattern))[1:lim],
           (array_agg(w.search_name ORDER BY w.search_name, w.id) FILTER (WHERE w.search_name LIKE pattern))[1:lim]
      INTO seen, found, names
      FROM (SELECT p.id, p.search_name FROM public.patients AS p
             WHERE p.tenant_id = tenant
               AND (p.search_name, p.id) > (after_n COLLATE "C", after_i)
             ORDER BY p.search_name, p.id LIMIT 10000) AS w;
    IF coalesce(cardinality(found), 0) >= lim OR seen < 10000 THEN
        RETURN QUERY SELECT f.id, f.search_name::text FROM unnest(found, names) AS f(id, search_name);
        RETURN;
    END IF;
    -- 2. Every match after the cursor through the trigram index (a MATERIALIZED CTE has no order to walk
    --    for), then the first lim in name order. EXECUTE plans with the pattern's value, so that the
    --    index is weighed for it.
    RETURN QUERY EXECUTE
        'WITH m AS MATERIALIZED ('
        '  SELECT p.id, p.search_name FROM public.patients AS p'
        '   WHERE p.tenant_id = $3 AND p.search_name LIKE $1'
        '     AND (p.search_name, p.id) > ($4 COLLATE "C", $5))'
        ' SELECT m.id, m.search_name::text FROM m ORDER BY m.search_name, m.id LIMIT $2'
        USING pattern, lim, tenant, after_n, after_i;
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
            "ix_patient_search_terms_tenant_id_patient_id_term_search_name",
            ["tenant_id", "patient_id", "term", "search_name"],
            unique=False,
        )
        batch_op.create_index(
            "ix_patient_search_terms_tenant_id_term_search_name_patient_id",
            ["tenant_id", "term", "search_name", "patient_id"],
            unique=False,
        )
    if is_postgres():
        op.execute("DROP FUNCTION clinic_patient_infix_search(text, int)")
        op.execute(INFIX_SEARCH)
        op.execute(f"REVOKE ALL ON FUNCTION {_SIGNATURE} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {_SIGNATURE} TO {APP_ROLE}")


def downgrade() -> None:
    if is_postgres():
        op.execute(f"DROP FUNCTION {_SIGNATURE}")
        op.execute(importlib.import_module("clinic_infra.db.migrations.versions.0007_patients").INFIX_SEARCH)
        op.execute("REVOKE ALL ON FUNCTION clinic_patient_infix_search(text, int) FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION clinic_patient_infix_search(text, int) TO {APP_ROLE}")
    with op.batch_alter_table("patient_search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_search_terms_tenant_id_term_search_name_patient_id")
        batch_op.drop_index("ix_patient_search_terms_tenant_id_patient_id_term_search_name")
        batch_op.create_index(
            "ix_patient_search_terms_tenant_id_patient_id", ["tenant_id", "patient_id"], unique=False
        )
        batch_op.drop_column("search_name")
