"""The FHIR reader on small inline files: every record comes out once, with its line or entry and a reason."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from clinic_core.interop.imported import (
    AdministrativeGender,
    ContactKind,
    IdentifierKind,
    ImportedPatient,
    ImportedPractitioner,
    PractitionerRef,
)
from clinic_core.interop.source import FileNotRead, NotImported, ReadError, ReadResource, SourceItem
from clinic_infra.fhir.reader import FhirFiles

NPI = "http://hl7.org/fhir/sid/us-npi"


def patient(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"use": "official", "family": "Souza", "given": ["Ana", "Maria"], "prefix": ["Ms."]}],
        "gender": "female",
        "birthDate": "1980-05-17",
        **fields,
    }


def practitioner(npi: str = "9999992198", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": "pr1",
        "identifier": [{"system": NPI, "value": npi}],
        "name": [{"family": "Lemke", "given": ["Jeramy"], "prefix": ["Dr."]}],
        "gender": "male",
        **fields,
    }


def ndjson(tmp_path: Path, *lines: str | dict[str, Any], name: str = "Patient.000.ndjson") -> Path:
    path = tmp_path / name
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def read(path: Path) -> list[SourceItem]:
    return list(FhirFiles(path))


def patient_of(item: SourceItem) -> ImportedPatient:
    assert isinstance(item, ReadResource), item
    assert isinstance(item.resource, ImportedPatient)
    return item.resource


def error_of(item: SourceItem) -> ReadError:
    assert isinstance(item, ReadError), item
    return item


def test_a_patient_line_maps_names_gender_birth_date_identifiers_and_contacts(tmp_path: Path) -> None:
    line = patient(
        identifier=[
            {"system": "https://github.com/synthetichealth/synthea", "value": "p1"},
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
                },
                "system": "http://hospital.smarthealthit.org",
                "value": "p1",
            },
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-53-8547"},
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "DL"}]
                },
                "system": "urn:oid:2.16.840.1.113883.4.3.6",
                "value": "S99917151",
            },
            {"system": "http://example.org/unknown", "value": "x-1"},
            {"system": "http://example.org/empty"},
        ],
        telecom=[
            {"system": "phone", "value": "555-806-9773", "use": "home"},
            {"system": "email", "value": "ana@example.com"},
            {"system": "fax", "value": "555-000-0000"},
        ],
        address=[{"line": ["847 Tremblay Crossroad"], "city": "Bloom", "state": "KS", "country": "US"}],
        maritalStatus={
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]
        },
        deceasedDateTime="2020-01-01T16:42:19-05:00",
    )
    [item] = read(ndjson(tmp_path, line))
    assert str(item.location) == "Patient.000.ndjson line 1"
    p = patient_of(item)
    assert (p.source_id, p.stable_id) == ("p1", True)
    assert (p.name.given, p.name.family, p.name.prefix, p.name.full) == (
        ("Ana", "Maria"),
        "Souza",
        ("Ms.",),
        "Ana Maria Souza",
    )
    assert (p.gender, p.birth_date) == (AdministrativeGender.FEMALE, date(1980, 5, 17))
    assert p.deceased is True
    assert p.deceased_at == datetime(2020, 1, 1, 21, 42, 19, tzinfo=UTC)
    assert [(i.kind, i.value) for i in p.identifiers] == [
        (IdentifierKind.SYNTHEA, "p1"),
        (IdentifierKind.MRN, "p1"),
        (IdentifierKind.SSN, "999-53-8547"),
        (IdentifierKind.DRIVERS_LICENSE, "S99917151"),
        (None, "x-1"),
    ]
    assert p.identifiers[-1].system == "http://example.org/unknown"
    assert [(c.kind, c.value) for c in p.contacts] == [
        (ContactKind.PHONE, "555-806-9773"),
        (ContactKind.EMAIL, "ana@example.com"),
    ]
    assert p.addresses[0].lines == ("847 Tremblay Crossroad",)
    assert p.addresses[0].country == "US"
    assert p.marital_status == "M"
    assert p.notes == ("identifier[5] (http://example.org/empty) has no value: not imported",)


def test_every_bad_line_is_reported_with_its_number_and_reading_goes_on(tmp_path: Path) -> None:
    path = ndjson(
        tmp_path,
        patient(id="first"),
        '{"resourceType": "Patient", "id": "broken", "name": [',
        practitioner(),
        patient(id="nameless", name=[{"use": "official", "given": []}]),
        "",
        "[1, 2]",
        patient(id="odd-gender", gender="M"),
        patient(id="bad-day", birthDate="1980-02-30"),
        '{"id": "no-type"}',
        patient(id="given-not-a-list", name=[{"given": "Ana"}]),
        patient(id="last"),
    )
    items = read(path)
    assert [patient_of(items[0]).source_id, patient_of(items[-1]).source_id] == ["first", "last"]
    errors = {e.location.line: e.reason for e in map(error_of, items[1:-1])}
    assert list(errors) == [2, 3, 4, 6, 7, 8, 9, 10]  # line 5 was blank: nothing to report
    assert errors[2].startswith("malformed JSON:")
    assert errors[3] == (
        "a Practitioner in a file of Patient resources (a bulk data file holds one resource type)"
    )
    assert errors[4].startswith("invalid Patient: no name")
    assert errors[6] == "not a JSON object: each NDJSON line must be one FHIR resource"
    assert errors[7].startswith("invalid Patient: gender: Input should be 'male', 'female', 'other' or")
    assert errors[8] == "invalid Patient: birthDate '1980-02-30' is not a day of the calendar"
    assert errors[9] == "not a FHIR resource: no resourceType"
    assert errors[10].startswith("invalid Patient: name[0].given: Input should be a valid list")


def test_a_partial_birth_date_is_a_note_not_an_error(tmp_path: Path) -> None:
    [item] = read(ndjson(tmp_path, patient(birthDate="1980-05")))
    p = patient_of(item)
    assert p.birth_date is None
    assert p.notes == ("birthDate '1980-05' gives no day: not imported",)
    [bad] = read(ndjson(tmp_path, patient(birthDate="17/05/1980"), name="bad.ndjson"))
    assert error_of(bad).reason == (
        "invalid Patient: birthDate '17/05/1980' is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)"
    )


def test_the_official_name_wins_over_the_maiden_name_whatever_the_order(tmp_path: Path) -> None:
    names = [
        {"use": "maiden", "family": "Wuckert", "given": ["Bethany"]},
        {"use": "official", "family": "Hauck", "given": ["Bethany"]},
    ]
    [item] = read(ndjson(tmp_path, patient(name=names)))
    assert patient_of(item).name.full == "Bethany Hauck"
    only_text = [{"use": "old", "family": "Old"}, {"text": "  Maria   da Silva "}]
    [item] = read(ndjson(tmp_path, patient(name=only_text), name="text.ndjson"))
    assert patient_of(item).name.full == "Maria da Silva"  # no use beats "old"; spaces collapsed


def test_a_file_of_other_things_than_resources_is_left_aside_once(tmp_path: Path) -> None:
    path = ndjson(tmp_path, {"exportId": "e", "eventId": "kickoff"}, {"eventId": "done"}, name="log.ndjson")
    [item] = read(path)
    assert isinstance(item, FileNotRead)
    assert str(item.location) == "log.ndjson"


def test_other_resource_types_are_not_imported_and_say_so(tmp_path: Path) -> None:
    path = ndjson(tmp_path, {"resourceType": "Organization", "id": "o1"}, name="Organization.000.ndjson")
    [item] = read(path)
    assert isinstance(item, NotImported)
    assert item.resource_type == "Organization"


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def test_a_transaction_bundle_resolves_urn_uuid_references_and_reports_entries_without_resource(
    tmp_path: Path,
) -> None:
    doctor = "urn:uuid:e78eb359-e003-4912-bb67-0db9ae8e3ef5"
    bundle = transaction(
        {
            "fullUrl": "urn:uuid:ba4aa91d",
            "resource": patient(id="ba4aa91d", generalPractitioner=[{"reference": doctor}]),
            "request": {"method": "POST", "url": "Patient"},
        },
        {"fullUrl": "urn:uuid:enc", "resource": {"resourceType": "Encounter", "id": "enc"}},
        {"request": {"method": "DELETE", "url": "Patient/old"}},
        {
            "fullUrl": doctor,
            "resource": practitioner(npi="610"),
            "request": {"method": "POST", "url": "Practitioner"},
        },
        {"fullUrl": "urn:uuid:x", "resource": {"id": "typeless"}},
    )
    path = tmp_path / "Annmarie.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    items = read(path)
    assert [(type(i).__name__, i.location.entry) for i in items] == [
        ("ReadError", 2),
        ("ReadError", 4),
        ("ReadResource", 3),  # the practitioner before the patient that names it
        ("ReadResource", 0),
        ("NotImported", 1),
    ]
    assert error_of(items[0]).reason == "the entry has no resource (request DELETE Patient/old)"
    assert str(items[0].location) == "Annmarie.json entry[2]"
    assert error_of(items[1]).reason == "the entry's resource has no resourceType"
    assert isinstance(items[2], ReadResource)
    assert isinstance(items[2].resource, ImportedPractitioner)
    assert (items[2].resource.npi, items[2].resource.full_url) == ("610", doctor)
    p = patient_of(items[3])
    assert (p.source_id, p.stable_id) == ("ba4aa91d", False)  # a POST's id is the bundle's own
    assert p.general_practitioners == (PractitionerRef(npi="610"),)


def test_references_by_npi_and_by_id_outside_bundles(tmp_path: Path) -> None:
    refs = [
        {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999992198"},
        {"reference": "Practitioner/pr-7"},
        {"identifier": {"system": NPI, "value": "9999933895"}},
        {"reference": "Organization/o1"},
    ]
    [item] = read(ndjson(tmp_path, patient(generalPractitioner=refs)))
    assert patient_of(item).general_practitioners == (
        PractitionerRef(npi="9999992198"),
        PractitionerRef(source_id="pr-7"),
        PractitionerRef(npi="9999933895"),
    )


def test_a_malformed_json_document_is_one_error_for_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text('{"resourceType": "Bundle", "entry": [', encoding="utf-8")
    [item] = read(path)
    assert error_of(item).reason.startswith("malformed JSON: Expecting value at line 1")
    assert str(item.location) == "bundle.json"


def test_a_json_file_may_hold_one_resource(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(patient(id="solo")), encoding="utf-8")
    [item] = read(path)
    assert patient_of(item).source_id == "solo"
    assert str(item.location) == "one.json"


def test_a_directory_is_read_recursively_practitioners_first_and_counted(tmp_path: Path) -> None:
    (tmp_path / "bulk").mkdir()
    ndjson(tmp_path / "bulk", patient(id="a"), patient(id="b"))
    ndjson(tmp_path / "bulk", practitioner(), name="Practitioner.000.ndjson")
    (tmp_path / "notes.txt").write_text("not read", encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(transaction({"resource": patient(id="c")})), encoding="utf-8")
    files = FhirFiles(tmp_path)
    assert [str(p.relative_to(tmp_path)) for p in files.files()] == [
        "bulk/Practitioner.000.ndjson",
        "b.json",
        "bulk/Patient.000.ndjson",
    ]
    assert files.count() == 4
    assert [str(i.location) for i in files] == [
        "bulk/Practitioner.000.ndjson line 1",
        "b.json entry[0]",
        "bulk/Patient.000.ndjson line 1",
        "bulk/Patient.000.ndjson line 2",
    ]


def test_a_byte_order_mark_and_crlf_line_ends_are_read(tmp_path: Path) -> None:
    path = tmp_path / "Patient.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(patient()).encode() + b"\r\n" + b"\xff\xfe\r\n")
    first, second = read(path)
    assert patient_of(first).name.family == "Souza"
    assert error_of(second).reason.startswith("not UTF-8 text: invalid start byte")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2020-01-01T10:00:00", "deceasedDateTime '2020-01-01T10:00:00' is not a FHIR dateTime"),
        ("2020-01T10:00:00Z", "deceasedDateTime '2020-01T10:00:00Z' is not a FHIR dateTime"),
        ("2020-01-01T10:61:00Z", "deceasedDateTime '2020-01-01T10:61:00Z' is not a time of the day"),
    ],
)
def test_a_date_time_needs_a_day_and_a_zone_with_its_time(tmp_path: Path, raw: str, reason: str) -> None:
    [item] = read(ndjson(tmp_path, patient(deceasedDateTime=raw)))
    assert error_of(item).reason == f"invalid Patient: {reason}"


def test_a_death_date_without_a_time_is_its_midnight_utc_and_a_month_alone_a_note(tmp_path: Path) -> None:
    [item] = read(ndjson(tmp_path, patient(deceasedDateTime="2020-03-04")))
    assert patient_of(item).deceased_at == datetime(2020, 3, 4, tzinfo=UTC)
    [item] = read(ndjson(tmp_path, patient(deceasedDateTime="2020-03"), name="month.ndjson"))
    p = patient_of(item)
    assert (p.deceased, p.deceased_at) == (True, None)
    assert p.notes == ("deceasedDateTime '2020-03' gives no day: not imported",)
    [item] = read(ndjson(tmp_path, patient(deceasedBoolean=True), name="bool.ndjson"))
    assert (patient_of(item).deceased, patient_of(item).deceased_at) == (True, None)
