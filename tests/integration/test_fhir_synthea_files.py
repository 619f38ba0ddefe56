"""The FHIR reader over the real Synthea files in the shared test data (read in place, never copied)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from clinic_core.interop.imported import (
    AdministrativeGender,
    IdentifierKind,
    ImportedPatient,
    ImportedPractitioner,
)
from clinic_core.interop.source import FileNotRead, NotImported, ReadError, ReadResource
from clinic_infra.fhir.reader import FhirFiles
from tests.shared_data import synthea


def test_the_bulk_files_hold_1144_patients_and_835_practitioners_all_readable() -> None:
    items = list(FhirFiles(synthea() / "bulk-ndjson-1000-patients"))
    patients = [
        i.resource for i in items if isinstance(i, ReadResource) and isinstance(i.resource, ImportedPatient)
    ]
    practitioners = [
        i.resource
        for i in items
        if isinstance(i, ReadResource) and isinstance(i.resource, ImportedPractitioner)
    ]
    assert len(patients) == 1144
    assert len({p.source_id for p in patients}) == 1144
    assert len(practitioners) == 835
    assert all(p.npi and len(p.npi) == 10 for p in practitioners)
    assert [i for i in items if isinstance(i, ReadError)] == []
    assert [str(i.location) for i in items if isinstance(i, FileNotRead)] == ["log.ndjson"]
    ignored = Counter(i.resource_type for i in items if isinstance(i, NotImported))
    assert ignored == {"Organization": 835, "PractitionerRole": 835, "Location": 836}
    # What the data holds that an import must cope with: every phone is a fictional 555 number, 144 patients
    # have died, and seven driver's licence numbers are each carried by two different people.
    assert all(c.value.startswith("555-") for p in patients for c in p.contacts)
    assert sum(p.deceased for p in patients) == 144
    licences = Counter(p.identifier(IdentifierKind.DRIVERS_LICENSE) for p in patients)
    assert sorted(n for licence, n in licences.items() if licence and n > 1) == [2] * 7
    first = patients[0]
    assert (first.name.full, first.name.prefix, first.gender, first.birth_date) == (
        "Andrew29 Goldner995",
        ("Mr.",),
        AdministrativeGender.MALE,
        date(1943, 3, 17),
    )
    assert first.identifier(IdentifierKind.SSN) == "999-53-8547"
    assert first.identifier(IdentifierKind.PASSPORT) == "X34328801X"


def test_the_nine_bundles_hold_one_patient_each_identified_by_their_synthea_id() -> None:
    items = list(FhirFiles(synthea() / "fhir-r4-bundles"))
    patients = [i for i in items if isinstance(i, ReadResource) and isinstance(i.resource, ImportedPatient)]
    practitioners = [
        i for i in items if isinstance(i, ReadResource) and isinstance(i.resource, ImportedPractitioner)
    ]
    assert len(patients) == 9
    assert len(practitioners) == 11
    assert [i for i in items if isinstance(i, ReadError | FileNotRead)] == []
    for item in patients:
        assert isinstance(item.resource, ImportedPatient)
        synthea_id = item.resource.identifier(IdentifierKind.SYNTHEA)
        assert synthea_id is not None
        assert synthea_id in item.location.file
        assert item.resource.stable_id is False  # the resource id is the transaction's urn:uuid
    gustavo = next(
        i.resource
        for i in patients
        if isinstance(i.resource, ImportedPatient) and i.resource.name.family == "Mejía"
    )
    assert (gustavo.name.full, gustavo.birth_date, gustavo.gender) == (
        "Gustavo Mejía",
        date(1986, 11, 27),
        AdministrativeGender.MALE,
    )
