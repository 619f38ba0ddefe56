"""Patient search at scale on PostgreSQL: name prefix and partial-name queries, as the API runs them.

    uv run --all-packages python -m benchmarks.patient_search --tenants 1 --patients 1000000
    uv run --all-packages python -m benchmarks.patient_search --tenants 100 --patients 10000

``--patients`` is the count per clinic (tenant). The script creates its own database on the PostgreSQL
named by CLINIC_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres, a superuser:
migrations run as it, and it bulk-loads), migrates it, creates a login role that is a member of
``clinic_app`` (as ``clinic-admin create-db-login`` does), signs the clinics up through the product's
``SignUp``, and then:

1. generates Brazilian-looking patients (people with two to four name words, accents and all; some
   animals with pet names; valid CPFs, mobile phones, e-mails, addresses) as the product's ``Patient``
   aggregates, and COPYs into ``patients``, ``patient_identifiers`` and ``patient_search_terms`` exactly
   the rows the SQL repository writes for them (``patient_row``, ``identifier_rows``,
   ``search_term_rows`` from ``clinic_infra.db.patient_repositories``). The keys and indexes of those
   tables are dropped for the load and rebuilt from their own definitions after it (as a restore does),
   then the tables are vacuumed and analysed, as autovacuum would after such inserts;
2. runs, as the app role (row-level security on), a few hundred queries of each kind drawn from a
   seeded list, after a warm-up: through the ``SearchPatients`` use case (what the API runs: the search,
   one access-log row per patient returned, COMMIT) and through the repository's ``search`` alone in a
   read-only unit of work. Page size 20. In a multi-clinic run each query picks a clinic at random;
3. prints the percentiles, the dataset's size on disk, and EXPLAIN (ANALYZE, BUFFERS) of one prefix
   and one partial query as the app role (and of the statement ``clinic_patient_infix_search`` runs
   inside, which EXPLAIN of the caller does not show).

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.patients.model import (
    Identifier,
    Microchip,
    Patient,
    PatientAddress,
    PatientId,
    PatientKind,
    Sex,
    Species,
    fold,
)
from clinic_core.patients.search import SearchInput, parse_search
from clinic_core.patients.use_cases import SearchPatients
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import TenantId
from clinic_core.shared.values import CPF, Email, PersonName, Phone
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher
from clinic_infra.db import patient_tables as pt
from clinic_infra.db.engine import create_engine
from clinic_infra.db.migrate import upgrade
from clinic_infra.db.patient_repositories import identifier_rows, patient_row, search_term_rows
from clinic_infra.db.roles import create_login_role
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory

ADMIN_URL = os.environ.get("CLINIC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_LOGIN = "clinic_bench_search_app"
PAGE_SIZE = 20
LOADED_TABLES = ("patients", "patient_identifiers", "patient_search_terms")

# --- names -----------------------------------------------------------------------------------------------
# Listed from the most to the least common; drawn with Zipf-like weights (1/rank), so that Maria, José,
# Silva and Santos are as crowded as in a Brazilian clinic's records.

FEMALE = [
    "Maria",
    "Ana",
    "Francisca",
    "Antônia",
    "Adriana",
    "Juliana",
    "Márcia",
    "Fernanda",
    "Patrícia",
    "Aline",
    "Sandra",
    "Camila",
    "Amanda",
    "Bruna",
    "Jéssica",
    "Letícia",
    "Júlia",
    "Luciana",
    "Vanessa",
    "Mariana",
    "Gabriela",
    "Conceição",
    "Beatriz",
    "Larissa",
    "Rafaela",
    "Cláudia",
    "Lúcia",
    "Helena",
    "Alice",
    "Valentina",
    "Sofia",
    "Laura",
    "Isabela",
    "Manuela",
    "Luíza",
    "Heloísa",
    "Lívia",
    "Cecília",
    "Raimunda",
    "Rosângela",
    "Tânia",
    "Vitória",
    "Débora",
    "Priscila",
    "Simone",
    "Sônia",
    "Regina",
    "Natália",
    "Carolina",
    "Giovana",
]
MALE = [
    "José",
    "João",
    "Antônio",
    "Francisco",
    "Carlos",
    "Paulo",
    "Pedro",
    "Lucas",
    "Luiz",
    "Marcos",
    "Luís",
    "Gabriel",
    "Rafael",
    "Daniel",
    "Marcelo",
    "Bruno",
    "Eduardo",
    "Felipe",
    "Raimundo",
    "Rodrigo",
    "Manoel",
    "Mateus",
    "André",
    "Fernando",
    "Fábio",
    "Leonardo",
    "Gustavo",
    "Guilherme",
    "Leandro",
    "Tiago",
    "Anderson",
    "Ricardo",
    "Márcio",
    "Jorge",
    "Sebastião",
    "Alexandre",
    "Roberto",
    "Edson",
    "Diego",
    "Vítor",
    "Sérgio",
    "Cláudio",
    "Matheus",
    "Heitor",
    "Miguel",
    "Arthur",
    "Davi",
    "Bernardo",
    "Samuel",
    "Benício",
    "Joaquim",
    "Caio",
    "Otávio",
]
SURNAMES = [
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
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Lopes",
    "Soares",
    "Fernandes",
    "Vieira",
    "Barbosa",
    "Rocha",
    "Dias",
    "Nascimento",
    "Andrade",
    "Moreira",
    "Nunes",
    "Marques",
    "Machado",
    "Mendes",
    "Freitas",
    "Cardoso",
    "Ramos",
    "Gonçalves",
    "Santana",
    "Teixeira",
    "Araújo",
    "Conceição",
    "Jesus",
    "Magalhães",
    "Brandão",
    "Monteiro",
    "Castro",
    "Correia",
    "Pinto",
    "Cavalcanti",
    "Batista",
    "Moura",
    "Campos",
    "Borges",
    "Cunha",
    "Azevedo",
    "Medeiros",
    "Barros",
    "Peixoto",
    "Tavares",
    "Queiroz",
    "Xavier",
    "Nogueira",
    "Siqueira",
    "Bezerra",
    "Macedo",
    "Sampaio",
    "Figueiredo",
    "Brito",
    "Pacheco",
    "Fonseca",
    "Guimarães",
    "Falcão",
    "Simões",
    "Assunção",
    "Romão",
    "Aragão",
    "Mourão",
    "Damasceno",
    "Estêvão",
    "Sá",
    "Félix",
    "Patrício",
]
CONNECTOR = {"Silva": "da", "Conceição": "da", "Costa": "da", "Rocha": "da", "Cunha": "da", "Santos": "dos"}
CONNECTOR |= dict.fromkeys(("Souza", "Oliveira", "Almeida", "Jesus", "Andrade", "Carvalho", "Freitas"), "de")
PETS = [
    "Thor",
    "Mel",
    "Luna",
    "Bob",
    "Nina",
    "Pipoca",
    "Frida",
    "Max",
    "Bidu",
    "Amora",
    "Paçoca",
    "Belinha",
    "Toddy",
    "Lola",
    "Pretinha",
    "Fred",
    "Kiara",
    "Simba",
    "Théo",
    "Lupita",
    "Cacau",
    "Brisa",
    "Zeus",
    "Tobias",
    "Chico",
    "Sushi",
    "Jade",
    "Bolinha",
    "Pandora",
    "Bento",
    "Safira",
    "Mingau",
    "Floquinho",
    "Pérola",
    "Açaí",
    "Princesa",
    "Marley",
    "Pingo",
    "Café",
    "Bartô",
    "Jujuba",
    "Nescau",
    "Tigrão",
    "Mimi",
    "Faísca",
    "Estopinha",
]
SPECIES = (Species.DOG, Species.CAT, Species.BIRD, Species.RABBIT, Species.RODENT)
SPECIES_WEIGHTS = (60, 30, 4, 3, 3)
CITIES = (
    ("São Paulo", "SP"),
    ("Rio de Janeiro", "RJ"),
    ("Belo Horizonte", "MG"),
    ("Curitiba", "PR"),
    ("Salvador", "BA"),
    ("Fortaleza", "CE"),
    ("Recife", "PE"),
    ("Porto Alegre", "RS"),
)
AREA_CODES = (11, 21, 31, 41, 71, 85, 81, 51, 61, 62, 19, 27)


def _zipf(count: int) -> list[float]:
    return [1 / (rank + 1) for rank in range(count)]


_W_FEMALE, _W_MALE, _W_SURNAMES, _W_PETS = (_zipf(len(x)) for x in (FEMALE, MALE, SURNAMES, PETS))


def _cpf(base: int) -> CPF | None:
    """The CPF whose first nine digits are ``base`` (check digits computed), or None for the invalid few."""
    digits = [int(c) for c in f"{base:09d}"]
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    value = "".join(map(str, digits))
    return None if CPF.problem(value) else CPF(value)


def _person_name(rng: random.Random, sex: Sex) -> tuple[str, list[str]]:
    """A name of two to four words (connectors aside) and its surnames."""
    names, weights = (FEMALE, _W_FEMALE) if sex is Sex.FEMALE else (MALE, _W_MALE)
    words = [rng.choices(names, weights)[0]]
    if rng.random() < 0.25:  # Maria Eduarda, João Pedro
        second = rng.choices(names, weights)[0]
        if second != words[0]:
            words.append(second)
    surnames: list[str] = []
    for _ in range(rng.choice((1, 2, 2, 3)) if len(words) == 1 else rng.choice((1, 1, 2))):
        surname = rng.choices(SURNAMES, _W_SURNAMES)[0]
        if surname not in surnames:
            surnames.append(surname)
    for surname in surnames:
        if surname in CONNECTOR and rng.random() < 0.35:
            words.append(CONNECTOR[surname])
        words.append(surname)
    return " ".join(words), surnames


def _phone(rng: random.Random) -> Phone:
    return Phone(f"+55{rng.choice(AREA_CODES)}9{rng.randint(6000, 9999)}{rng.randint(0, 9999):04d}")


def generate_patients(tenant_id: TenantId, count: int, seed: int) -> Iterator[Patient]:
    """``count`` patients of one clinic: about 85 % people, 15 % animals, the same for the same seed."""
    rng = random.Random(seed)
    cpf_bases = iter(rng.sample(range(10**9), count))  # distinct: a CPF is unique in a clinic
    chips = iter(rng.sample(range(10**8), count))
    rgs = iter(rng.sample(range(10**8), count))
    today = date(2026, 11, 1)
    start = datetime(2016, 1, 1, tzinfo=UTC)
    for _ in range(count):
        created = start + timedelta(seconds=rng.randint(0, 10 * 365 * 86400))
        pid = PatientId(uuid.UUID(int=rng.getrandbits(128), version=4))
        base: dict[str, Any] = {
            "tenant_id": tenant_id,
            "id": pid,
            "created_at": created,
            "updated_at": created,
        }
        if rng.random() < 0.15:
            pet = rng.choices(PETS, _W_PETS)[0]
            name = f"{pet} {rng.choices(SURNAMES, _W_SURNAMES)[0]}" if rng.random() < 0.6 else pet
            species = rng.choices(SPECIES, SPECIES_WEIGHTS)[0]
            chip = next(chips)
            yield Patient(
                **base,
                kind=PatientKind.ANIMAL,
                name=PersonName(name),
                sex=rng.choice((Sex.FEMALE, Sex.MALE)),
                birth_date=today - timedelta(days=rng.randint(30, 18 * 365)),
                species=species,
                neutered=rng.random() < 0.5,
                microchip=None if rng.random() < 0.6 or species is not Species.DOG else _chip(chip),
            )
            continue
        sex = Sex.FEMALE if rng.random() < 0.55 else Sex.MALE
        name, surnames = _person_name(rng, sex)
        phones = [_phone(rng)] if rng.random() < 0.9 else []
        if phones and rng.random() < 0.2:
            phones.append(_phone(rng))
        email = fold(f"{name.split()[0]}.{surnames[-1]}{rng.randint(1, 999)}@example.com").replace(" ", "")
        city, state = rng.choice(CITIES)
        yield Patient(
            **base,
            kind=PatientKind.PERSON,
            name=PersonName(name),
            social_name=PersonName(rng.choice(FEMALE + MALE)) if rng.random() < 0.01 else None,
            sex=sex,
            birth_date=today - timedelta(days=rng.randint(0, 90 * 365)),
            phones=tuple(phones),
            emails=(Email(email),) if rng.random() < 0.6 else (),
            address=PatientAddress(
                street=f"Rua {rng.choices(SURNAMES, _W_SURNAMES)[0]}",
                number=str(rng.randint(1, 3000)),
                city=city,
                state=state,
                postal_code=f"{rng.randint(10000, 99999)}-{rng.randint(0, 999):03d}",
            )
            if rng.random() < 0.7
            else None,
            cpf=_cpf(next(cpf_bases)) if rng.random() < 0.85 else None,
            identifiers=(Identifier("rg", f"{next(rgs):08d}-{rng.randint(0, 9)}"),)
            if rng.random() < 0.3
            else (),
        )


def _chip(n: int) -> Microchip:
    return Microchip(f"9860000{n:08d}")


# --- the database ----------------------------------------------------------------------------------------


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Database:
    owner_url: str
    app_url: str
    name: str


@contextmanager
def database(admin_url: str = ADMIN_URL, *, keep: bool = False) -> Iterator[Database]:
    """A new database, migrated as the owner, with an app login role; dropped at the end unless ``keep``."""
    name = f"clinic_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(admin_url)
    with psycopg.connect(_plain(admin_url), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    owner = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(owner)
        create_login_role(owner, APP_LOGIN, None)
        app = admin.set(database=name, username=APP_LOGIN, password=None).render_as_string(
            hide_password=False
        )
        yield Database(owner, app, name)
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(_plain(admin_url), autocommit=True) as connection:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


async def sign_up_clinics(engine: AsyncEngine, count: int) -> list[Actor]:
    """``count`` clinics signed up through the product's use case; their owners, as actors."""
    sign_up = SignUp(SqlUnitOfWorkFactory(engine), FakePasswordHasher(), SystemClock())
    actors = []
    for n in range(count):
        command = SignUpCommand(
            tenant_name=f"Clínica {n:03d}",
            unit_name="Centro",
            timezone="America/Sao_Paulo",
            owner_name="Dona da Clínica",
            email=f"bench-{n}-{uuid.uuid4().hex[:8]}@example.com",
            password="benchmark password 2026",
        )
        clinic = (await sign_up(command)).unwrap()
        actors.append(
            Actor(
                user_id=clinic.owner.id,
                tenant_id=clinic.tenant.id,
                roles=frozenset({Role.OWNER}),
                unit_ids=frozenset(),
            )
        )
    return actors


# --- loading ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadReport:
    patients: int
    identifiers: int
    terms: int
    seconds: float
    """Generating, COPY, rebuilding keys and indexes."""
    index_seconds: float
    analyse_seconds: float


_DEFINITIONS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
  FROM pg_constraint c
 WHERE c.contype IN ('p', 'u', 'f')
   AND (c.conrelid = ANY(%(tables)s::regclass[]) OR c.confrelid = ANY(%(tables)s::regclass[]))
 ORDER BY 1, 2
"""
_PLAIN_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
  FROM pg_index i
 WHERE i.indrelid = ANY(%(tables)s::regclass[])
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))
 ORDER BY 1
"""


def schema_of(
    connection: psycopg.Connection[Any],
) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str]]]:
    """The keys (primary, unique, foreign: to and from the loaded tables) and plain indexes."""
    tables = list(LOADED_TABLES)
    keys = [tuple(row) for row in connection.execute(_DEFINITIONS, {"tables": tables})]
    indexes = [tuple(row) for row in connection.execute(_PLAIN_INDEXES, {"tables": tables})]
    return keys, indexes


def _columns(table: Any) -> tuple[list[str], list[bool]]:
    return [c.name for c in table.columns], [isinstance(c.type, JSON) for c in table.columns]


def _copy(connection: psycopg.Connection[Any], table: Any, rows: list[dict[str, Any]]) -> None:
    names, json_columns = _columns(table)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with connection.cursor().copy(statement) as copy:
        for row in rows:
            # JSON columns as the repository's SQLAlchemy JSON type writes them (None is JSON null).
            copy.write_row(
                [Jsonb(row[n]) if is_json else row[n] for n, is_json in zip(names, json_columns, strict=True)]
            )


def load(
    owner_url: str, clinics: Sequence[TenantId], per_clinic: int, seed: int, batch: int = 20_000
) -> LoadReport:
    """Generate ``per_clinic`` patients for each clinic and COPY them in as the owner, keys and indexes
    dropped during the load and rebuilt after it from their definitions; then VACUUM (ANALYZE)."""
    started = time.perf_counter()
    counts = [0, 0, 0]
    with psycopg.connect(_plain(owner_url)) as connection:
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute("SET synchronous_commit = off")
        keys, indexes = schema_of(connection)
        for table, name, _kind, _definition in sorted(keys, key=lambda k: k[2] != "f"):  # foreign first
            connection.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
            )
        for name, _definition in indexes:
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        connection.commit()
        for number, tenant_id in enumerate(clinics):
            pending: list[Patient] = []
            for patient in generate_patients(tenant_id, per_clinic, seed * 1_000_003 + number):
                pending.append(patient)
                if len(pending) >= batch:
                    _write(connection, tenant_id, pending, counts)
                    pending = []
                    if counts[0] % 100_000 == 0:
                        print(f"  {counts[0]:,} patients, {time.perf_counter() - started:.0f} s", flush=True)
            _write(connection, tenant_id, pending, counts)
            connection.commit()
        indexing = time.perf_counter()
        for table, name, _kind, definition in sorted(keys, key=lambda k: k[2] == "f"):  # foreign last
            connection.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.Identifier(table),
                    sql.Identifier(name),
                    sql.SQL(definition),
                )
            )
            connection.commit()
        for _name, definition in indexes:
            connection.execute(sql.SQL(definition))
            connection.commit()
        if schema_of(connection) != (keys, indexes):
            raise RuntimeError("the keys and indexes rebuilt differ from the migrated ones")
        connection.commit()
        analysing = time.perf_counter()
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE) patients, patient_identifiers, patient_search_terms")
        done = time.perf_counter()
    return LoadReport(counts[0], counts[1], counts[2], done - started, analysing - indexing, done - analysing)


def _write(
    connection: psycopg.Connection[Any], tenant_id: TenantId, patients: list[Patient], counts: list[int]
) -> None:
    rows = [patient_row(tenant_id, p) for p in patients]
    identifiers = [row for p in patients for row in identifier_rows(tenant_id, p)]
    terms = [row for p in patients for row in search_term_rows(tenant_id, p)]
    _copy(connection, pt.patients, rows)
    if identifiers:
        _copy(connection, pt.patient_identifiers, identifiers)
    _copy(connection, pt.patient_search_terms, terms)
    counts[0] += len(rows)
    counts[1] += len(identifiers)
    counts[2] += len(terms)


def table_sizes(owner_url: str) -> dict[str, int]:
    """pg_total_relation_size (table, TOAST and indexes) of each loaded table, in bytes."""
    with psycopg.connect(_plain(owner_url)) as connection:
        rows = connection.execute(
            "SELECT t, pg_total_relation_size(t::regclass) FROM unnest(%s::text[]) AS t",
            (list(LOADED_TABLES),),
        )
        return {str(table): int(size) for table, size in rows}


# --- queries ---------------------------------------------------------------------------------------------


def query_lists(seed: int) -> dict[str, list[tuple[str, bool]]]:
    """The queries of each kind, as a receptionist types them: ``(q, partial)``."""
    rng = random.Random(seed)
    common = FEMALE[:12] + MALE[:12] + SURNAMES[:24]
    rarer = FEMALE[30:] + MALE[35:] + SURNAMES[60:]
    one = [w[:3] for w in common] + [w[:4] for w in rng.sample(rarer, 12)]
    one += ["Maria", "José", "Conceição", "Araújo", "Gonçalves", "thor", "mel"]
    two = [
        f"{rng.choice(FEMALE[:20] + MALE[:20])[: rng.choice((3, 4))]} {rng.choice(SURNAMES[:40])[:3]}"
        for _ in range(30)
    ]
    two += ["mar sil", "jos san", "ana oli", "Maria Conceição", "joão pedro"]
    long_words = [w for w in FEMALE + MALE + SURNAMES if len(w) >= 6]
    partial = ["ilva", "ceição", "ntos", "veira", "raújo", "rreira", "ouza", "arques", "ria sil", "ão pe"]
    for word in rng.sample(long_words, 30):
        start = rng.randint(1, len(word) - 4)
        partial.append(word[start : start + rng.choice((4, 5))])
    return {
        "prefix, one word": [(q, False) for q in dict.fromkeys(one)],
        "prefix, two words": [(q, False) for q in dict.fromkeys(two)],
        "partial (partial=true)": [(q, True) for q in dict.fromkeys(partial)],
    }


@dataclass
class Timings:
    kind: str
    path: str
    ms: list[float] = field(default_factory=list)
    results: int = 0
    switched_to_partial: int = 0

    def summary(self) -> dict[str, float]:
        cuts = statistics.quantiles(self.ms, n=100, method="inclusive")
        return {
            "n": len(self.ms),
            "p50": cuts[49],
            "p95": cuts[94],
            "p99": cuts[98],
            "qps": len(self.ms) / (sum(self.ms) / 1000),
            "mean_results": self.results / len(self.ms),
        }


async def search_use_case(uow: SqlUnitOfWorkFactory, actor: Actor, q: str, partial: bool) -> tuple[int, bool]:
    """One search as the API runs it: (patients returned, whether it was answered by partial matching)."""
    result = (
        await SearchPatients(uow, SystemClock())(actor, SearchInput(q=q, partial=partial, limit=PAGE_SIZE))
    ).unwrap()
    return len(result.items), result.mode.value == "partial"


async def search_repository(uow: SqlUnitOfWorkFactory, actor: Actor, q: str, partial: bool) -> int:
    """The repository's search alone, in a read-only unit of work (no access log, no fallback)."""
    query, page = parse_search(SearchInput(q=q, partial=partial, limit=PAGE_SIZE)).unwrap()
    async with uow(Scope(tenant_id=actor.tenant_id), read_only=True) as tx:
        return len(await tx.patients.search(query, page))


async def measure(
    engine: AsyncEngine,
    actors: Sequence[Actor],
    queries: dict[str, list[tuple[str, bool]]],
    *,
    per_kind: int,
    warmup: int,
    seed: int,
) -> list[Timings]:
    """Every kind through the use case and through the repository, the same seeded draw for both."""
    uow = SqlUnitOfWorkFactory(engine)
    rng = random.Random(seed)
    plans = {
        kind: [(rng.choice(actors), *rng.choice(pool)) for _ in range(per_kind + warmup)]
        for kind, pool in queries.items()
    }
    out = []
    for kind, drawn in plans.items():
        for path in ("use case", "repository"):
            timings = Timings(kind, path)
            for n, (actor, q, partial) in enumerate(drawn):
                began = time.perf_counter()
                if path == "use case":
                    found, switched = await search_use_case(uow, actor, q, partial)
                else:
                    found, switched = await search_repository(uow, actor, q, partial), False
                elapsed = (time.perf_counter() - began) * 1000
                if n >= warmup:
                    timings.ms.append(elapsed)
                    timings.results += min(found, PAGE_SIZE)
                    timings.switched_to_partial += switched and not partial
            out.append(timings)
    return out


INFIX_INNER = (
    "SELECT id FROM public.patients"
    " WHERE tenant_id = nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid"
    "   AND search_name LIKE %(pattern)s"
    " ORDER BY search_name, id LIMIT 1000"
)
"""The statement clinic_patient_infix_search (migration 0007) runs, as its owner, for one word."""


async def explain(engine: AsyncEngine, owner_url: str, actor: Actor, q: str, partial: bool) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the repository's search statement, as the app role under RLS; for a
    partial query, also of the statement the infix function runs inside (as the owner, like it)."""
    query, page = parse_search(SearchInput(q=q, partial=partial, limit=PAGE_SIZE)).unwrap()
    async with SqlUnitOfWorkFactory(engine)(Scope(tenant_id=actor.tenant_id), read_only=True) as tx:
        statement = tx.patients.search_statement(query, page)
        compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        connection = await tx.connection()
        result = await connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))
        plan = "\n".join(row[0] for row in result)
    if query.infix:
        pattern = "%" + "%".join(query.infix.split()) + "%"
        with psycopg.connect(_plain(owner_url)) as owner:
            owner.execute("SELECT set_config('app.tenant_id', %s, false)", (str(actor.tenant_id),))
            inner = owner.execute(
                sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + sql.SQL(INFIX_INNER),
                {"pattern": pattern},
            )
            plan += "\n-- inside clinic_patient_infix_search, as its owner:\n"
            plan += "\n".join(row[0] for row in inner)
    return plan


# --- the run ---------------------------------------------------------------------------------------------


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


async def run(db: Database, args: argparse.Namespace) -> None:
    engine = create_engine(db.app_url, pool_size=2)
    try:
        actors = await sign_up_clinics(engine, args.tenants)
        print(f"loading {args.tenants} x {args.patients:,} patients …", flush=True)
        report = load(db.owner_url, [a.tenant_id for a in actors], args.patients, args.seed)
        sizes = table_sizes(db.owner_url)
        print(
            f"loaded {report.patients:,} patients, {report.terms:,} search terms, {report.identifiers:,} "
            f"identifiers in {report.seconds:.0f} s (of which keys and indexes {report.index_seconds:.0f} s, "
            f"VACUUM ANALYZE {report.analyse_seconds:.0f} s)"
        )
        for table, size in sizes.items():
            print(f"  {table}: {_mib(size)}")
        print(f"  together: {_mib(sum(sizes.values()))}")
        queries = query_lists(args.seed)
        timings = await measure(
            engine, actors, queries, per_kind=args.queries, warmup=args.warmup, seed=args.seed
        )
        print(
            f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"{args.tenants} clinic(s) x {args.patients:,} patients; {args.queries} queries per row after "
            f"{args.warmup} of warm-up; page size {PAGE_SIZE}; one connection, one query at a time\n"
        )
        print("| query kind | path | p50 ms | p95 ms | p99 ms | queries/s | patients per page |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for t in timings:
            s = t.summary()
            note = f" ({t.switched_to_partial} switched to partial)" if t.switched_to_partial else ""
            print(
                f"| {t.kind} | {t.path}{note} | {s['p50']:.2f} | {s['p95']:.2f} | {s['p99']:.2f} "
                f"| {s['qps']:,.0f} | {s['mean_results']:.1f} |"
            )
        actor = actors[0]
        for q, partial in (("mar sil", False), ("ilva", True)):
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) q={q!r} partial={partial}, as the app role:")
            print(await explain(engine, db.owner_url, actor, q, partial))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=10_000, help="patients per clinic")
    parser.add_argument("--tenants", type=int, default=1, help="clinics")
    parser.add_argument("--queries", type=int, default=300, help="measured queries per kind and path")
    parser.add_argument("--warmup", type=int, default=50, help="queries per kind and path not measured")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    with database(keep=args.keep) as db:
        asyncio.run(run(db, args))


if __name__ == "__main__":
    main()
