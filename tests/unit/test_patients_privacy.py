"""The patients feature as privacy sees it, on the in-memory adapters: the gateway's visibility and
portal rules (the feature's own), anonymisation of the record and of attachments, and what an anonymised
patient refuses afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from returns.result import Failure

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope
from clinic_core.attachments.content import MediaType
from clinic_core.attachments.model import Attachment, AttachmentCategory, AttachmentId
from clinic_core.attachments.ports import BlobKey
from clinic_core.attachments.privacy import AttachmentsErasure
from clinic_core.clinical.model import ClinicalNote, NoteId, NoteType
from clinic_core.clinical.privacy import ClinicalRecordsRetention
from clinic_core.patients.fields import IdentifierInput, PatientFields
from clinic_core.patients.guardians import (
    GuardianInput,
    SetGuardians,
    SetGuardiansCommand,
    UpdatePatientSettings,
    UpdatePatientSettingsCommand,
    family_of,
)
from clinic_core.patients.model import AccessAction, Patient, PatientIsAnonymised
from clinic_core.patients.privacy import PatientsPrivacyGateway
from clinic_core.patients.use_cases import (
    ChangePatientStatus,
    ChangePatientStatusCommand,
    RecordWeight,
    RecordWeightCommand,
    UpdatePatient,
    UpdatePatientCommand,
)
from clinic_core.privacy.anonymisation import AnonymisePatient, AnonymisePatientCommand
from clinic_core.privacy.consents import ListConsents, ListConsentsQuery
from clinic_core.privacy.model import PatientAnonymised
from clinic_core.privacy.ports import AnonymisationStep
from clinic_core.shared.errors import InvalidInput, NotFound
from clinic_core.shared.ids import UserId, new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_core.testing.blobs import InMemoryBlobStore
from tests.unit.test_patients import T0, VALID_CPF, World, _world

GATEWAY = PatientsPrivacyGateway()


@pytest.fixture
async def world() -> World:
    return await _world()


CONTEXT = RequestContext(ip="203.0.113.9", user_agent="test", request_id="r1")


async def _find(world: World, actor: Actor, patient: Patient) -> object:
    async with world.uow(Scope(tenant_id=actor.tenant_id)) as tx:
        return await GATEWAY.find(tx, actor, patient.id)


async def test_staff_reach_a_patient_as_the_patients_feature_decides(world: World) -> None:
    north, south = await world.unit("Norte"), await world.unit("Sul")
    in_north = await world.register(name="Ana Norte", unit_id=north)
    clinic_wide = await world.register(name="Bia Geral")
    southern = world.actor(Role.RECEPTIONIST, units=frozenset({south}))
    # Shared across units (the default): everyone sees everyone.
    assert await _find(world, southern, in_north) is not None
    closed = await UpdatePatientSettings(world.uow, world.clock)(
        UpdatePatientSettingsCommand(world.owner, patients_shared_across_units=False)
    )
    assert not isinstance(closed, Failure)
    assert await _find(world, southern, in_north) is None
    assert await _find(world, southern, clinic_wide) is not None
    assert await _find(world, world.owner, in_north) is not None
    other = await _world(world.uow, "Outra Clínica")
    assert await _find(world, other.owner, in_north) is None


async def test_portal_users_are_exactly_those_whose_family_holds_the_patient(world: World) -> None:
    maria_client, joao_client, stranger = await world.client(), await world.client(), await world.client()
    maria = await world.register(name="Maria", user_id=maria_client.user_id)
    joao = await world.register(name="João", user_id=joao_client.user_id)
    rex = await world.register("animal", name="Rex", species="dog")
    await SetGuardians(world.uow, world.clock)(
        SetGuardiansCommand(
            world.owner,
            rex.id,
            (GuardianInput(str(maria.id), "owner", True), GuardianInput(str(joao.id), "emergency_contact")),
        )
    )
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id)) as tx:
        for patient in (maria, joao, rex):
            subject = await GATEWAY.find(tx, world.owner, patient.id)
            assert subject is not None
            for client in (maria_client, joao_client, stranger):
                _, family = await family_of(tx, client)
                assert (client.user_id in subject.portal_user_ids) == (patient.id in family)
        rex_subject = await GATEWAY.find(tx, world.owner, rex.id)
        assert rex_subject is not None
        assert rex_subject.portal_user_ids == {maria_client.user_id, joao_client.user_id}


async def test_the_gateway_writes_the_access_log_with_privacy_actions(world: World) -> None:
    maria = await world.register(name="Maria")
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id)) as tx:
        for action in ("consents.read", "export", "anonymise"):
            await GATEWAY.record_access(tx, world.owner, maria.id, action, CONTEXT, T0)
        await tx.commit()
    assert await world.access_actions(maria.id) == [
        AccessAction.CONSENTS_READ,
        AccessAction.EXPORT,
        AccessAction.ANONYMISE,
    ]


def _anonymise(world: World, *steps: AnonymisationStep) -> AnonymisePatient:
    return AnonymisePatient(world.uow, world.clock, GATEWAY, steps)


async def test_anonymising_erases_the_identity_links_and_search_and_announces_it(world: World) -> None:
    maria_client = await world.client()
    maria = await world.register(
        name="Maria Conceição",
        social_name="Mariazinha",
        cpf=VALID_CPF,
        phones=["11987654321"],
        emails=["maria@example.com"],
        identifiers=[IdentifierInput("rg", "12.345.678-9")],
        birth_date=date(1980, 5, 17),
        notes="Prefere manhã",
        tags=["VIP"],
        sex="female",
        user_id=maria_client.user_id,
    )
    mother = await world.register(name="Joana Conceição")
    rex = await world.register("animal", name="Rex", species="dog", breed="Labrador")
    await SetGuardians(world.uow, world.clock)(
        SetGuardiansCommand(world.owner, rex.id, (GuardianInput(str(maria.id), "owner", True),))
    )
    await SetGuardians(world.uow, world.clock)(
        SetGuardiansCommand(world.owner, maria.id, (GuardianInput(str(mother.id), "legal_guardian"),))
    )
    outcome = (
        await _anonymise(world)(AnonymisePatientCommand(world.owner, maria.id, "pedido 17", str(maria.id)))
    ).unwrap()
    assert outcome.counts["patient.guardian_links_removed"] == 2
    assert outcome.counts["patient.identifiers_erased"] == 1
    assert outcome.counts["patient.search_terms_deleted"] == len(maria.search_terms())

    async with world.uow(Scope(tenant_id=world.clinic.tenant.id), read_only=True) as tx:
        stored = await tx.patients.get(maria.id)
        assert stored is not None
        assert stored.name.value == f"Paciente anonimizado {str(maria.id)[:8]}"
        assert (stored.social_name, stored.cpf, stored.microchip, stored.user_id, stored.address) == (
            None,
        ) * 5
        assert (stored.phones, stored.emails, stored.identifiers, stored.tags) == ((), (), (), frozenset())
        assert stored.notes is None
        assert (stored.birth_date, stored.birth_date_estimated) == (date(1980, 1, 1), True)
        assert stored.sex.value == "female"  # a clinical fact, kept
        assert stored.anonymised_at == T0
        assert stored.search_terms() == frozenset()
        assert stored.search_name == ""
        assert await tx.guardians.of_patient(rex.id) == []
        assert await tx.guardians.of_patient(maria.id) == []
        assert await tx.patients.find_by_cpf(maria.cpf) is None  # type: ignore[arg-type]
    for query in (
        {"q": "maria"},
        {"q": "mariazinha"},
        {"q": "conceicao", "partial": True},
        {"cpf": VALID_CPF},
    ):
        assert await world.search(**query) in ([], ["Joana Conceição"]), query
    events = [r for r in world.uow.store.outbox if r.topic == PatientAnonymised.topic]
    assert len(events) == 1
    assert "Maria" not in repr(events[0].payload)
    # The portal no longer reaches her.
    refused = await ListConsents(world.uow, world.clock, GATEWAY)(
        ListConsentsQuery(maria_client, maria.id, portal=True)
    )
    assert refused == Failure(NotFound("patient", str(maria.id)))


async def test_an_anonymised_patient_refuses_every_change(world: World) -> None:
    maria = await world.register(name="Maria")
    rex = await world.register("animal", name="Rex", species="dog")
    await _anonymise(world)(AnonymisePatientCommand(world.owner, maria.id, "pedido", str(maria.id)))
    owner = world.owner
    for attempt in (
        UpdatePatient(world.uow, world.clock)(
            UpdatePatientCommand(owner, maria.id, 2, PatientFields(name="X"))
        ),
        ChangePatientStatus(world.uow, world.clock)(ChangePatientStatusCommand(owner, maria.id, "inactive")),
        RecordWeight(world.uow, world.clock)(RecordWeightCommand(owner, maria.id, "60")),
        SetGuardians(world.uow, world.clock)(SetGuardiansCommand(owner, maria.id, ())),
    ):
        result = await attempt
        assert isinstance(result, Failure)
        assert isinstance(result.failure(), PatientIsAnonymised)
        assert result.failure().code == "patient_anonymised"
    named = await SetGuardians(world.uow, world.clock)(
        SetGuardiansCommand(owner, rex.id, (GuardianInput(str(maria.id), "owner"),))
    )
    assert isinstance(named, Failure)
    failure = named.failure()
    assert isinstance(failure, InvalidInput)
    assert [(e.field, e.code) for e in failure.errors] == [("guardians.0.guardian_id", "anonymised")]


def _attachment(
    world: World, patient: Patient, category: AttachmentCategory, sha: str, at: datetime
) -> Attachment:
    return Attachment(
        tenant_id=world.clinic.tenant.id,
        id=AttachmentId(new_uuid()),
        patient_id=patient.id,
        category=category,
        filename="maria.png" if category.value.startswith("photo") else "exame.pdf",
        media_type=MediaType.PNG if category.value.startswith("photo") else MediaType.PDF,
        size=10,
        sha256=sha,
        description="Maria, antes",
        taken_at=at,
        uploaded_at=at,
        uploaded_by=UserId(new_uuid()),
    )


async def _blob(blobs: InMemoryBlobStore, world: World, data: bytes) -> str:
    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return (await blobs.put(world.clinic.tenant.id, chunks(), max_bytes=1000)).sha256


async def test_photos_are_erased_and_other_attachments_follow_retention(world: World) -> None:
    blobs = InMemoryBlobStore()
    maria, ana = await world.register(name="Maria"), await world.register(name="Ana")
    own_photo = await _blob(blobs, world, b"maria photo")
    shared_photo = await _blob(blobs, world, b"shared photo")
    exam = await _blob(blobs, world, b"exam")
    old = datetime(1990, 1, 1, tzinfo=UTC)
    rows = {
        "photo": _attachment(world, maria, AttachmentCategory.PHOTO_BEFORE, own_photo, T0),
        "shared": _attachment(world, maria, AttachmentCategory.PHOTO, shared_photo, T0),
        "anas": _attachment(world, ana, AttachmentCategory.DOCUMENT, shared_photo, T0),
        "exam": _attachment(world, maria, AttachmentCategory.EXAM_RESULT, exam, old),
    }
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id)) as tx:
        for row in rows.values():
            await tx.attachments.add(row)
        await tx.commit()
    step = AttachmentsErasure(blobs)
    first = (
        await _anonymise(world, step)(AnonymisePatientCommand(world.owner, maria.id, "pedido", str(maria.id)))
    ).unwrap()
    # The exam of 1990 is the last clinical entry: its 20-year window closed in 2010, it goes too.
    assert first.clinical_records_kept_until is None
    assert first.counts["attachments.photos_erased"] == 2
    assert first.counts["attachments.erased"] == 1
    assert first.counts["attachments.blobs_deleted"] == 2  # the shared blob is still Ana's document
    tenant = world.clinic.tenant.id
    assert not await blobs.exists(BlobKey(tenant, own_photo))
    assert not await blobs.exists(BlobKey(tenant, exam))
    assert await blobs.exists(BlobKey(tenant, shared_photo))
    async with world.uow(Scope(tenant_id=tenant), read_only=True) as tx:
        for name in ("photo", "shared", "exam"):
            erased = await tx.attachments.get(rows[name].id)
            assert erased is not None
            assert erased.is_erased
            assert erased.is_deleted
            assert (erased.description, erased.taken_at, erased.sha256) == ("", None, "0" * 64)
            assert "maria" not in erased.filename
        anas = await tx.attachments.get(rows["anas"].id)
        assert anas is not None
        assert not anas.is_erased
    # Again: nothing left to erase.
    again = (
        await _anonymise(world, step)(AnonymisePatientCommand(world.owner, maria.id, "pedido", str(maria.id)))
    ).unwrap()
    assert again.counts["attachments.photos_erased"] == again.counts["attachments.erased"] == 0


async def test_a_recent_exam_is_kept_inside_the_window(world: World) -> None:
    blobs = InMemoryBlobStore()
    maria = await world.register(name="Maria")
    exam = _attachment(world, maria, AttachmentCategory.EXAM_RESULT, await _blob(blobs, world, b"exam"), T0)
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id)) as tx:
        await tx.attachments.add(exam)
        await tx.commit()
    outcome = (
        await _anonymise(world, AttachmentsErasure(blobs))(
            AnonymisePatientCommand(world.owner, maria.id, "pedido", str(maria.id))
        )
    ).unwrap()
    assert outcome.clinical_records_kept_until == datetime(2046, 3, 2, 12, tzinfo=UTC)
    assert outcome.counts["attachments.kept"] == 1
    assert await blobs.exists(BlobKey(world.clinic.tenant.id, exam.sha256))


async def test_clinical_notes_set_the_window_and_are_kept_or_counted_past_it(world: World) -> None:
    recent, old = await world.register(name="Maria"), await world.register(name="Joana")
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id)) as tx:
        for patient, at in ((recent, T0), (old, datetime(1990, 1, 1, tzinfo=UTC))):
            await tx.clinical_notes.add(
                ClinicalNote(
                    tenant_id=world.clinic.tenant.id,
                    id=NoteId(new_uuid()),
                    patient_id=patient.id,
                    author_id=world.clinic.owner.id,
                    type=NoteType.EVOLUTION,
                    body="Retorno em 30 dias.",
                    created_at=at,
                )
            )
        await tx.commit()
    anonymise = _anonymise(world, ClinicalRecordsRetention())
    kept = (
        await anonymise(AnonymisePatientCommand(world.owner, recent.id, "pedido", str(recent.id)))
    ).unwrap()
    assert kept.clinical_records_kept_until == datetime(2046, 3, 2, 12, tzinfo=UTC)
    assert kept.counts["clinical_records.notes_kept"] == 1
    past = (await anonymise(AnonymisePatientCommand(world.owner, old.id, "pedido", str(old.id)))).unwrap()
    assert past.clinical_records_kept_until is None
    assert past.counts["clinical_records.past_window_not_erased"] == 1
