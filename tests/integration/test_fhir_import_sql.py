"""Importing the shared Synthea data on PostgreSQL (as the app role, under row-level security) and SQLite,
twice, and ``clinic-admin import-fhir`` end to end."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from clinic_api.admin import main as admin_main
from clinic_core.application.context import RequestContext
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.interop.importing import ImportCommand, ImportPatients, ImportSummary, operator
from clinic_core.patients.model import Identifier, Patient, PatientStatus, Sex
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import TenantId
from clinic_infra.db.engine import create_engine
from clinic_infra.db.interop_tables import external_practitioners
from clinic_infra.db.migrate import upgrade
from clinic_infra.db.patient_tables import patients
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.fhir.reader import FhirFiles
from tests.integration.conftest import sign_up
from tests.shared_data import synthea

SYNTHEA_PATIENTS = 1144 + 9
SYNTHEA_PRACTITIONERS = 835 + 11


async def _import(uow: SqlUnitOfWorkFactory, tenant_id: TenantId, path: Path) -> ImportSummary:
    command = ImportCommand(
        operator(tenant_id), FhirFiles(path), source="synthea-test", context=RequestContext()
    )
    return (await ImportPatients(uow, SystemClock())(command)).unwrap()


async def _count(uow: SqlUnitOfWorkFactory, tenant_id: TenantId, table: Table) -> int:
    async with uow(Scope(tenant_id=tenant_id), read_only=True) as scoped:
        connection = await scoped.connection()
        statement = select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
        return int((await connection.execute(statement)).scalar_one())


async def _by(uow: SqlUnitOfWorkFactory, tenant_id: TenantId, system: str, value: str) -> Patient:
    async with uow(Scope(tenant_id=tenant_id), read_only=True) as scoped:
        found = await scoped.patients.find_by_identifier(system, value)
    assert found is not None, f"no patient has {system} {value}"
    return found


async def test_importing_the_synthea_data_twice_leaves_exactly_its_patients_intact(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    clinic = await sign_up(sql_uow)
    tenant_id = clinic.tenant.id
    first = await _import(sql_uow, tenant_id, synthea())
    assert (first.patients.created, first.patients.skipped) == (SYNTHEA_PATIENTS, 0)
    assert (first.practitioners.created, first.practitioners.skipped) == (SYNTHEA_PRACTITIONERS, 0)
    assert first.skipped == []
    second = await _import(sql_uow, tenant_id, synthea())
    assert (second.patients.created, second.patients.updated, second.patients.unchanged) == (
        0,
        0,
        SYNTHEA_PATIENTS,
    )
    assert (second.practitioners.created, second.practitioners.unchanged) == (0, SYNTHEA_PRACTITIONERS)
    assert await _count(sql_uow, tenant_id, patients) == SYNTHEA_PATIENTS
    assert await _count(sql_uow, tenant_id, external_practitioners) == SYNTHEA_PRACTITIONERS
    # The shared licences: seven people keep theirs, the seven who share them are imported without it.
    assert sorted({w.code for w in second.warnings}) == ["identifier_taken", "invalid_npi", "invalid_phone"]
    assert len([w for w in second.warnings if w.code == "identifier_taken"]) == 7

    # From the bulk file (line 1 of Patient.000.ndjson).
    andrew = await _by(sql_uow, tenant_id, "external:synthea", "001ea705-d3ba-5329-0b27-a7fbde2f4007")
    assert (andrew.name.value, andrew.sex, andrew.birth_date, andrew.status) == (
        "Andrew29 Goldner995",
        Sex.MALE,
        date(1943, 3, 17),
        PatientStatus.ACTIVE,
    )
    assert {(i.system, i.value) for i in andrew.identifiers} == {
        ("external:synthea", "001ea705-d3ba-5329-0b27-a7fbde2f4007"),
        ("mrn", "001ea705-d3ba-5329-0b27-a7fbde2f4007"),
        ("external:us-ssn", "999-53-8547"),
        ("external:us-drivers-license", "S99917151"),
        ("passport", "X34328801X"),
    }
    assert andrew.address is not None
    assert (andrew.address.city, andrew.address.state, andrew.address.country) == ("Bloom", "KS", "US")
    # From the bundles: their resource ids are the transactions' urn:uuid; the Synthea id names them.
    gustavo = await _by(sql_uow, tenant_id, "external:synthea", "59a8543c-e24f-4a01-b28b-47ccde6bc11d")
    assert (gustavo.name.value, gustavo.sex, gustavo.birth_date) == (
        "Gustavo Mejía",
        Sex.MALE,
        date(1986, 11, 27),
    )
    assert Identifier("external:us-ssn", "999-68-8566") in gustavo.identifiers
    bethany = await _by(sql_uow, tenant_id, "passport", "X272763X")
    assert (bethany.name.value, bethany.sex, bethany.birth_date) == (
        "Bethany Hauck",
        Sex.FEMALE,
        date(1924, 12, 30),
    )
    jonah = await _by(sql_uow, tenant_id, "external:synthea", "54cf16f2-bd9b-422b-93e4-d135858c438b")
    assert (jonah.name.value, jonah.status) == ("Jonah Ruecker", PatientStatus.DECEASED)
    assert jonah.deceased_at is not None
    claudie = await _by(sql_uow, tenant_id, "external:synthea", "498377b3-e385-40ab-9acd-06b657e2f599")
    assert (claudie.name.value, claudie.birth_date) == ("Claudie Walsh", date(2019, 5, 22))
    # A licence shared by the patients of lines 35 and 363: it stays with the first.
    holder = await _by(sql_uow, tenant_id, "external:us-drivers-license", "S99912854")
    line_35 = json.loads(
        (synthea() / "bulk-ndjson-1000-patients" / "Patient.000.ndjson").read_text().splitlines()[34]
    )
    assert Identifier("external:synthea", line_35["id"]) in holder.identifiers

    async with sql_uow(Scope(tenant_id=tenant_id), read_only=True) as scoped:
        audit = await scoped.audit.page(
            PageRequest(limit=5), AuditQuery(actions=frozenset({AuditAction.PATIENTS_IMPORTED}))
        )
    assert [e.details["patients_created"] for e in audit.items] == [0, SYNTHEA_PATIENTS]  # newest first


async def test_a_malformed_line_is_reported_with_its_number_and_nothing_of_it_written(
    sql_uow: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    clinic = await sign_up(sql_uow)
    source = (synthea() / "bulk-ndjson-1000-patients" / "Patient.000.ndjson").open(encoding="utf-8")
    with source:
        lines = [next(source) for _ in range(3)]
    broken = lines[1][: len(lines[1]) // 2]  # a line cut in the middle of a patient
    path = tmp_path / "Patient.000.ndjson"
    path.write_text(lines[0] + broken + "\n" + lines[2], encoding="utf-8")
    summary = await _import(sql_uow, clinic.tenant.id, path)
    [skipped] = summary.skipped
    assert str(skipped.location) == "Patient.000.ndjson line 2"
    assert skipped.message.startswith("malformed JSON:")
    assert summary.patients.created == 2
    assert await _count(sql_uow, clinic.tenant.id, patients) == 2
    cut_id = json.loads(lines[1])["id"]
    async with sql_uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as scoped:
        assert await scoped.patients.find_by_identifier("external:synthea", cut_id) is None


async def test_another_clinic_sees_none_of_the_imported_patients(
    sql_uow: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    clinic, other = await sign_up(sql_uow), await sign_up(sql_uow)
    await _import(
        sql_uow,
        clinic.tenant.id,
        synthea() / "fhir-r4-bundles" / "Desmond_Gutmann_d49945ce-9f8c-4974-80e3-0b38054dd45d.json",
    )
    async with sql_uow(Scope(tenant_id=other.tenant.id), read_only=True) as scoped:
        assert (
            await scoped.patients.find_by_identifier(
                "external:synthea", "d49945ce-9f8c-4974-80e3-0b38054dd45d"
            )
            is None
        )
        assert await scoped.external_practitioners.get_by_npi("430") is None
    assert await _count(sql_uow, other.tenant.id, patients) == 0
    # The same files into the other clinic create its own copies: identifiers are unique per clinic.
    summary = await _import(
        sql_uow,
        other.tenant.id,
        synthea() / "fhir-r4-bundles" / "Desmond_Gutmann_d49945ce-9f8c-4974-80e3-0b38054dd45d.json",
    )
    assert (summary.patients.created, summary.practitioners.created) == (1, 1)


def test_clinic_admin_import_fhir_exit_codes_progress_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'admin.sqlite3'}"
    upgrade(url)

    async def clinic_slug() -> str:
        engine = create_engine(url)
        try:
            return (await sign_up(SqlUnitOfWorkFactory(engine))).tenant.slug.value
        finally:
            await engine.dispose()

    slug = asyncio.run(clinic_slug())
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path))
    bundle = synthea() / "fhir-r4-bundles" / "Stephen_McLaughlin_7735ab79-6ac8-4b81-9936-f7ddabd18751.json"
    assert admin_main(["import-fhir", slug, str(bundle), "--strict"]) == 0
    out, err = capsys.readouterr()
    assert "patients:      1 created, 0 updated, 0 unchanged, 0 skipped" in out
    assert "practitioners: 1 created" in out
    assert "import-fhir: 100%" in err  # the progress bar, on stderr

    bad = tmp_path / "Patient.000.ndjson"
    bad.write_text('{"resourceType": "Patient", "id": "x", "name": [\n', encoding="utf-8")
    assert admin_main(["import-fhir", slug, str(bad)]) == 0
    assert admin_main(["import-fhir", slug, str(bad), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "Skipped (1), nothing of them written:\n  Patient.000.ndjson line 1: malformed JSON:" in out

    assert admin_main(["import-fhir", "no-such-clinic", str(bundle)]) == 2
    assert "no clinic has the slug 'no-such-clinic'" in capsys.readouterr().err
    assert admin_main(["import-fhir", slug, str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert admin_main(["import-fhir", slug, str(tmp_path / "empty")]) == 2
    assert "no .ndjson or .json file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        admin_main(["import-fhir", slug])
    assert usage.value.code == 2
