"""The patient use cases on the in-memory adapters: registering, reading, changing, searching, weights,
guardians, the portal, the access log and per-unit visibility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from returns.result import Failure, Result, Success

from clinic_core.access.model import API_KEY_USER
from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.patients.fields import AddressInput, AllergyInput, IdentifierInput, PatientFields
from clinic_core.patients.guardians import (
    GetMyPatient,
    GetPatientSettings,
    GuardianInput,
    GuardianView,
    ListDependants,
    ListGuardians,
    ListMyPatients,
    ListPatientAccessLog,
    SetGuardians,
    SetGuardiansCommand,
    UpdatePatientSettings,
    UpdatePatientSettingsCommand,
)
from clinic_core.patients.model import (
    AccessAction,
    DuplicatePatient,
    Patient,
    PatientId,
    PatientStatus,
    StaleVersion,
)
from clinic_core.patients.search import MatchMode, SearchInput, parse_search
from clinic_core.patients.use_cases import (
    ChangePatientStatus,
    ChangePatientStatusCommand,
    GetPatient,
    ListWeights,
    RecordWeight,
    RecordWeightCommand,
    RegisterPatient,
    RegisterPatientCommand,
    SearchPatients,
    UpdatePatient,
    UpdatePatientCommand,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import DomainError, Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import ApiKeyId, MembershipId, UnitId, UserId, new_uuid
from clinic_core.shared.values import TimeZone
from clinic_core.tenancy.model import Membership, Unit
from clinic_core.tenancy.permissions import Permission, Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher, InMemoryUnitOfWorkFactory

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
VALID_CPF = "52998224725"


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    clinic: SignedUp

    @property
    def owner(self) -> Actor:
        return self.actor(Role.OWNER, user_id=self.clinic.owner.id)

    def actor(
        self, *roles: Role, user_id: UserId | None = None, units: frozenset[UnitId] = frozenset()
    ) -> Actor:
        return Actor(
            user_id=user_id or UserId(new_uuid()),
            tenant_id=self.clinic.tenant.id,
            roles=frozenset(roles),
            unit_ids=units,
        )

    async def client(self) -> Actor:
        """A client member of the clinic (a portal user)."""
        user_id = UserId(new_uuid())
        async with self.uow(Scope(tenant_id=self.clinic.tenant.id)) as tx:
            await tx.memberships.add(
                Membership(
                    tenant_id=self.clinic.tenant.id,
                    id=MembershipId(new_uuid()),
                    user_id=user_id,
                    roles=frozenset({Role.CLIENT}),
                    unit_ids=frozenset(),
                    created_at=T0,
                )
            )
            await tx.commit()
        return self.actor(Role.CLIENT, user_id=user_id)

    async def unit(self, name: str = "Norte") -> UnitId:
        unit = Unit(
            tenant_id=self.clinic.tenant.id,
            id=UnitId(new_uuid()),
            name=name,
            timezone=TimeZone("America/Sao_Paulo"),
            created_at=T0,
        )
        async with self.uow(Scope(tenant_id=self.clinic.tenant.id)) as tx:
            await tx.units.add(unit)
            await tx.commit()
        return unit.id

    async def register(self, kind: str = "person", actor: Actor | None = None, **fields: Any) -> Patient:
        result = await RegisterPatient(self.uow, self.clock)(
            RegisterPatientCommand(actor or self.owner, kind, PatientFields(**fields))
        )
        assert isinstance(result, Success), result
        patient: Patient = result.unwrap()
        return patient

    async def access_actions(self, patient_id: PatientId) -> list[AccessAction]:
        page = await ListPatientAccessLog(self.uow)(self.owner, patient_id, PageRequest())
        return [entry.action for entry in reversed(page.unwrap().items)]

    async def search(self, actor: Actor | None = None, **given: object) -> list[str]:
        result = await SearchPatients(self.uow, self.clock)(actor or self.owner, SearchInput(**given))  # type: ignore[arg-type]
        return [p.name.value for p in result.unwrap().items]


async def _world(uow: InMemoryUnitOfWorkFactory | None = None, tenant: str = "Clínica Bela") -> World:
    uow = uow or InMemoryUnitOfWorkFactory()
    clock = FixedClock(T0)
    command = SignUpCommand(
        tenant,
        "Centro",
        "America/Sao_Paulo",
        "Ana Souza",
        f"{new_uuid()}@x.com",
        "correct horse battery staple",
    )
    clinic = (await SignUp(uow, FakePasswordHasher(), clock)(command)).unwrap()
    return World(uow, clock, clinic)


@pytest.fixture
async def world() -> World:
    return await _world()


def _fields(result: Result[object, DomainError]) -> dict[str, str]:
    assert isinstance(result, Failure), result
    failure = result.failure()
    assert isinstance(failure, InvalidInput), failure
    return {e.field: e.code for e in failure.errors}


# --- registering ----------------------------------------------------------------------------------------


async def test_registering_a_person_normalises_and_audits(world: World) -> None:
    maria = await world.register(
        name="  Maria   da Silva ",
        cpf="529.982.247-25",
        phones=["(11) 98765-4321"],
        emails=["Maria@Example.COM"],
        tags=[" VIP ", "vip", "Retorno"],
        address=AddressInput(street="Rua Augusta", city="São Paulo", state="SP", postal_code="01304000"),
        allergies=[AllergyInput("Dipirona", "urticária", "SEVERE")],
        identifiers=[IdentifierInput("RG", "12.345.678-9")],
        age_years=40,
    )
    assert maria.name.value == "Maria da Silva"
    assert maria.cpf is not None
    assert maria.cpf.value == VALID_CPF
    assert [p.value for p in maria.phones] == ["+5511987654321"]
    assert [e.value for e in maria.emails] == ["maria@example.com"]
    assert maria.tags == {"vip", "retorno"}
    assert maria.address is not None
    assert maria.address.postal_code == "01304-000"
    assert maria.birth_date_estimated
    assert maria.version == 1
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id), read_only=True) as tx:
        events = (await tx.audit.page(PageRequest(), AuditQuery())).items
    assert [e.action for e in events if e.action is AuditAction.PATIENT_CREATED] == [
        AuditAction.PATIENT_CREATED
    ]
    assert any(r.topic == "patient.created" for r in world.uow.store.outbox)


async def test_every_invalid_field_is_reported_at_once(world: World) -> None:
    result = await RegisterPatient(world.uow, world.clock)(
        RegisterPatientCommand(
            world.owner,
            "person",
            PatientFields(
                name="",
                cpf="111.111.111-11",
                phones=["123"],
                emails=["not-an-email"],
                microchip="985112345678901",
                birth_date=(T0 + timedelta(days=2)).date(),
                identifiers=[IdentifierInput("ssn", "1")],
                allergies=[AllergyInput("", severity="awful")],
                address=AddressInput(street="", city="SP", state="SP", postal_code="123", country="Brasil"),
            ),
        )
    )
    assert _fields(result) == {
        "name": "required",
        "cpf": "invalid_cpf",
        "phones.0": "invalid_phone",
        "emails.0": "invalid_email",
        "microchip": "not_applicable",
        "birth_date": "in_future",
        "identifiers.0.system": "invalid_system",
        "allergies.0.substance": "required",
        "allergies.0.severity": "invalid_choice",
        "address.street": "required",
        "address.country": "invalid_country",
    }


async def test_an_animal_needs_a_species_and_has_no_cpf(world: World) -> None:
    result = await RegisterPatient(world.uow, world.clock)(
        RegisterPatientCommand(world.owner, "animal", PatientFields(name="Rex", cpf=VALID_CPF))
    )
    assert _fields(result) == {"cpf": "not_applicable", "species": "required"}
    bad_kind = await RegisterPatient(world.uow, world.clock)(
        RegisterPatientCommand(world.owner, "plant", PatientFields(name="Rex"))
    )
    assert _fields(bad_kind) == {"kind": "invalid_choice"}
    rex = await world.register(
        "animal", name="Rex", species="DOG", microchip="985 112 345 678 901", neutered=True
    )
    assert rex.microchip is not None
    assert rex.microchip.value == "985112345678901"


@pytest.mark.parametrize(
    ("fields", "other"),
    [
        ({"cpf": VALID_CPF}, {"cpf": "529.982.247-25"}),
        ({"identifiers": [IdentifierInput("mrn", "7")]}, {"identifiers": [IdentifierInput("MRN", " 7 ")]}),
    ],
)
async def test_unique_values_are_409_duplicate_patient(
    world: World, fields: dict[str, Any], other: dict[str, Any]
) -> None:
    await world.register(name="Primeira", **fields)
    result = await RegisterPatient(world.uow, world.clock)(
        RegisterPatientCommand(world.owner, "person", PatientFields(name="Segunda", **other))
    )
    assert isinstance(result, Failure)
    assert isinstance(result.failure(), DuplicatePatient)
    other_clinic = await _world(world.uow, "Outra")
    await other_clinic.register(name="Em outra clínica", **other)  # unique per clinic only


async def test_a_client_account_must_be_a_member_and_links_once(world: World) -> None:
    stranger = await RegisterPatient(world.uow, world.clock)(
        RegisterPatientCommand(world.owner, "person", PatientFields(name="X", user_id=new_uuid()))
    )
    assert _fields(stranger) == {"user_id": "unknown_user"}
    client = await world.client()
    await world.register(name="Cliente", user_id=client.user_id)
    twice = await RegisterPatient(world.uow, world.clock)(
        RegisterPatientCommand(world.owner, "person", PatientFields(name="De novo", user_id=client.user_id))
    )
    assert isinstance(twice, Failure)
    assert isinstance(twice.failure(), DuplicatePatient)


async def test_permissions_decide_who_reads_and_writes(world: World) -> None:
    receptionist = world.actor(Role.RECEPTIONIST)
    maria = await world.register(actor=receptionist, name="Maria")
    client = await world.client()
    refused = await RegisterPatient(world.uow, world.clock)(
        RegisterPatientCommand(client, "person", PatientFields(name="Eu"))
    )
    assert refused == Failure(Forbidden(permission="patients:write"))
    assert isinstance(await GetPatient(world.uow, world.clock)(client, maria.id), Failure)


# --- reading and the access log -----------------------------------------------------------------------


async def test_reads_are_logged_and_another_clinic_gets_404(world: World) -> None:
    maria = await world.register(name="Maria")
    nurse = world.actor(Role.NURSE)
    got = await GetPatient(world.uow, world.clock)(nurse, maria.id)
    assert got.unwrap().id == maria.id
    other = await _world(world.uow, "Outra")
    assert await GetPatient(world.uow, world.clock)(other.owner, maria.id) == Failure(
        NotFound("patient", str(maria.id))
    )
    assert await world.access_actions(maria.id) == [AccessAction.READ]
    page = await ListPatientAccessLog(world.uow)(world.owner, maria.id, PageRequest())
    entry = page.unwrap().items[0]
    assert entry.actor_user_id == nurse.user_id
    assert entry.actor_api_key_id is None


async def test_an_api_key_reads_as_itself(world: World) -> None:
    maria = await world.register(name="Maria")
    key = Actor(
        user_id=API_KEY_USER,
        tenant_id=world.clinic.tenant.id,
        roles=frozenset(),
        unit_ids=frozenset(),
        granted=frozenset({Permission.PATIENTS_READ}),
        api_key_id=ApiKeyId(new_uuid()),
    )
    assert isinstance(await GetPatient(world.uow, world.clock)(key, maria.id), Success)
    entry = (await ListPatientAccessLog(world.uow)(world.owner, maria.id, PageRequest())).unwrap().items[0]
    assert entry.actor_user_id is None
    assert entry.actor_api_key_id == key.api_key_id


async def test_the_access_log_is_for_auditors(world: World) -> None:
    maria = await world.register(name="Maria")
    refused = await ListPatientAccessLog(world.uow)(world.actor(Role.RECEPTIONIST), maria.id, PageRequest())
    assert refused == Failure(Forbidden(permission="audit:read"))
    missing = await ListPatientAccessLog(world.uow)(world.owner, PatientId(new_uuid()), PageRequest())
    assert isinstance(missing, Failure)
    assert isinstance(missing.failure(), NotFound)


# --- updating -----------------------------------------------------------------------------------------


async def test_a_partial_update_over_the_version_read(world: World) -> None:
    maria = await world.register(name="Maria", notes="antes", phones=["11987654321"])
    update = UpdatePatient(world.uow, world.clock)
    changed = await update(
        UpdatePatientCommand(world.owner, maria.id, 1, PatientFields(notes=None, sex="female"))
    )
    patient = changed.unwrap()
    assert patient.notes is None
    assert patient.sex.value == "female"
    assert [p.value for p in patient.phones] == ["+5511987654321"]  # not given: kept
    assert patient.version == 2
    stale = await update(UpdatePatientCommand(world.owner, maria.id, 1, PatientFields(notes="tarde")))
    assert stale == Failure(StaleVersion())
    same = await update(UpdatePatientCommand(world.owner, maria.id, 2, PatientFields(sex="female")))
    assert same.unwrap().version == 2  # nothing changed, nothing written
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id), read_only=True) as tx:
        events = (
            await tx.audit.page(PageRequest(), AuditQuery(actions=frozenset({AuditAction.PATIENT_UPDATED})))
        ).items
        stored = await tx.patients.get(maria.id)
    assert [e.details["fields"] for e in events] == ["notes,sex"]
    assert stored is not None
    assert stored.notes is None


async def test_an_update_cannot_take_another_patients_cpf_or_cross_kinds(world: World) -> None:
    await world.register(name="Maria", cpf=VALID_CPF)
    joao = await world.register(name="João")
    taken = await UpdatePatient(world.uow, world.clock)(
        UpdatePatientCommand(world.owner, joao.id, 1, PatientFields(cpf=VALID_CPF))
    )
    assert isinstance(taken, Failure)
    assert isinstance(taken.failure(), DuplicatePatient)
    kinds = await UpdatePatient(world.uow, world.clock)(
        UpdatePatientCommand(world.owner, joao.id, 1, PatientFields(species="dog"))
    )
    assert _fields(kinds) == {"species": "not_applicable"}


async def test_status_changes_and_deceased_at(world: World) -> None:
    rex = await world.register("animal", name="Rex", species="dog")
    change = ChangePatientStatus(world.uow, world.clock)
    future = await change(
        ChangePatientStatusCommand(world.owner, rex.id, "deceased", T0 + timedelta(hours=1))
    )
    assert _fields(future) == {"deceased_at": "in_future"}
    wrong = await change(ChangePatientStatusCommand(world.owner, rex.id, "inactive", T0))
    assert _fields(wrong) == {"deceased_at": "not_applicable"}
    stale = await change(ChangePatientStatusCommand(world.owner, rex.id, "inactive", expected_version=7))
    assert stale == Failure(StaleVersion())
    dead = (
        await change(ChangePatientStatusCommand(world.owner, rex.id, "deceased", T0 - timedelta(days=1)))
    ).unwrap()
    assert dead.status is PatientStatus.DECEASED
    assert dead.deceased_at == T0 - timedelta(days=1)
    alive = (await change(ChangePatientStatusCommand(world.owner, rex.id, "active"))).unwrap()
    assert alive.deceased_at is None
    assert alive.version == 3


# --- weights ------------------------------------------------------------------------------------------


async def test_weights_are_recorded_validated_and_listed(world: World) -> None:
    rex = await world.register("animal", name="Rex", species="dog")
    record = RecordWeight(world.uow, world.clock)
    for raw in ("0", "-1", "abc", "NaN", "1.2345", "100000"):
        assert isinstance(await record(RecordWeightCommand(world.owner, rex.id, raw)), Failure), raw
    future = await record(RecordWeightCommand(world.owner, rex.id, "10", T0 + timedelta(minutes=1)))
    assert _fields(future) == {"measured_at": "in_future"}
    await record(RecordWeightCommand(world.owner, rex.id, "12.5", T0 - timedelta(days=30)))
    latest = (await record(RecordWeightCommand(world.owner, rex.id, Decimal("13.125")))).unwrap()
    assert latest.recorded_by == world.clinic.owner.id
    page = (await ListWeights(world.uow, world.clock)(world.owner, rex.id, PageRequest())).unwrap()
    assert [w.kg for w in page.items] == [Decimal("13.125"), Decimal("12.5")]
    assert await world.access_actions(rex.id) == [AccessAction.WEIGHTS]
    gone = await record(RecordWeightCommand(world.owner, PatientId(new_uuid()), "1"))
    assert isinstance(gone, Failure)
    assert isinstance(gone.failure(), NotFound)


# --- search -------------------------------------------------------------------------------------------


async def test_search_by_name_prefix_accents_and_digits(world: World) -> None:
    await world.register(name="Maria da Silva", cpf=VALID_CPF, phones=["+55 11 98765-4321"], tags=["VIP"])
    await world.register(name="José Conceição")
    await world.register(name="Mariana Souza", social_name="Mari")
    await world.register("animal", name="Thor", species="dog", microchip="985112345678901")
    assert await world.search(q="mar sil") == ["Maria da Silva"]
    assert await world.search(q="jose") == ["José Conceição"]
    assert await world.search(q="CONCEICAO") == ["José Conceição"]
    assert await world.search(q="mari") == ["Maria da Silva", "Mariana Souza"]
    assert await world.search(q="529.982") == ["Maria da Silva"]
    assert await world.search(q="11987654321") == ["Maria da Silva"]
    assert await world.search(q="98511") == ["Thor"]
    assert await world.search(cpf="529.982.247-25") == ["Maria da Silva"]
    assert await world.search(phone="(11) 98765-4321") == ["Maria da Silva"]
    assert await world.search(phone="+5511987654321") == ["Maria da Silva"]
    assert await world.search(microchip="985112345678901") == ["Thor"]
    assert await world.search(tag="vip") == ["Maria da Silva"]
    assert await world.search(kind="animal") == ["Thor"]
    assert await world.search(species="dog", q="th") == ["Thor"]
    assert await world.search(status="deceased") == []
    assert await world.search(q="vip") == []  # a tag is a filter, not a word of the name


async def test_a_short_prefix_page_switches_to_partial_matching(world: World) -> None:
    await world.register(name="Maria da Silva")
    await world.register(name="Rosária Lima")
    result = (await SearchPatients(world.uow, world.clock)(world.owner, SearchInput(q="aria"))).unwrap()
    assert [p.name.value for p in result.items] == ["Maria da Silva", "Rosária Lima"]
    assert result.mode is MatchMode.PARTIAL
    ordered = (await SearchPatients(world.uow, world.clock)(world.owner, SearchInput(q="ria sil"))).unwrap()
    assert [p.name.value for p in ordered.items] == ["Maria da Silva"]
    prefix = (
        await SearchPatients(world.uow, world.clock)(world.owner, SearchInput(q="maria", limit=1))
    ).unwrap()
    assert prefix.mode is MatchMode.PREFIX  # a full first page stays prefix


async def test_search_pages_follow_the_cursor_and_log_each_patient(world: World) -> None:
    names = ["Ana Clara", "Ana Beatriz", "Ána Alice", "Ana Dora", "Anabela"]
    for name in names:
        await world.register(name=name)
    search = SearchPatients(world.uow, world.clock)
    seen: list[str] = []
    cursor = None
    while True:
        page = (await search(world.owner, SearchInput(q="ana", limit=2, cursor=cursor))).unwrap()
        seen.extend(p.name.value for p in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["Ána Alice", "Ana Beatriz", "Ana Clara", "Ana Dora", "Anabela"]
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id), read_only=True) as tx:
        first = await tx.patients.search(*parse_search(SearchInput(q="anabela")).unwrap())
    assert await world.access_actions(first[0].id) == [AccessAction.SEARCH]


async def test_bad_search_input_is_reported_per_field(world: World) -> None:
    result = await SearchPatients(world.uow, world.clock)(
        world.owner,
        SearchInput(
            cpf="123", microchip="1", identifier="rg", kind="robot", limit=0, cursor="!!", unit_id="x"
        ),
    )
    assert _fields(result) == {
        "cpf": "invalid_cpf",
        "microchip": "invalid_microchip",
        "identifier": "invalid_identifier",
        "kind": "invalid_choice",
        "unit_id": "invalid_id",
        "limit": "out_of_range",
        "cursor": "invalid_cursor",
    }


# --- units --------------------------------------------------------------------------------------------


async def test_patients_kept_per_unit_are_seen_by_that_units_members_only(world: World) -> None:
    north = await world.unit("Norte")
    centre = world.clinic.unit.id
    in_north = await world.register(name="Nortista", unit_id=north)
    in_centre = await world.register(name="Central", unit_id=centre)
    anywhere = await world.register(name="Sem unidade")
    nurse = world.actor(Role.NURSE, units=frozenset({north}))
    assert sorted(await world.search(nurse)) == ["Central", "Nortista", "Sem unidade"]  # shared by default

    changed = await UpdatePatientSettings(world.uow, world.clock)(
        UpdatePatientSettingsCommand(world.owner, False)
    )
    assert changed.unwrap().patients_shared_across_units is False
    assert (await GetPatientSettings(world.uow)(world.owner)).unwrap().patients_shared_across_units is False
    assert sorted(await world.search(nurse)) == ["Nortista", "Sem unidade"]
    get = GetPatient(world.uow, world.clock)
    assert isinstance(await get(nurse, in_north.id), Success)
    assert isinstance(await get(nurse, anywhere.id), Success)
    assert await get(nurse, in_centre.id) == Failure(NotFound("patient", str(in_centre.id)))
    assert sorted(await world.search()) == ["Central", "Nortista", "Sem unidade"]  # the owner sees all
    moved = await UpdatePatient(world.uow, world.clock)(
        UpdatePatientCommand(nurse, in_north.id, 1, PatientFields(unit_id=centre))
    )
    assert _fields(moved) == {"unit_id": "unknown_unit"}
    registered = await world.register(actor=nurse, name="Nova")
    assert registered.unit_id == north  # a one-unit member registers in their unit
    refused = await UpdatePatientSettings(world.uow, world.clock)(UpdatePatientSettingsCommand(nurse, True))
    assert isinstance(refused, Failure)


# --- guardians and the portal -------------------------------------------------------------------------


async def _guardians(
    world: World, patient: Patient, *links: GuardianInput
) -> Result[list[GuardianView], DomainError]:
    return await SetGuardians(world.uow, world.clock)(SetGuardiansCommand(world.owner, patient.id, links))


async def test_a_pet_with_several_guardians_one_primary(world: World) -> None:
    thor = await world.register("animal", name="Thor", species="dog")
    ana = await world.register(name="Ana")
    bruno = await world.register(name="Bruno")
    set_ = await _guardians(
        world,
        thor,
        GuardianInput(str(bruno.id), "financially_responsible"),
        GuardianInput(str(ana.id), "owner", is_primary=True),
        GuardianInput(str(bruno.id), "owner"),
    )
    assert [(v.patient.name.value, v.link.role.value, v.link.is_primary) for v in set_.unwrap()] == [
        ("Ana", "owner", True),
        ("Bruno", "financially_responsible", False),
        ("Bruno", "owner", False),
    ]
    listed = (await ListGuardians(world.uow, world.clock)(world.owner, thor.id)).unwrap()
    assert [v.patient.id for v in listed] == [ana.id, bruno.id, bruno.id]
    dependants = (await ListDependants(world.uow, world.clock)(world.owner, bruno.id)).unwrap()
    assert {(v.patient.id, v.link.role.value) for v in dependants} == {
        (thor.id, "financially_responsible"),
        (thor.id, "owner"),
    }
    two_primaries = await _guardians(
        world, thor, GuardianInput(str(ana.id), "owner", True), GuardianInput(str(bruno.id), "owner", True)
    )
    assert _fields(two_primaries) == {"guardians": "several_primary"}
    twice = await _guardians(
        world, thor, GuardianInput(str(ana.id), "owner"), GuardianInput(str(ana.id), "OWNER")
    )
    assert _fields(twice) == {"guardians": "duplicate"}
    cleared = await _guardians(world, thor)
    assert cleared.unwrap() == []
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id), read_only=True) as tx:
        audit = await tx.audit.page(
            PageRequest(), AuditQuery(actions=frozenset({AuditAction.PATIENT_GUARDIANS_CHANGED}))
        )
    assert [e.details["guardians"] for e in reversed(audit.items)] == [3, 0]


async def test_who_can_be_a_guardian(world: World) -> None:
    thor = await world.register("animal", name="Thor", species="dog")
    mia = await world.register("animal", name="Mia", species="cat")
    ana = await world.register(name="Ana")
    other = await _world(world.uow, "Outra")
    stranger = await other.register(name="De outra clínica")
    result = await _guardians(
        world,
        thor,
        GuardianInput(str(mia.id), "owner"),
        GuardianInput(str(thor.id), "emergency_contact"),
        GuardianInput(str(stranger.id), "owner"),
        GuardianInput("not-an-id", "owner"),
        GuardianInput(str(ana.id), "godparent"),
    )
    assert _fields(result) == {
        "guardians.3.guardian_id": "invalid_id",
        "guardians.4.role": "invalid_choice",
    }
    result = await _guardians(
        world,
        thor,
        GuardianInput(str(mia.id), "owner"),
        GuardianInput(str(thor.id), "emergency_contact"),
        GuardianInput(str(stranger.id), "owner"),
    )
    assert _fields(result) == {
        "guardians.0.guardian_id": "not_a_person",
        "guardians.1.guardian_id": "self",
        "guardians.2.guardian_id": "unknown_patient",
    }
    elsewhere = await SetGuardians(world.uow, world.clock)(SetGuardiansCommand(other.owner, thor.id, ()))
    assert isinstance(elsewhere, Failure)
    assert isinstance(elsewhere.failure(), NotFound)


async def test_a_guardian_client_sees_their_family_and_nobody_elses(world: World) -> None:
    ana_account, bia_account = await world.client(), await world.client()
    ana = await world.register(name="Ana", user_id=ana_account.user_id)
    bia = await world.register(name="Bia", user_id=bia_account.user_id)
    thor = await world.register("animal", name="Thor", species="dog")
    luna = await world.register("animal", name="Luna", species="cat")
    await _guardians(world, thor, GuardianInput(str(ana.id), "owner", True))
    await _guardians(world, luna, GuardianInput(str(bia.id), "owner", True))

    mine = (await ListMyPatients(world.uow, world.clock)(ana_account, SearchInput())).unwrap()
    assert [p.name.value for p in mine.items] == ["Ana", "Thor"]
    get_mine = GetMyPatient(world.uow, world.clock)
    assert (await get_mine(ana_account, thor.id)).unwrap().id == thor.id
    for someone_elses in (luna.id, bia.id, PatientId(new_uuid())):
        assert await get_mine(ana_account, someone_elses) == Failure(NotFound("patient", str(someone_elses)))
    assert await world.access_actions(thor.id) == [AccessAction.PORTAL_READ, AccessAction.PORTAL_READ]

    log = ListPatientAccessLog(world.uow)
    assert isinstance(await log(ana_account, thor.id, PageRequest(), portal=True), Success)
    assert isinstance(await log(ana_account, luna.id, PageRequest(), portal=True), Failure)
    nobody = await world.client()
    assert (await ListMyPatients(world.uow, world.clock)(nobody, SearchInput())).unwrap().items == []
    # The portal's owner view is their family too: an owner's portal is not the clinic's directory.
    assert isinstance(await get_mine(world.owner, thor.id), Failure)
