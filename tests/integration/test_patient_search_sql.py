"""Patient search, guardians and the access log over SQL, on PostgreSQL (as the app role) and SQLite:
accent- and case-insensitive prefix search, partial matching, filters, cursors; and the plan
PostgreSQL picks for prefix search under forced row-level security."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.patients.fields import PatientFields
from clinic_core.patients.guardians import (
    GuardianInput,
    ListMyPatients,
    ListPatientAccessLog,
    SetGuardians,
    SetGuardiansCommand,
)
from clinic_core.patients.model import AccessAction, Patient, PatientStatus
from clinic_core.patients.search import MatchMode, SearchCursor, SearchInput, SearchPage, parse_search
from clinic_core.patients.use_cases import (
    RegisterPatient,
    RegisterPatientCommand,
    SearchPatients,
    SearchResult,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp
from clinic_core.testing import a_person
from clinic_infra.db.patient_repositories import SqlPatientRepository
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
CLOCK = FixedClock(T0)


def _owner(clinic: SignedUp) -> Actor:
    return Actor(
        user_id=clinic.owner.id,
        tenant_id=clinic.tenant.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
    )


async def _register(
    uow: SqlUnitOfWorkFactory, clinic: SignedUp, kind: str = "person", **fields: Any
) -> Patient:
    result = await RegisterPatient(uow, CLOCK)(
        RegisterPatientCommand(_owner(clinic), kind, PatientFields(**fields))
    )
    patient: Patient = result.unwrap()
    return patient


async def _search(uow: SqlUnitOfWorkFactory, clinic: SignedUp, **given: Any) -> SearchResult:
    result: SearchResult = (await SearchPatients(uow, CLOCK)(_owner(clinic), SearchInput(**given))).unwrap()
    return result


async def _names(uow: SqlUnitOfWorkFactory, clinic: SignedUp, **given: Any) -> list[str]:
    return [p.name.value for p in (await _search(uow, clinic, **given)).items]


async def test_search_by_words_digits_and_filters(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    await _register(
        sql_uow, clinic, name="Maria da Silva", cpf="529.982.247-25", phones=["11987654321"], tags=["VIP"]
    )
    await _register(sql_uow, clinic, name="José Conceição", social_name="Zezé")
    await _register(sql_uow, clinic, name="Mariana Souza")
    await _register(sql_uow, clinic, name="100% Real_Name")
    await _register(sql_uow, clinic, "animal", name="Thor", species="dog", microchip="985112345678901")
    other = await sign_up(sql_uow, "Outra")
    await _register(sql_uow, other, name="Maria de Outra Clínica")

    assert await _names(sql_uow, clinic, q="mar sil") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, q="silva MAR") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, q="jose") == ["José Conceição"]
    assert await _names(sql_uow, clinic, q="CONCEIÇÃO") == ["José Conceição"]
    assert await _names(sql_uow, clinic, q="zeze") == ["José Conceição"]  # the social name
    assert await _names(sql_uow, clinic, q="mari") == ["Maria da Silva", "Mariana Souza"]
    assert await _names(sql_uow, clinic, q="529.982.247") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, q="1198765") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, q="985112") == ["Thor"]
    assert await _names(sql_uow, clinic, cpf="52998224725") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, phone="+55 (11) 98765-4321") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, phone="11 98765 4321") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, microchip="985112345678901") == ["Thor"]
    assert await _names(sql_uow, clinic, tag="vip") == ["Maria da Silva"]
    assert await _names(sql_uow, clinic, q="vip") == []
    assert await _names(sql_uow, clinic, kind="animal", species="dog") == ["Thor"]
    assert await _names(sql_uow, clinic, q="100") == ["100% Real_Name"]
    assert await _names(sql_uow, clinic, q="real name") == ["100% Real_Name"]
    assert len(await _names(sql_uow, clinic)) == 5  # no filter: everybody, and nobody of the other clinic


async def test_partial_matching_on_a_short_page_or_when_asked(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    await _register(sql_uow, clinic, name="Maria da Silva")
    await _register(sql_uow, clinic, name="Rosária Lima")
    await _register(sql_uow, clinic, name="Ana_Maria%")  # LIKE's wildcards are plain characters
    found = await _search(sql_uow, clinic, q="aria")
    assert found.mode is MatchMode.PARTIAL
    assert [p.name.value for p in found.items] == ["Ana_Maria%", "Maria da Silva", "Rosária Lima"]
    assert await _names(sql_uow, clinic, q="ria sil") == ["Maria da Silva"]  # in order
    assert await _names(sql_uow, clinic, q="sil ria") == []
    assert await _names(sql_uow, clinic, q="a_m") == ["Ana_Maria%"]
    assert await _names(sql_uow, clinic, q="a_d") == []  # "_" is no wildcard: "maria da silva" has "a d"
    asked = await _search(sql_uow, clinic, q="lima", partial=True)
    assert asked.mode is MatchMode.PARTIAL
    assert [p.name.value for p in asked.items] == ["Rosária Lima"]


async def test_cursor_pages_cover_every_match_once(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    names = ["Ana Clara", "Ana Beatriz", "Ána Alice", "Ana Dora", "Anabela", "ANA ELISA", "Ana Clara"]
    for name in names:
        await _register(sql_uow, clinic, name=name)
    seen: list[str] = []
    cursor = None
    while True:
        page = await _search(sql_uow, clinic, q="ana", limit=2, cursor=cursor)
        seen.extend(p.name.value for p in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["Ána Alice", "Ana Beatriz", "Ana Clara", "Ana Clara", "Ana Dora", "ANA ELISA", "Anabela"]


async def test_search_logs_each_patient_returned_and_guardians_round_trip(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    clinic = await sign_up(sql_uow)
    ana = await _register(sql_uow, clinic, name="Ana Tutora", user_id=clinic.owner.id)
    bruno = await _register(sql_uow, clinic, name="Bruno")
    thor = await _register(sql_uow, clinic, "animal", name="Thor", species="dog")
    luna = await _register(sql_uow, clinic, "animal", name="Luna", species="cat")
    set_guardians = SetGuardians(sql_uow, CLOCK)
    links = (GuardianInput(str(ana.id), "owner", True), GuardianInput(str(bruno.id), "emergency_contact"))
    assert len((await set_guardians(SetGuardiansCommand(_owner(clinic), thor.id, links))).unwrap()) == 2
    await set_guardians(
        SetGuardiansCommand(_owner(clinic), luna.id, (GuardianInput(str(bruno.id), "owner", True),))
    )
    async with sql_uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as tx:
        of_thor = await tx.guardians.of_patient(thor.id)
        of_bruno = await tx.guardians.of_guardian(bruno.id)
    assert [(g.guardian_id, g.is_primary) for g in of_thor] == [(ana.id, True), (bruno.id, False)]
    assert {g.patient_id for g in of_bruno} == {thor.id, luna.id}

    await _search(sql_uow, clinic, q="thor")
    mine = (await ListMyPatients(sql_uow, CLOCK)(_owner(clinic), SearchInput())).unwrap()
    assert [p.name.value for p in mine.items] == ["Ana Tutora", "Thor"]  # not Luna: Bruno's
    log = (await ListPatientAccessLog(sql_uow)(_owner(clinic), thor.id, PageRequest())).unwrap()
    assert [e.action for e in log.items] == [AccessAction.PORTAL_READ, AccessAction.SEARCH]
    assert all(e.actor_user_id == clinic.owner.id for e in log.items)


async def test_prefix_search_uses_the_indexes_under_row_level_security(
    pg_app_engine: AsyncEngine, pg_owner_engine: AsyncEngine
) -> None:
    """A clinic of 3,000 patients in a table shared with other clinics (60,000 rows, as a multi-tenant
    database has): EXPLAIN as the app role, under forced RLS, shows the term ranges as index conditions
    and no Seq Scan on patients."""
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic = await sign_up(uow, "Clínica Grande")
    first = ["Maria", "José", "Ana", "João", "Antônio", "Francisca", "Carlos", "Paulo", "Lúcia", "Pedro"]
    last = [
        "Silva",
        "Santos",
        "Oliveira",
        "Souza",
        "Rodrigues",
        "Ferreira",
        "Alves",
        "Pereira",
        "Lima",
        "Gomes",
    ]
    async with uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        for n in range(3000):
            name = f"{first[n % 10]} {last[(n // 10) % 10]} {chr(97 + n % 26)}{n}"
            await tx.patients.add(a_person(clinic.tenant.id, name))
        await tx.commit()
    others = [await sign_up(uow, f"Vizinha {n}") for n in range(3)]
    async with pg_owner_engine.connect() as connection:  # the other clinics' rows, in bulk
        for other in others:
            await connection.execute(
                text(
                    "INSERT INTO patients (tenant_id, id, kind, name, search_name, sex, phones, emails,"
                    " allergies, status, tags, version, created_at, updated_at)"
                    " SELECT :t, gen_random_uuid(), 'person', 'Maria Silva ' || i, 'maria silva ' || i,"
                    " 'unknown', '[]', '[]', '[]', 'active', '[]', 1, now(), now()"
                    " FROM generate_series(1, 19000) AS i"
                ),
                {"t": other.tenant.id},
            )
            await connection.execute(
                text(
                    "INSERT INTO patient_search_terms (tenant_id, term, patient_id, search_name)"
                    " SELECT tenant_id, w, id, search_name"
                    " FROM patients, unnest(ARRAY['maria', 'silva']) AS w"
                    " WHERE tenant_id = :t"
                ),
                {"t": other.tenant.id},
            )
        await connection.execute(text("ANALYZE patients, patient_search_terms"))  # as autovacuum would
        await connection.commit()
    async with uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as tx:
        query, page = parse_search(SearchInput(q="mar sil", limit=20)).unwrap()

        async def plan_of(statement: Any) -> str:
            compiled = statement.compile(
                dialect=pg_app_engine.dialect, compile_kwargs={"literal_binds": True}
            )
            return "\n".join(row[0] for row in await tx._db.execute(text(f"EXPLAIN {compiled}")))

        walk = await plan_of(tx.patients.search_statement(query, page))
        terms = await plan_of(tx.patients.terms_statement(query, None, 84))
        found = await tx.patients.search(query, page)
    assert len(found) == 21  # 30 "Maria Silva x" patients: a full page and more
    assert [p.search_name for p in found] == sorted(p.search_name for p in found)
    # The walk: a bounded stretch of the clinic in name order, each patient's words checked by key.
    assert "Seq Scan" not in walk, walk
    assert "Index Only Scan using ix_patients_tenant_id_search_name_id" in walk, walk
    # The terms: the word's range as an index condition (at scale, index-only on the covering index).
    assert "Seq Scan" not in terms, terms
    # The word's range is an index condition, not a filter over the tenant's rows: leakproof operators.
    assert re.search(r"Index Cond: .*\(term\)::text >= 'mar'::text\) AND \(\(term\)::text < 'mar", terms), (
        terms
    )
    assert re.search(r"Index Cond: .*\(term\)::text >= 'sil'::text\) AND \(\(term\)::text < 'sil", terms), (
        terms
    )


async def test_pages_cross_from_the_walk_to_the_search_terms(sql_uow: SqlUnitOfWorkFactory) -> None:
    """With a walk of 3 patients and batches of 2 candidates, pages of 2 start in the walk and end in the
    search terms (a patient with several terms in a word's range, a filter that drops candidates, a
    partial pattern): every page's patients, in order, are those of one search without phases."""
    clinic = await sign_up(sql_uow)
    names = [
        "Ana Clara",
        "Ana Beatriz",
        "Bruno Costa",
        "Bruna Ana",
        "Carlos Dias",
        "Daniela Anabela Ana",  # two terms in the range of "ana"
        "Eduardo",
        "Fábio Anselmo",
        "Gustavo Ana",
        "Helena Ana Clara",
        "Ana",
        "Zé Ana Ana",
        "Ana Clara",  # the same name twice: the id breaks the tie
        "Mariana Costa",  # "ana" inside a word: partial matching only
    ]
    patients = [await _register(sql_uow, clinic, name=name) for name in names]
    inactive = patients[8]  # Gustavo Ana: with active patients only, he drops out of the candidates
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        marked = await tx.patients.get(inactive.id)
        assert marked is not None
        marked.status = PatientStatus.INACTIVE
        assert await tx.patients.save(marked)
        await tx.commit()
    statuses = {p.id: PatientStatus.INACTIVE if p.id == inactive.id else p.status for p in patients}

    def expected(given: SearchInput) -> list[str]:
        query, _ = parse_search(given).unwrap()
        matching = []
        for p in patients:
            terms = p.search_terms()
            by_words = all(any(t.startswith(w) for t in terms) for w in query.words)
            by_infix = bool(query.infix) and re.search(
                ".*".join(re.escape(w) for w in (query.infix or "").split()), p.search_name
            )
            wanted_status = query.status is None or statuses[p.id] is query.status
            if (by_words or by_infix) and wanted_status:
                matching.append(p)
        return [str(p.id) for p in sorted(matching, key=lambda p: (p.search_name, p.id))]

    for given in (
        SearchInput(q="ana"),
        SearchInput(q="ana", status="active"),
        SearchInput(q="ana clara"),
        SearchInput(q="an cl"),
        SearchInput(q="costa"),
        SearchInput(q="ana", partial=True),
        SearchInput(q="nonexistent"),
    ):
        for walk, batch in ((3, 2), (3, 1), (1000, None), (1, 100)):
            query, page = parse_search(replace(given, limit=2)).unwrap()
            seen: list[str] = []
            async with sql_uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as tx:
                repository = SqlPatientRepository(
                    tx._db, postgres=tx.patients._postgres, walk=walk, batch=batch
                )
                while True:
                    found = await repository.search(query, page)
                    seen.extend(str(p.id) for p in found[:2])
                    if len(found) <= 2:
                        break
                    last = found[1]
                    page = SearchPage(SearchCursor(last.search_name, last.id, MatchMode.PREFIX), 2)
            assert seen == expected(given), (given, walk, batch)


async def test_infix_function_beyond_its_walk_and_after_a_cursor(
    pg_app_engine: AsyncEngine, pg_owner_engine: AsyncEngine
) -> None:
    """A clinic of 10,200 patients, most of the matches past the first 10,000 names: the infix function
    walks 10,000 names, then goes by the trigram index, and returns what LIKE over the clinic finds, in
    name order, from any cursor (walk or trigram branch alike); nothing of another clinic."""
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic = await sign_up(uow, "Clínica Enorme")
    other = await sign_up(uow, "Vizinha Enorme")
    async with pg_owner_engine.connect() as connection:
        for tenant, count, name in (
            (
                clinic.tenant.id,
                10_050,
                "'aaa ' || CASE WHEN i % 500 = 0 THEN 'maria ' ELSE '' END || lpad(i::text, 5, '0')",
            ),
            (clinic.tenant.id, 150, "'zz rosaria lima ' || lpad(i::text, 5, '0')"),
            (other.tenant.id, 30, "'aaa maria ' || i"),
        ):
            await connection.execute(
                text(
                    "INSERT INTO patients (tenant_id, id, kind, name, search_name, sex, phones, emails,"
                    f" allergies, status, tags, version, created_at, updated_at) SELECT :t, gen_random_uuid(),"
                    f" 'person', {name}, {name}, 'unknown', '[]', '[]', '[]', 'active', '[]', 1, now(), now()"
                    " FROM generate_series(1, :n) AS i"
                ),
                {"t": tenant, "n": count},
            )
        await connection.commit()
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(clinic.tenant.id)}
        )
        expected = [
            tuple(row)
            for row in await connection.execute(
                text(
                    "SELECT id, search_name FROM patients WHERE search_name LIKE '%aria%' ORDER BY search_name, id"
                )
            )
        ]
        assert len(expected) == 20 + 150

        async def infix(lim: int, after: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
            cursor = {"n": after[1], "i": after[0]} if after else {"n": None, "i": None}
            rows = await connection.execute(
                text("SELECT id, search_name FROM clinic_patient_infix_search('aria', :lim, :n, :i)"),
                {"lim": lim, **cursor},
            )
            return [tuple(row) for row in rows]

        assert await infix(50) == expected[:50]  # 20 in the walk: the trigram branch
        assert await infix(1000, expected[9]) == expected[10:]  # after a cursor, trigram branch
        assert await infix(1000, expected[49]) == expected[50:]  # fewer than 10,000 left: the walk
        assert await infix(5) == expected[:5]  # the walk fills it
