"""The Patient aggregate, its values and search keys, and the in-memory repository's contracts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from returns.result import Failure, Success

from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import NoTenantInScope, Scope, UniqueViolation
from clinic_core.patients.model import (
    Identifier,
    Microchip,
    PatientCreated,
    PatientStatus,
    PatientUpdated,
    PatientWeight,
    WeightId,
    estimated_birth_date,
    fold,
    normalise_tag,
    search_words,
    tags_of,
)
from clinic_core.shared.ids import TenantId, UserId, new_uuid
from clinic_core.shared.values import CPF, PersonName, Phone
from clinic_core.testing import InMemoryUnitOfWorkFactory, a_person, an_animal

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
VALID_CPF = "52998224725"
OTHER_CPF = "11144477735"


def _tenant() -> TenantId:
    return TenantId(new_uuid())


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("José", "jose"),
        ("CONCEIÇÃO", "conceicao"),
        ("Straße", "strasse"),
        ("\uff2d\uff41\uff52\uff49\uff41", "maria"),  # fullwidth letters
    ],
)
def test_fold_drops_accents_case_and_compatibility_forms(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_search_words_split_on_anything_but_letters_and_digits() -> None:
    assert search_words("Maria  da Silva-Sauro d'Ávila") == ["maria", "da", "silva", "sauro", "d", "avila"]


def test_search_terms_hold_names_social_name_cpf_phones_and_microchip() -> None:
    tenant = _tenant()
    person = a_person(
        tenant,
        "José da Silva",
        social_name=PersonName("Zezé"),
        cpf=CPF(VALID_CPF),
        phones=(Phone("+5511987654321"),),
        tags=frozenset({"vip"}),
    )
    assert person.search_name == "jose da silva"
    assert person.search_terms() == {
        "jose", "da", "silva", "zeze", VALID_CPF, "5511987654321", "11987654321",
        "+5511987654321", "#vip",  # filter keys: no query word starts with + or #
    }  # fmt: skip
    dog = an_animal(tenant, "Rex", microchip=Microchip("985112345678901"))
    assert dog.search_terms() == {"rex", "985112345678901"}


def test_registering_records_created_and_a_change_records_only_what_changed() -> None:
    person = a_person(_tenant())
    assert [type(e) for e in person.events] == [PatientCreated]
    person.events.clear()
    assert person.change(T0, notes="alérgica a dipirona", name=person.name) == ("notes",)
    (event,) = person.events
    assert isinstance(event, PatientUpdated)
    assert event.changed == ("notes",)
    assert event.version == 2
    assert "dipirona" not in str(event.payload())  # names of fields, never their values
    assert person.updated_at == T0
    assert person.change(T0 + timedelta(1), notes="alérgica a dipirona") == ()
    assert len(person.events) == 1
    assert person.updated_at == T0


def test_kinds_refuse_the_fields_of_the_other() -> None:
    tenant = _tenant()
    with pytest.raises(ValueError, match="animal has no"):
        an_animal(tenant, cpf=CPF(VALID_CPF))
    with pytest.raises(ValueError, match="person has no"):
        a_person(tenant, microchip=Microchip("985112345678901"))
    with pytest.raises(ValueError, match="species"):
        an_animal(tenant, species=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="client account"):
        an_animal(tenant, user_id=UserId(new_uuid()))


def test_a_change_that_breaks_an_invariant_leaves_the_patient_as_it_was() -> None:
    dog = an_animal(_tenant())
    with pytest.raises(ValueError, match="deceased_at"):
        dog.change(T0, status=PatientStatus.DECEASED, notes="x")  # deceased without deceased_at
    assert dog.status is PatientStatus.ACTIVE
    assert dog.notes is None
    assert len(dog.events) == 1


def test_deceased_at_goes_with_the_deceased_status() -> None:
    with pytest.raises(ValueError, match="deceased_at"):
        a_person(_tenant(), deceased_at=T0)
    person = a_person(_tenant(), status=PatientStatus.DECEASED, deceased_at=T0)
    assert person.status is PatientStatus.DECEASED


@pytest.mark.parametrize(
    ("system", "value", "expected"),
    [
        (" RG ", " 12.345.678-9 ", Identifier("rg", "12.345.678-9")),
        ("cns", "898 0010 0000 0001", Identifier("cns", "898001000000001")),
        ("external:vetsoft", "A-77", Identifier("external:vetsoft", "A-77")),
        ("passport", "FZ123456", Identifier("passport", "FZ123456")),
    ],
)
def test_identifiers_normalise(system: str, value: str, expected: Identifier) -> None:
    assert Identifier.parse(system, value) == Success(expected)


@pytest.mark.parametrize(
    ("system", "value", "field"),
    [
        ("ssn", "1", "identifiers.system"),
        ("external:", "1", "identifiers.system"),
        ("external:Has Space", "1", "identifiers.system"),
        ("rg", "", "identifiers.value"),
        ("rg", "12|34", "identifiers.value"),
        ("cns", "1234", "identifiers.value"),
        ("mrn", "x" * 81, "identifiers.value"),
    ],
)
def test_bad_identifiers_are_reported_on_their_field(system: str, value: str, field: str) -> None:
    result = Identifier.parse(system, value)
    assert isinstance(result, Failure)
    assert result.failure().errors[0].field == field


def test_microchips_are_15_digits() -> None:
    assert Microchip.parse("985 112 345 678 901") == Success(Microchip("985112345678901"))
    for bad in ("98511234567890", "9851123456789012", "98511234567890a", "٩٨٥١١٢٣٤٥٦٧٨٩٠١"):
        assert isinstance(Microchip.parse(bad), Failure)


def test_tags_are_trimmed_lower_case_and_deduplicated() -> None:
    assert normalise_tag("  VIP   Cliente ") == "vip cliente"
    assert tags_of(["VIP", "vip ", " ", "Retorno"]) == {"vip", "retorno"}
    with pytest.raises(ValueError, match="tags"):
        a_person(_tenant(), tags=frozenset({"VIP"}))


def test_estimated_birth_dates_are_the_first_of_july() -> None:
    today = date(2026, 3, 2)
    assert estimated_birth_date(year=2019, today=today) == date(2019, 7, 1)
    assert estimated_birth_date(age_years=3, today=today) == date(2022, 7, 1)  # 3 years old in March
    assert estimated_birth_date(age_years=3, today=date(2026, 8, 1)) == date(2023, 7, 1)


def test_weights_are_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PatientWeight(
            tenant_id=_tenant(),
            id=WeightId(new_uuid()),
            patient_id=a_person(_tenant()).id,
            kg=Decimal(0),
            measured_at=T0,
            recorded_by=None,
            created_at=T0,
        )


# --- the in-memory repository -----------------------------------------------------------------------------


async def test_round_trip_lookups_and_events_in_the_outbox() -> None:
    uow = InMemoryUnitOfWorkFactory()
    tenant = _tenant()
    person = a_person(tenant, cpf=CPF(VALID_CPF), identifiers=(Identifier("rg", "123"),))
    dog = an_animal(tenant, microchip=Microchip("985112345678901"))
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(person)
        await tx.patients.add(dog)
        await tx.commit()
    async with uow(Scope(tenant_id=tenant)) as tx:
        assert (await tx.patients.get(person.id)) is not None
        assert (found := await tx.patients.find_by_cpf(CPF(VALID_CPF)))
        assert found.id == person.id
        assert (found := await tx.patients.find_by_identifier("rg", "123"))
        assert found.id == person.id
        assert (found := await tx.patients.find_by_microchip(Microchip("985112345678901")))
        assert found.id == dog.id
        assert await tx.patients.find_by_identifier("rg", "999") is None
    assert [r.topic for r in uow.store.outbox] == ["patient.created", "patient.created"]


async def test_another_tenant_sees_nothing_and_cannot_write() -> None:
    uow = InMemoryUnitOfWorkFactory()
    tenant, other = _tenant(), _tenant()
    person = a_person(tenant, cpf=CPF(VALID_CPF))
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(person)
        await tx.commit()
    async with uow(Scope(tenant_id=other)) as tx:
        assert await tx.patients.get(person.id) is None
        assert await tx.patients.find_by_cpf(CPF(VALID_CPF)) is None
        with pytest.raises(NoTenantInScope):
            await tx.patients.add(a_person(tenant))
        assert await tx.patients.save(a_person(other)) is False
        await tx.patients.add(a_person(other, cpf=CPF(VALID_CPF)))  # a CPF is unique per tenant only
        await tx.commit()


@pytest.mark.parametrize("which", ["cpf", "microchip", "identifier", "user"])
async def test_unique_values_per_tenant(which: str) -> None:
    uow = InMemoryUnitOfWorkFactory()
    tenant = _tenant()
    user = UserId(new_uuid())
    first, second = {
        "cpf": (a_person(tenant, cpf=CPF(VALID_CPF)), a_person(tenant, cpf=CPF(VALID_CPF))),
        "microchip": (
            an_animal(tenant, microchip=Microchip("985112345678901")),
            an_animal(tenant, microchip=Microchip("985112345678901")),
        ),
        "identifier": (
            a_person(tenant, identifiers=(Identifier("mrn", "7"),)),
            a_person(tenant, identifiers=(Identifier("mrn", "7"),)),
        ),
        "user": (a_person(tenant, user_id=user), a_person(tenant, user_id=user)),
    }[which]
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(first)
        with pytest.raises(UniqueViolation):
            await tx.patients.add(second)


async def test_save_writes_over_the_version_read_only() -> None:
    uow = InMemoryUnitOfWorkFactory()
    tenant = _tenant()
    person = a_person(tenant)
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(person)
        await tx.commit()
    async with uow(Scope(tenant_id=tenant)) as tx:
        first = await tx.patients.get(person.id)
        assert first is not None
        assert first.version == 1
        first.change(T0, notes="one")
        assert await tx.patients.save(first) is True
        assert first.version == 2
        await tx.commit()
    async with uow(Scope(tenant_id=tenant)) as tx:
        stale = person  # still at version 1
        stale.change(T0, notes="two")
        assert await tx.patients.save(stale) is False
        assert await tx.patients.save(stale, expected_version=2) is True
        await tx.commit()
    async with uow(Scope(tenant_id=tenant)) as tx:
        stored = await tx.patients.get(person.id)
        assert stored is not None
        assert stored.notes == "two"
        assert stored.version == 3
    assert [r.payload["changed"] for r in uow.store.outbox if r.topic == "patient.updated"] == [
        ["notes"],
        ["notes"],
    ]


async def test_weights_newest_measurement_first_in_pages() -> None:
    uow = InMemoryUnitOfWorkFactory()
    tenant = _tenant()
    dog = an_animal(tenant)
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(dog)
        for days in (3, 1, 2):  # recorded out of order: a measurement typed in late
            await tx.patients.add_weight(
                PatientWeight(
                    tenant_id=tenant,
                    id=WeightId(new_uuid()),
                    patient_id=dog.id,
                    kg=Decimal(f"1{days}.5"),
                    measured_at=T0 + timedelta(days=days),
                    recorded_by=None,
                    created_at=T0,
                )
            )
        await tx.commit()
    async with uow(Scope(tenant_id=tenant)) as tx:
        first = await tx.patients.weights(dog.id, PageRequest(limit=2))
        assert [w.kg for w in first.items] == [Decimal("13.5"), Decimal("12.5")]
        rest = await tx.patients.weights(dog.id, PageRequest(after=first.next_after, limit=2))
        assert [w.kg for w in rest.items] == [Decimal("11.5")]
        assert rest.next_after is None
    async with uow(Scope(tenant_id=_tenant())) as tx:
        assert (await tx.patients.weights(dog.id, PageRequest())).items == []
