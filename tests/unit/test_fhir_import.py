"""ImportPatients on the in-memory fakes: created, updated, unchanged, skipped with reasons, never duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

from returns.result import Failure

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.interop.imported import (
    AdministrativeGender,
    ContactKind,
    IdentifierKind,
    ImportedAddress,
    ImportedContact,
    ImportedIdentifier,
    ImportedName,
    ImportedPatient,
    ImportedPractitioner,
)
from clinic_core.interop.importing import ImportCommand, ImportPatients, ImportSummary, operator
from clinic_core.interop.source import (
    FileNotRead,
    NotImported,
    ReadError,
    ReadResource,
    SourceItem,
    SourceLocation,
)
from clinic_core.patients.model import Identifier, Patient, PatientStatus, Sex
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden
from clinic_core.shared.ids import TenantId, UserId, new_uuid
from clinic_core.shared.values import Phone
from clinic_core.tenancy.permissions import Role
from clinic_core.testing import InMemoryUnitOfWorkFactory

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
TENANT = TenantId(new_uuid())
HOME = ImportedAddress(
    lines=("847 Tremblay Crossroad",), city="Bloom", state="KS", postal_code="00000", country="US"
)


def ident(kind: IdentifierKind, value: str) -> ImportedIdentifier:
    return ImportedIdentifier(kind, value)


def a_patient(synthea_id: str = "s-1", **fields: object) -> ImportedPatient:
    values: dict[str, object] = {
        "source_id": synthea_id,
        "stable_id": True,
        "name": ImportedName(given=("Andrew29",), family="Goldner995", prefix=("Mr.",)),
        "gender": AdministrativeGender.MALE,
        "birth_date": date(1943, 3, 17),
        "identifiers": (
            ident(IdentifierKind.SYNTHEA, synthea_id),
            ident(IdentifierKind.MRN, synthea_id),
            ident(IdentifierKind.SSN, "999-53-8547"),
            ident(IdentifierKind.DRIVERS_LICENSE, "S99917151"),
            ident(IdentifierKind.PASSPORT, "X34328801X"),
        ),
        "contacts": (
            ImportedContact(ContactKind.PHONE, "555-806-9773", "home"),
            ImportedContact(ContactKind.PHONE, "(785) 555-0100", "mobile"),
            ImportedContact(ContactKind.EMAIL, "andrew@example.com"),
        ),
        "addresses": (HOME,),
    }
    return ImportedPatient(**(values | fields))  # type: ignore[arg-type]


def at(line: int, resource: ImportedPatient | ImportedPractitioner) -> ReadResource:
    return ReadResource(SourceLocation("Patient.000.ndjson", line=line), resource)


class World:
    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWorkFactory()
        self.clock = FixedClock(T0)
        self.import_ = ImportPatients(self.uow, self.clock)

    async def run(self, *records: SourceItem, actor: Actor | None = None) -> ImportSummary:
        command = ImportCommand(
            actor or operator(TENANT), records, source="test", context=RequestContext(user_agent="t")
        )
        result = await self.import_(command)
        return result.unwrap()

    def patients(self) -> list[Patient]:
        return [p for p in self.uow.store.tables.patients.values() if p.tenant_id == TENANT]

    def only(self) -> Patient:
        [patient] = self.patients()
        return patient


async def test_a_patient_is_created_with_its_fields_and_an_invalid_phone_is_a_warning() -> None:
    world = World()
    summary = await world.run(at(1, a_patient()))
    assert (summary.patients.created, summary.patients.skipped) == (1, 0)
    p = world.only()
    assert (p.name.value, p.sex, p.birth_date, p.status) == (
        "Andrew29 Goldner995",
        Sex.MALE,
        date(1943, 3, 17),
        PatientStatus.ACTIVE,
    )
    assert {(i.system, i.value) for i in p.identifiers} == {
        ("external:synthea", "s-1"),
        ("mrn", "s-1"),
        ("external:us-ssn", "999-53-8547"),
        ("external:us-drivers-license", "S99917151"),
        ("passport", "X34328801X"),
    }
    assert [str(phone) for phone in p.phones] == ["+17855550100"]  # read as a US number: the address says US
    assert [str(e) for e in p.emails] == ["andrew@example.com"]
    assert p.address is not None
    assert (p.address.street, p.address.city, p.address.country) == ("847 Tremblay Crossroad", "Bloom", "US")
    [warning] = summary.warnings
    assert (warning.code, str(warning.location)) == ("invalid_phone", "Patient.000.ndjson line 1")
    assert warning.message == "phone '555-806-9773' is not a valid number (read as US): not imported"


async def test_importing_the_same_record_twice_leaves_one_patient_unchanged() -> None:
    world = World()
    await world.run(at(1, a_patient()))
    first = world.only()
    summary = await world.run(at(1, a_patient()))
    assert (summary.patients.created, summary.patients.updated, summary.patients.unchanged) == (0, 0, 1)
    again = world.only()
    assert (again.id, again.version, again.updated_at) == (first.id, first.version, first.updated_at)


async def test_a_changed_record_updates_the_same_patient_and_keeps_what_the_clinic_added() -> None:
    world = World()
    await world.run(at(1, a_patient()))
    stored = world.only()
    clinic_phone = "+5511987654321"
    async with world.uow(Scope(tenant_id=TENANT)) as uow:
        patient = await uow.patients.get(stored.id)
        assert patient is not None
        patient.change(T0, phones=(*patient.phones, Phone(clinic_phone)))
        assert await uow.patients.save(patient)
        await uow.commit()
    renamed = a_patient(
        name=ImportedName(given=("Andrew",), family="Goldner"),
        identifiers=(
            ident(IdentifierKind.SYNTHEA, "s-1"),
            ident(IdentifierKind.PASSPORT, "X99999999X"),  # renewed
        ),
    )
    summary = await world.run(at(7, renamed))
    assert summary.patients.updated == 1
    p = world.only()
    assert (p.id, p.name.value) == (stored.id, "Andrew Goldner")
    assert clinic_phone in [str(phone) for phone in p.phones]
    systems = {(i.system, i.value) for i in p.identifiers}
    assert ("passport", "X99999999X") in systems
    assert ("passport", "X34328801X") not in systems  # the record's system takes the record's value
    assert ("mrn", "s-1") in systems  # a system the record no longer gives stays


async def test_a_licence_shared_by_two_people_stays_with_the_first_and_the_second_is_still_created() -> None:
    world = World()
    second = a_patient(
        "s-2",
        name=ImportedName(given=("Bea",), family="Hauck"),
        gender=AdministrativeGender.FEMALE,
        birth_date=date(1960, 1, 1),
        identifiers=(
            ident(IdentifierKind.SYNTHEA, "s-2"),
            ident(IdentifierKind.SSN, "999-11-1111"),
            ident(IdentifierKind.DRIVERS_LICENSE, "S99917151"),  # the first one's licence
        ),
    )
    summary = await world.run(at(1, a_patient()), at(2, second))
    assert summary.patients.created == 2
    bea = next(p for p in world.patients() if p.name.value == "Bea Hauck")
    assert Identifier("external:us-drivers-license", "S99917151") not in bea.identifiers
    taken = [w for w in summary.warnings if w.code == "identifier_taken"]
    assert [(str(w.location), w.message) for w in taken] == [
        (
            "Patient.000.ndjson line 2",
            "external:us-drivers-license S99917151 is another patient's: not imported",
        )
    ]
    again = await world.run(at(1, a_patient()), at(2, second))
    assert (again.patients.created, again.patients.unchanged, len(world.patients())) == (0, 2, 2)


async def test_without_a_source_key_a_non_contradicting_identifier_finds_the_patient() -> None:
    world = World()
    await world.run(at(1, a_patient()))
    from_elsewhere = a_patient(
        source_id="urn-1",
        stable_id=False,
        identifiers=(ident(IdentifierKind.SSN, "999-53-8547"),),
        contacts=(),
    )
    summary = await world.run(at(3, from_elsewhere))
    assert (summary.patients.created, summary.patients.unchanged) == (0, 1)
    assert len(world.patients()) == 1


async def test_an_identifier_on_a_patient_it_contradicts_is_not_a_match() -> None:
    world = World()
    await world.run(at(1, a_patient()))
    other = a_patient(
        source_id="urn-2",
        stable_id=False,
        birth_date=date(1990, 1, 1),  # not the same person, whatever the SSN says
        identifiers=(ident(IdentifierKind.SSN, "999-53-8547"),),
    )
    summary = await world.run(at(4, other))
    assert summary.patients.created == 1
    assert len(world.patients()) == 2
    assert [w.code for w in summary.warnings if w.code == "identifier_taken"] == ["identifier_taken"]


async def test_identifiers_naming_two_different_patients_are_ambiguous_and_skipped() -> None:
    world = World()
    bea = a_patient(
        "s-2", identifiers=(ident(IdentifierKind.SYNTHEA, "s-2"), ident(IdentifierKind.PASSPORT, "P-2"))
    )
    ann = a_patient(
        "s-3", identifiers=(ident(IdentifierKind.SYNTHEA, "s-3"), ident(IdentifierKind.MRN, "M-3"))
    )
    await world.run(at(1, bea), at(2, ann))
    both = a_patient(
        source_id=None,
        stable_id=False,
        identifiers=(ident(IdentifierKind.PASSPORT, "P-2"), ident(IdentifierKind.MRN, "M-3")),
    )
    summary = await world.run(at(9, both))
    [skipped] = summary.skipped
    assert (skipped.code, str(skipped.location), summary.patients.skipped) == (
        "ambiguous",
        "Patient.000.ndjson line 9",
        1,
    )
    assert len(world.patients()) == 2


async def test_unreadable_records_are_skipped_with_their_location_and_nothing_of_them_written() -> None:
    world = World()
    records: list[SourceItem] = [
        ReadError(
            SourceLocation("Patient.000.ndjson", line=2), "malformed JSON: Expecting value at column 1"
        ),
        ReadError(SourceLocation("b.json", entry=4), "invalid Patient: no name", "Patient"),
        at(3, a_patient("s-9", name=ImportedName(given=("1234",)))),
        at(5, a_patient("s-8", deceased=True)),
        NotImported(SourceLocation("Organization.000.ndjson", line=1), "Organization"),
        NotImported(SourceLocation("Organization.000.ndjson", line=2), "Organization"),
        FileNotRead(SourceLocation("log.ndjson"), "not FHIR NDJSON"),
    ]
    summary = await world.run(*records)
    assert world.patients() == []
    assert [(str(s.location), s.code) for s in summary.skipped] == [
        ("Patient.000.ndjson line 2", "unreadable"),
        ("b.json entry[4]", "unreadable"),
        ("Patient.000.ndjson line 3", "invalid_name"),
        ("Patient.000.ndjson line 5", "deceased_without_date"),
    ]
    assert summary.patients.skipped == 3  # the malformed line's type is unknown
    assert summary.not_imported == {"Organization": 2}
    assert [str(f.location) for f in summary.files_not_read] == ["log.ndjson"]


async def test_a_death_with_its_date_makes_the_patient_deceased() -> None:
    world = World()
    died = datetime(1978, 1, 1, 21, 42, 19, tzinfo=UTC)
    await world.run(at(1, a_patient(deceased=True, deceased_at=died)))
    p = world.only()
    assert (p.status, p.deceased_at) == (PatientStatus.DECEASED, died)


def a_practitioner(npi: str | None = "9999992198", **fields: object) -> ImportedPractitioner:
    values: dict[str, object] = {
        "source_id": "pr-1",
        "stable_id": True,
        "npi": npi,
        "name": ImportedName(given=("Randy380",), family="Bergstrom287", prefix=("Dr.",)),
        "gender": AdministrativeGender.FEMALE,
        "contacts": (ImportedContact(ContactKind.EMAIL, "Randy380.Bergstrom287@example.com", "work"),),
        "addresses": (HOME,),
        "raw": '{"resourceType":"Practitioner"}',
    }
    return ImportedPractitioner(**(values | fields))  # type: ignore[arg-type]


async def test_practitioners_are_upserted_by_npi() -> None:
    world = World()
    first = await world.run(
        at(1, a_practitioner()), at(2, a_practitioner(npi=None)), at(3, a_practitioner(npi="610"))
    )
    assert (first.practitioners.created, first.practitioners.skipped) == (2, 1)
    assert [(s.code, str(s.location)) for s in first.skipped] == [("no_npi", "Patient.000.ndjson line 2")]
    assert [(w.code, w.message) for w in first.warnings] == [
        ("invalid_npi", "NPI 610: an NPI has 10 digits; kept as its key all the same")
    ]
    again = await world.run(
        at(1, a_practitioner()),
        at(3, replace(a_practitioner(npi="610"), name=ImportedName(family="Schultz"))),
    )
    assert (again.practitioners.unchanged, again.practitioners.updated, again.practitioners.created) == (
        1,
        1,
        0,
    )
    async with world.uow(Scope(tenant_id=TENANT)) as uow:
        assert await uow.external_practitioners.count() == 2
        renamed = await uow.external_practitioners.get_by_npi("610")
        stored = await uow.external_practitioners.get_by_npi("9999992198")
    assert renamed is not None
    assert renamed.name == "Schultz"
    assert stored is not None
    assert (stored.name, stored.prefix, stored.source, stored.source_id) == (
        "Randy380 Bergstrom287",
        "Dr.",
        "test",
        "pr-1",
    )


async def test_the_import_is_audited_with_its_counts() -> None:
    world = World()
    await world.run(at(1, a_patient()), at(2, a_practitioner()))
    async with world.uow(Scope(tenant_id=TENANT), read_only=True) as uow:
        page = await uow.audit.page(
            PageRequest(limit=10), AuditQuery(actions=frozenset({AuditAction.PATIENTS_IMPORTED}))
        )
    [event] = page.items
    assert event.actor_user_id is None  # an operator's command, nobody's account
    assert event.user_agent == "t"
    assert event.details["patients_created"] == 1
    assert event.details["practitioners_created"] == 1
    assert event.details["patients_skipped"] == 0
    assert event.details["source"] == "test"


async def test_an_actor_who_may_not_write_patients_is_refused_and_nothing_is_read() -> None:
    world = World()
    consumed: list[int] = []

    def records() -> Iterator[SourceItem]:
        consumed.append(1)
        yield at(1, a_patient())

    reader = Actor(
        user_id=UserId(new_uuid()), tenant_id=TENANT, roles=frozenset({Role.CLIENT}), unit_ids=frozenset()
    )
    result = await world.import_(ImportCommand(reader, records()))
    assert isinstance(result, Failure)
    assert isinstance(result.failure(), Forbidden)
    assert consumed == []
    assert world.patients() == []
