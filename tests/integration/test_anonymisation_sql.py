"""Anonymisation over the real repositories, on PostgreSQL (as the app role) and SQLite: nothing of the
identity stays searchable (prefix and partial names, CPF, phone, identifier, microchip), no search term,
identifier or guardian link remains, photos' blobs go when unreferenced, the export and the access log
tell what happened."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from returns.result import Failure
from sqlalchemy import func, select

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.attachments.ports import BlobKey
from clinic_core.attachments.privacy import AttachmentsErasure, AttachmentsSection
from clinic_core.attachments.use_cases import UploadAttachment, UploadAttachmentCommand
from clinic_core.patients.fields import AddressInput, IdentifierInput, PatientFields
from clinic_core.patients.guardians import GuardianInput, SetGuardians, SetGuardiansCommand
from clinic_core.patients.model import AccessAction, Patient, PatientIsAnonymised
from clinic_core.patients.privacy import AccessLogSection, PatientRecordSection, PatientsPrivacyGateway
from clinic_core.patients.search import SearchInput
from clinic_core.patients.use_cases import (
    RecordWeight,
    RecordWeightCommand,
    RegisterPatient,
    RegisterPatientCommand,
    SearchPatients,
    UpdatePatient,
    UpdatePatientCommand,
)
from clinic_core.privacy.anonymisation import AnonymisePatient, AnonymisePatientCommand
from clinic_core.privacy.consents import RecordConsent, RecordConsentCommand
from clinic_core.privacy.export import ConsentsSection, ExportPatientData, ExportPatientDataQuery
from clinic_core.privacy.model import ConsentDecision
from clinic_core.shared.clock import FixedClock
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp
from clinic_infra.blobs import FilesystemBlobStore
from clinic_infra.db import attachment_tables as at
from clinic_infra.db import patient_tables as pt
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests import attachment_samples as samples
from tests.integration.conftest import sign_up

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
CLOCK = FixedClock(T0)
CPF = "529.982.247-25"
PHONE = "+5511987654321"
MICROCHIP = "985112345678901"


def _owner(clinic: SignedUp) -> Actor:
    return Actor(
        user_id=clinic.owner.id,
        tenant_id=clinic.tenant.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
    )


async def _stream(data: bytes) -> AsyncIterator[bytes]:
    await asyncio.sleep(0)
    yield data


async def _register(uow: SqlUnitOfWorkFactory, actor: Actor, kind: str, **fields: Any) -> Patient:
    result = await RegisterPatient(uow, CLOCK)(RegisterPatientCommand(actor, kind, PatientFields(**fields)))
    patient: Patient = result.unwrap()
    return patient


async def _found(uow: SqlUnitOfWorkFactory, actor: Actor, **given: Any) -> list[str]:
    result = (await SearchPatients(uow, CLOCK)(actor, SearchInput(**given))).unwrap()
    return [p.name.value for p in result.items]


async def test_nothing_of_an_anonymised_identity_is_searchable_or_stored(
    sql_uow: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    clinic = await sign_up(sql_uow)
    owner = _owner(clinic)
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    gateway = PatientsPrivacyGateway()
    maria = await _register(
        sql_uow,
        owner,
        "person",
        name="Maria Conceição Albuquerque",
        social_name="Mariazinha",
        cpf=CPF,
        phones=[PHONE],
        emails=["maria@example.com"],
        birth_date=date(1980, 5, 17),
        identifiers=[IdentifierInput("rg", "12.345.678-9"), IdentifierInput("cns", "123456789012345")],
        address=AddressInput(street="Rua das Flores", city="São Paulo", state="SP", postal_code="01001-000"),
        notes="Prefere manhã",
        tags=["VIP"],
        user_id=clinic.owner.id,
    )
    rex = await _register(
        sql_uow, owner, "animal", name="Rex Albuquerque", species="dog", microchip=MICROCHIP
    )
    other = await _register(sql_uow, owner, "person", name="Mariana Albuquerque")
    assert (
        await SetGuardians(sql_uow, CLOCK)(
            SetGuardiansCommand(owner, rex.id, (GuardianInput(str(maria.id), "owner", True),))
        )
    ).unwrap()
    assert (
        await SetGuardians(sql_uow, CLOCK)(
            SetGuardiansCommand(owner, maria.id, (GuardianInput(str(other.id), "emergency_contact"),))
        )
    ).unwrap()
    await RecordWeight(sql_uow, CLOCK)(RecordWeightCommand(owner, maria.id, "61.5"))
    await RecordConsent(sql_uow, CLOCK, gateway)(
        RecordConsentCommand(owner, maria.id, "marketing_contact", ConsentDecision.GRANTED, "2026-01")
    )
    upload = UploadAttachment(sql_uow, blobs, CLOCK, max_bytes=1024 * 1024)
    photo_bytes, report_bytes = samples.png(), samples.pdf("Hemograma")
    photo = (await upload(UploadAttachmentCommand(owner, maria.id, "photo", _stream(photo_bytes)))).unwrap()
    report = (
        await upload(UploadAttachmentCommand(owner, maria.id, "exam_result", _stream(report_bytes)))
    ).unwrap()
    # The same photo in another patient's record: its blob must outlive Maria's erasure.
    shared = (
        await upload(UploadAttachmentCommand(owner, other.id, "photo", _stream(samples.png(b"outra"))))
    ).unwrap()
    shared_again = (
        await upload(UploadAttachmentCommand(owner, maria.id, "photo", _stream(samples.png(b"outra"))))
    ).unwrap()
    assert shared.sha256 == shared_again.sha256
    searches: list[dict[str, Any]] = [
        {"q": "maria conc"},
        {"q": "conceicao", "partial": True},
        {"q": "cao albu", "partial": True},
        {"q": "mariazinha"},
        {"q": "52998224725"},
        {"cpf": CPF},
        {"phone": "11987654321"},
        {"q": "11987654"},
        {"identifier": "rg|12.345.678-9"},
        {"identifier": "cns|123456789012345"},
        {"tag": "vip"},
    ]
    for given in searches:
        assert "Maria Conceição Albuquerque" in await _found(sql_uow, owner, **given), given
    assert await _found(sql_uow, owner, microchip=MICROCHIP) == ["Rex Albuquerque"]

    anonymise = AnonymisePatient(sql_uow, CLOCK, gateway, (AttachmentsErasure(blobs),))
    outcome = (
        await anonymise(AnonymisePatientCommand(owner, maria.id, "pedido 2026-17", str(maria.id)))
    ).unwrap()
    assert outcome.counts["patient.search_terms_deleted"] > 5
    assert outcome.counts["patient.identifiers_erased"] == 2
    assert outcome.counts["patient.guardian_links_removed"] == 2
    assert outcome.counts["consents.withdrawn"] == 1
    assert outcome.counts["attachments.photos_erased"] == 2
    assert outcome.counts["attachments.kept"] == 1  # the exam, inside the 20-year window
    assert outcome.counts["attachments.blobs_deleted"] == 1  # the shared photo's blob stays

    for given in searches:
        assert "Maria Conceição Albuquerque" not in await _found(sql_uow, owner, **given), given
        names = await _found(sql_uow, owner, **given)
        assert not any(name.startswith("Paciente anonimizado") for name in names), given
    assert await _found(sql_uow, owner, q="paciente anonimizado", partial=True) == []
    assert await _found(sql_uow, owner, q="albuquerque", partial=True) == [
        "Mariana Albuquerque",
        "Rex Albuquerque",
    ]
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        for table in (pt.patient_search_terms, pt.patient_identifiers):
            left = await tx._db.execute(
                select(func.count()).select_from(table).where(table.c.patient_id == maria.id)
            )
            assert left.scalar_one() == 0, table.name
        g = pt.guardian_links
        links = await tx._db.execute(
            select(func.count())
            .select_from(g)
            .where((g.c.patient_id == maria.id) | (g.c.guardian_id == maria.id))
        )
        assert links.scalar_one() == 0
        row = (await tx._db.execute(select(pt.patients).where(pt.patients.c.id == maria.id))).mappings().one()
        assert row["search_name"] == ""
        assert (row["cpf"], row["user_id"], row["social_name"], row["notes"], row["address"]) == (None,) * 5
        assert (row["phones"], row["emails"], row["tags"]) == ([], [], [])
        assert row["birth_date"] == date(1980, 1, 1)
        assert row["anonymised_at"] == T0
        assert row["name"] == f"Paciente anonimizado {str(maria.id)[:8]}"
        erased = (
            (await tx._db.execute(select(at.attachments).where(at.attachments.c.id == photo.id)))
            .mappings()
            .one()
        )
        assert (erased["erased_at"], erased["sha256"], erased["deleted_at"]) == (T0, "0" * 64, T0)
        assert await tx.patients.find_by_user(clinic.owner.id) is None
        assert (await tx.patients.get(rex.id)) is not None
        assert await tx.guardians.of_patient(rex.id) == []
    assert not await blobs.exists(BlobKey(clinic.tenant.id, photo.sha256))
    assert await blobs.exists(BlobKey(clinic.tenant.id, shared.sha256))
    assert await blobs.exists(BlobKey(clinic.tenant.id, report.sha256))

    # Nothing more is recorded about her.
    refused = await UpdatePatient(sql_uow, CLOCK)(
        UpdatePatientCommand(owner, maria.id, 2, PatientFields(name="Maria de Novo"))
    )
    assert isinstance(refused, Failure)
    assert isinstance(refused.failure(), PatientIsAnonymised)
    again = await upload(UploadAttachmentCommand(owner, maria.id, "exam_result", _stream(report_bytes)))
    assert isinstance(again, Failure)
    assert isinstance(again.failure(), PatientIsAnonymised)
    # The CPF is free again: a new registration is a new person, not the old record.
    newcomer = await _register(sql_uow, owner, "person", name="Maria Conceição Albuquerque", cpf=CPF)
    assert newcomer.id != maria.id

    export = ExportPatientData(
        sql_uow,
        CLOCK,
        gateway,
        (PatientRecordSection(), ConsentsSection(), AccessLogSection(), AttachmentsSection()),
    )
    document: Any = json.loads(
        json.dumps((await export(ExportPatientDataQuery(owner, maria.id))).unwrap().document)
    )
    assert document["anonymised"] is True
    text = repr(document)
    for identity in ("Conceição", "Mariazinha", "52998224725", "12.345.678-9", "Flores", "maria@", "987654"):
        assert identity not in text, identity
    actions = [row["action"] for row in document["access_log"]]
    assert actions[:2] == [AccessAction.EXPORT.value, AccessAction.ANONYMISE.value]
    assert document["patient"]["weights"][0]["kg"] == "61.500"
    by_id = {a["id"]: a for a in document["attachments"]}
    assert by_id[str(report.id)]["content_path"] == f"/v1/attachments/{report.id}/content"
    assert (by_id[str(photo.id)]["content_path"], by_id[str(photo.id)]["sha256"]) == (None, None)
    async with sql_uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as tx:
        log = await tx.patient_access.page(maria.id, PageRequest(limit=200))
        assert {e.action for e in log.items} >= {AccessAction.ANONYMISE, AccessAction.EXPORT}
