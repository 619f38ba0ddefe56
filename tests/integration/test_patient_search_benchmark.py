"""The patient search benchmark (benchmarks/patient_search.py) on a tiny dataset, so that it never rots:
its own database, the bulk load writing exactly the rows the repository writes, searches finding the
loaded patients of the right clinic only, and the measuring and EXPLAIN functions running. No timings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from benchmarks.patient_search import (
    Database,
    database,
    explain,
    generate_patients,
    load,
    measure,
    query_lists,
    search_use_case,
    sign_up_clinics,
    table_sizes,
)
from sqlalchemy.engine import make_url

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.patients.model import Patient, PatientId, PatientKind, search_words
from clinic_core.patients.search import SearchInput
from clinic_core.patients.use_cases import SearchPatients
from clinic_core.shared.clock import SystemClock
from clinic_infra.db.engine import create_engine
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.conftest import PostgresDatabase

PER_CLINIC = 100
SEED = 7


@pytest.fixture(scope="module")
def bench_db(postgres: PostgresDatabase) -> Iterator[Database]:
    with database(postgres.owner_url) as db:
        yield db


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _rows(owner_url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(_plain(owner_url)) as connection:
        return list(connection.execute(statement, params))


async def test_the_benchmark_loads_what_the_repository_writes_and_finds_it(bench_db: Database) -> None:
    engine = create_engine(bench_db.app_url, pool_size=2)
    try:
        first, second, reference = await sign_up_clinics(engine, 3)
        report = load(bench_db.owner_url, [first.tenant_id, second.tenant_id], PER_CLINIC, SEED, batch=30)
        generated = [
            list(generate_patients(a.tenant_id, PER_CLINIC, SEED * 1_000_003 + n))
            for n, a in enumerate((first, second))
        ]
        everyone = generated[0] + generated[1]
        assert report.patients == 2 * PER_CLINIC
        assert report.terms == sum(len(p.search_terms()) for p in everyone)
        assert report.identifiers == sum(len(p.identifiers) for p in everyone)
        assert {p.kind for p in everyone} == {PatientKind.PERSON, PatientKind.ANIMAL}
        assert any(len(search_words(p.name.value)) >= 4 for p in everyone)
        counted = _rows(
            bench_db.owner_url,
            "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM patient_search_terms),"
            " (SELECT count(*) FROM patient_identifiers)",
        )
        assert counted == [(report.patients, report.terms, report.identifiers)]
        assert set(table_sizes(bench_db.owner_url)) == {
            "patients",
            "patient_identifiers",
            "patient_search_terms",
        }

        # The same patient written by the repository (in a third clinic) makes the very same rows.
        sample: Patient = next(p for p in generated[0] if p.phones and p.cpf and p.identifiers)
        async with SqlUnitOfWorkFactory(engine)(Scope(tenant_id=reference.tenant_id)) as tx:
            await tx.patients.add(sample)
            await tx.commit()
        for table, key in (
            ("patients", "id"),
            ("patient_search_terms", "patient_id"),
            ("patient_identifiers", "patient_id"),
        ):
            statement = f"SELECT * FROM {table} WHERE tenant_id = %s AND {key} = %s ORDER BY 1, 2, 3"
            loaded = _rows(bench_db.owner_url, statement, first.tenant_id, sample.id)
            written = _rows(bench_db.owner_url, statement, reference.tenant_id, sample.id)
            assert loaded, table
            assert [r[1:] for r in loaded] == [r[1:] for r in written], table

        # Searches through the product find the loaded patient, by name prefix and by partial name,
        # in its own clinic only.
        uow = SqlUnitOfWorkFactory(engine)
        words = search_words(sample.name.value)
        longest = max(words, key=len)
        by_prefix = await _search_all(uow, first, " ".join(w[:3] for w in words))
        assert sample.id in by_prefix
        if len(longest) >= 5:
            assert sample.id in await _search_all(uow, first, longest[1:], partial=True)
        assert sample.id not in await _search_all(uow, second, " ".join(words))
        found, _ = await search_use_case(uow, first, sample.name.value, False)
        assert found >= 1

        queries = query_lists(SEED)
        assert all(queries.values())
        timings = await measure(engine, [first, second], queries, per_kind=3, warmup=1, seed=SEED)
        assert [(t.kind, t.path, len(t.ms)) for t in timings] == [
            (kind, path, 3) for kind in queries for path in ("use case", "repository")
        ]
        assert all(t.results > 0 for t in timings if t.kind.startswith("prefix, one"))
        prefix_plan = await explain(engine, bench_db.owner_url, first, "mar sil", False)
        assert "patient_search_terms" in prefix_plan
        infix_plan = await explain(engine, bench_db.owner_url, first, "ilva", True)
        assert "inside clinic_patient_infix_search" in infix_plan
        assert "search_name" in infix_plan
    finally:
        await engine.dispose()


async def _search_all(
    uow: SqlUnitOfWorkFactory, actor: Actor, q: str, *, partial: bool = False
) -> set[PatientId]:
    """Every patient the use case finds for ``q``, following the cursor."""
    found: set[PatientId] = set()
    cursor = None
    while True:
        page = (
            await SearchPatients(uow, SystemClock())(
                actor, SearchInput(q=q, partial=partial, limit=100, cursor=cursor)
            )
        ).unwrap()
        found.update(p.id for p in page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor
