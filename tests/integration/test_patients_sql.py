"""Patients over the SQL adapters, on PostgreSQL (as the app role) and SQLite: round trips, unique values,
optimistic concurrency, weights, tenant isolation and the append-only access log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Insert, insert, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope, UniqueViolation
from clinic_core.patients.model import (
    Allergy,
    AllergySeverity,
    Identifier,
    Microchip,
    Patient,
    PatientAddress,
    PatientStatus,
    PatientWeight,
    Sex,
    Species,
    WeightId,
)
from clinic_core.shared.ids import new_uuid
from clinic_core.shared.values import CPF, Email, PersonName, Phone
from clinic_core.tenancy.model import Locale
from clinic_core.testing import a_person, an_animal
from clinic_infra.db import patient_tables as pt
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
VALID_CPF = "52998224725"


async def test_a_person_and_an_animal_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    tenant = clinic.tenant.id
    person = a_person(
        tenant,
        "Maria José da Conceição",
        social_name=PersonName("Zezé"),
        sex=Sex.FEMALE,
        birth_date=date(1980, 7, 1),
        birth_date_estimated=True,
        phones=(Phone("+5511987654321"),),
        emails=(Email("maria@example.com"),),
        address=PatientAddress(
            street="Rua Augusta",
            number="100",
            complement="ap 3",
            district="Consolação",
            city="São Paulo",
            state="SP",
            postal_code="01304-000",
        ),
        allergies=(Allergy("dipirona", "urticária", AllergySeverity.SEVERE),),
        notes="prefere manhãs",
        tags=frozenset({"vip", "retorno"}),
        cpf=CPF(VALID_CPF),
        identifiers=(Identifier("rg", "12.345.678-9"), Identifier("external:vetsoft", "A-1")),
        unit_id=clinic.unit.id,
        user_id=clinic.owner.id,
    )
    dog = an_animal(
        tenant, "Thor", Species.DOG, breed="SRD", coat="caramelo", neutered=True,
        microchip=Microchip("985112345678901"),
    )  # fmt: skip
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(person)
        await tx.patients.add(dog)
        await tx.commit()
    async with sql_uow(Scope(tenant_id=tenant), read_only=True) as tx:
        got = await tx.patients.get(person.id)
        got_dog = await tx.patients.get(dog.id)
        by_cpf = await tx.patients.find_by_cpf(CPF(VALID_CPF))
        by_rg = await tx.patients.find_by_identifier("rg", "12.345.678-9")
        by_chip = await tx.patients.find_by_microchip(Microchip("985112345678901"))
        by_user = await tx.patients.find_by_user(clinic.owner.id)
        many = await tx.patients.get_many(frozenset({person.id, dog.id}))
    assert got is not None
    assert got_dog is not None
    for field in (
        "kind", "name", "social_name", "sex", "birth_date", "birth_date_estimated", "phones", "emails",
        "address", "allergies", "notes", "status", "tags", "cpf", "unit_id", "user_id", "version",
        "created_at", "updated_at",
    ):  # fmt: skip
        assert getattr(got, field) == getattr(person, field), field
    assert set(got.identifiers) == set(person.identifiers)
    for field in ("species", "breed", "coat", "neutered", "microchip"):
        assert getattr(got_dog, field) == getattr(dog, field), field
    assert {p.id for p in (by_cpf, by_rg, by_user) if p} == {person.id}
    assert by_chip is not None
    assert by_chip.id == dog.id
    assert set(many) == {person.id, dog.id}


@pytest.mark.parametrize("which", ["cpf", "microchip", "identifier", "user"])
async def test_unique_values_are_unique_per_tenant(sql_uow: SqlUnitOfWorkFactory, which: str) -> None:
    clinic, other = await sign_up(sql_uow), await sign_up(sql_uow, "Outra")

    def make(tenant: str) -> Patient:
        t = clinic.tenant.id if tenant == "a" else other.tenant.id
        if which == "cpf":
            return a_person(t, cpf=CPF(VALID_CPF))
        if which == "microchip":
            return an_animal(t, microchip=Microchip("985112345678901"))
        if which == "identifier":
            return a_person(t, identifiers=(Identifier("mrn", "7"),))
        return a_person(t, user_id=clinic.owner.id)

    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        await tx.patients.add(make("a"))
        await tx.commit()
    async with sql_uow(Scope(tenant_id=other.tenant.id)) as tx:  # the same value in another clinic: fine
        await tx.patients.add(make("b"))
        await tx.commit()
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        with pytest.raises(UniqueViolation) as raised:
            await tx.patients.add(make("a"))
    assert (
        raised.value.constraint
        == {
            "cpf": "uq_patients_tenant_id_cpf",
            "microchip": "uq_patients_tenant_id_microchip",
            "identifier": "uq_patient_identifiers_tenant_id_system_value",
            "user": "uq_patients_tenant_id_user_id",
        }[which]
    )


async def test_save_writes_over_the_version_read_and_rewrites_identifiers(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    clinic = await sign_up(sql_uow)
    tenant = clinic.tenant.id
    person = a_person(tenant, identifiers=(Identifier("rg", "1"),))
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(person)
        await tx.commit()
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        loaded = await tx.patients.get(person.id)
        assert loaded is not None
        loaded.change(T0, identifiers=(Identifier("rg", "2"),), name=PersonName("Maria Souza"))
        assert await tx.patients.save(loaded) is True
        assert loaded.version == 2
        await tx.commit()
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        person.change(T0, notes="stale")  # read at version 1
        assert await tx.patients.save(person) is False
        assert await tx.patients.find_by_identifier("rg", "1") is None
        found = await tx.patients.find_by_identifier("rg", "2")
        assert found is not None
        assert found.name.value == "Maria Souza"
        assert found.notes is None
        st = pt.patient_search_terms
        found_terms = (
            await tx._db.execute(
                select(st.c.term).where(st.c.tenant_id == tenant, st.c.patient_id == person.id)
            )
        ).scalars()
        assert set(found_terms) == {"maria", "souza"}


async def test_deceased_and_weights(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    tenant = clinic.tenant.id
    cat = an_animal(tenant, "Mia", Species.CAT)
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(cat)
        for days, kg in ((2, "4.125"), (0, "3.9"), (1, "4.0")):
            await tx.patients.add_weight(
                PatientWeight(
                    tenant_id=tenant, id=WeightId(new_uuid()), patient_id=cat.id, kg=Decimal(kg),
                    measured_at=T0 + timedelta(days=days), recorded_by=clinic.owner.id, created_at=T0,
                )
            )  # fmt: skip
        cat.change(T0, status=PatientStatus.DECEASED, deceased_at=T0 + timedelta(days=3))
        assert await tx.patients.save(cat)
        await tx.commit()
    async with sql_uow(Scope(tenant_id=tenant), read_only=True) as tx:
        first = await tx.patients.weights(cat.id, PageRequest(limit=2))
        rest = await tx.patients.weights(cat.id, PageRequest(after=first.next_after, limit=2))
        stored = await tx.patients.get(cat.id)
    assert [w.kg for w in first.items] == [Decimal("4.125"), Decimal("4.000")]
    assert [w.kg for w in rest.items] == [Decimal("3.900")]
    assert rest.next_after is None
    assert first.items[0].recorded_by == clinic.owner.id
    assert stored is not None
    assert stored.deceased_at == T0 + timedelta(days=3)


async def test_another_tenant_cannot_read_or_change_a_patient(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic, other = await sign_up(sql_uow), await sign_up(sql_uow, "Outra")
    person = a_person(clinic.tenant.id, cpf=CPF(VALID_CPF))
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        await tx.patients.add(person)
        await tx.commit()
    async with sql_uow(Scope(tenant_id=other.tenant.id)) as tx:
        assert await tx.patients.get(person.id) is None
        assert await tx.patients.find_by_cpf(CPF(VALID_CPF)) is None
        assert await tx.patients.get_many(frozenset({person.id})) == {}
        hijack = a_person(other.tenant.id, id=person.id)
        assert await tx.patients.save(hijack) is False


async def test_the_tenant_setting_persists(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        tenant = await tx.tenants.get(clinic.tenant.id)
        assert tenant is not None
        assert tenant.patients_shared_across_units is True
        assert (tenant.locale, tenant.contact_email) == (Locale.PT_BR, None)
        tenant.patients_shared_across_units = False
        tenant.locale, tenant.contact_email = Locale.EN, Email("contato@clinica.com.br")
        await tx.tenants.save(tenant)
        await tx.commit()
    async with sql_uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as tx:
        tenant = await tx.tenants.get(clinic.tenant.id)
    assert tenant is not None
    assert tenant.patients_shared_across_units is False
    assert (tenant.locale, tenant.contact_email) == (Locale.EN, Email("contato@clinica.com.br"))


# --- PostgreSQL: row-level security as the app role ---------------------------------------------------------

PATIENT_TABLES = (
    "patients",
    "patient_identifiers",
    "patient_weights",
    "patient_search_terms",
    "guardian_links",
    "patient_access_log",
)


async def test_patient_tables_are_invisible_to_another_tenant_as_the_app_role(
    pg_app_engine: AsyncEngine,
) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic, other = await sign_up(uow), await sign_up(uow, "Outra")
    dog = an_animal(clinic.tenant.id, microchip=Microchip("985112345678902"))
    owner = a_person(clinic.tenant.id, cpf=CPF(VALID_CPF), identifiers=(Identifier("rg", "9"),))
    async with uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        await tx.patients.add(dog)
        await tx.patients.add(owner)
        await tx.patients.add_weight(
            PatientWeight(
                tenant_id=clinic.tenant.id, id=WeightId(new_uuid()), patient_id=dog.id, kg=Decimal(30),
                measured_at=T0, recorded_by=None, created_at=T0,
            )
        )  # fmt: skip
        await tx.commit()
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(clinic.tenant.id)}
        )
        await connection.execute(
            text(
                "INSERT INTO guardian_links (tenant_id, patient_id, guardian_id, role, is_primary, created_at)"
                " VALUES (:t, :p, :g, 'owner', true, now())"
            ),
            {"t": clinic.tenant.id, "p": dog.id, "g": owner.id},
        )
        await connection.execute(
            text(
                "INSERT INTO patient_access_log (tenant_id, id, patient_id, action, at)"
                " VALUES (:t, gen_random_uuid(), :p, 'read', now())"
            ),
            {"t": clinic.tenant.id, "p": dog.id},
        )
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(other.tenant.id)}
        )
        for table in PATIENT_TABLES:
            count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, f"{table} showed another tenant's rows"
        none = await connection.execute(text("SELECT * FROM clinic_patient_infix_search('rex', 10)"))
        assert none.all() == []
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(clinic.tenant.id)}
        )
        for table in PATIENT_TABLES:
            count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count >= 1, table
        ids = (
            await connection.execute(text("SELECT * FROM clinic_patient_infix_search('re', 10)"))
        ).scalars()
        assert list(ids) == [dog.id]


@pytest.mark.parametrize(
    "statement", ["UPDATE patient_access_log SET action = 'x'", "DELETE FROM patient_access_log"]
)
async def test_the_access_log_is_append_only_for_the_app_role(
    pg_app_engine: AsyncEngine, statement: str
) -> None:
    async with pg_app_engine.connect() as connection:
        with pytest.raises(ProgrammingError, match="permission denied"):
            await connection.execute(text(statement))


async def test_one_primary_guardian_per_patient_and_not_oneself(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    tenant = clinic.tenant.id
    dog, ana, bia = an_animal(tenant), a_person(tenant, "Ana"), a_person(tenant, "Bia")
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        for patient in (dog, ana, bia):
            await tx.patients.add(patient)
        await tx.commit()

    def link(patient: Patient, guardian: Patient, role: str, primary: bool) -> Insert:
        return insert(pt.guardian_links).values(
            tenant_id=tenant, patient_id=patient.id, guardian_id=guardian.id, role=role,
            is_primary=primary, created_at=T0,
        )  # fmt: skip

    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        await tx._db.execute(link(dog, ana, "owner", True))
        await tx._db.execute(link(dog, bia, "owner", False))
        await tx.commit()
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        with pytest.raises(UniqueViolation):
            await tx._db.execute(link(dog, bia, "emergency_contact", True))
    async with sql_uow(Scope(tenant_id=tenant)) as tx:
        with pytest.raises(IntegrityError):
            await tx._db.execute(link(ana, ana, "owner", False))
