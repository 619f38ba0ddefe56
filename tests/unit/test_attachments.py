"""Attachment use cases on the in-memory adapters: permissions by category, type and size checks before
anything is kept, tenant isolation, soft delete, shared blobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.attachments.content import MediaType
from clinic_core.attachments.model import (
    Attachment,
    AttachmentCategory,
    AttachmentContentMissing,
    AttachmentId,
    AttachmentTooLarge,
    MediaTypeMismatch,
    UnsupportedMediaType,
)
from clinic_core.attachments.ports import BlobKey
from clinic_core.attachments.use_cases import (
    DeleteAttachment,
    DeleteAttachmentCommand,
    DownloadAttachment,
    GetAttachment,
    ListAttachments,
    UploadAttachment,
    UploadAttachmentCommand,
    UploadError,
)
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.patients.model import AccessAction, PatientId
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import ApiKeyId, TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Slug
from clinic_core.tenancy.model import Plan, Tenant, TenantStatus
from clinic_core.tenancy.permissions import Permission, Role
from clinic_core.testing import InMemoryUnitOfWorkFactory
from clinic_core.testing.blobs import InMemoryBlobStore
from clinic_core.testing.patients import a_person
from tests import attachment_samples as samples

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
MAX = 64 * 1024


async def _stream(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class World:
    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWorkFactory()
        self.blobs = InMemoryBlobStore()
        self.clock = FixedClock(T0)
        self.upload = UploadAttachment(self.uow, self.blobs, self.clock, max_bytes=MAX)
        self.list = ListAttachments(self.uow, self.clock)
        self.get = GetAttachment(self.uow, self.clock)
        self.download = DownloadAttachment(self.uow, self.blobs, self.clock)
        self.delete = DeleteAttachment(self.uow, self.clock)

    async def patient(self, tenant: TenantId) -> PatientId:
        patient = a_person(tenant)
        async with self.uow(Scope(tenant_id=tenant)) as uow:
            await uow.patients.add(patient)
            await uow.commit()
        return patient.id

    async def send(
        self,
        actor: Actor,
        patient: PatientId,
        data: bytes = b"",
        category: str = "exam_result",
        **values: object,
    ) -> Result[Attachment, UploadError]:
        command = UploadAttachmentCommand(
            actor=actor,
            patient_id=patient,
            category=category,
            content=_stream(data or samples.pdf()),
            **values,  # type: ignore[arg-type]
        )
        return await self.upload(command)


def actor(tenant: TenantId, *roles: Role) -> Actor:
    return Actor(
        user_id=UserId(new_uuid()),
        tenant_id=tenant,
        roles=frozenset(roles or {Role.PROFESSIONAL}),
        unit_ids=frozenset(),
    )


@pytest.fixture
async def world() -> World:
    return World()


@pytest.fixture
def tenant() -> TenantId:
    return TenantId(new_uuid())


async def test_an_upload_is_stored_by_hash_recorded_and_audited(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    doctor = actor(tenant)
    data = samples.pdf()
    result = await world.send(
        doctor,
        patient,
        data,
        filename="../Hemograma março.pdf",
        declared_type="application/pdf",
        description="Hemograma de rotina",
        taken_at=T0 - timedelta(days=1),
    )
    assert isinstance(result, Success)
    attachment = result.unwrap()
    assert attachment.media_type is MediaType.PDF
    assert attachment.filename == "Hemograma março.pdf"
    assert attachment.size == len(data)
    assert attachment.uploaded_by == doctor.user_id
    assert world.blobs.blobs[BlobKey(tenant, attachment.sha256)] == data
    async with world.uow(Scope(tenant_id=tenant), read_only=True) as uow:
        assert (await uow.attachments.get(attachment.id)) is not None
        events = await uow.audit.page(PageRequest(), AuditQuery())
    assert [e.action for e in events.items] == [AuditAction.ATTACHMENT_UPLOADED]
    assert events.items[0].details == {"patient_id": str(patient), "category": "exam_result"}
    assert [r.topic for r in world.uow.store.outbox][-1] == "attachments.uploaded"


async def test_the_front_desk_uploads_paperwork_but_not_clinical_files(
    world: World, tenant: TenantId
) -> None:
    patient = await world.patient(tenant)
    desk = actor(tenant, Role.RECEPTIONIST)
    refused = await world.send(desk, patient, category="exam_result")
    assert refused == Failure(Forbidden(permission="clinical:write"))
    assert world.blobs.blobs == {}
    assert isinstance(await world.send(desk, patient, category="consent_form"), Success)
    client = actor(tenant, Role.CLIENT)
    assert await world.send(client, patient, category="document") == Failure(
        Forbidden(permission="patients:write")
    )


async def test_another_tenants_patient_is_not_found_and_nothing_is_stored(
    world: World, tenant: TenantId
) -> None:
    theirs = await world.patient(TenantId(new_uuid()))
    result = await world.send(actor(tenant), theirs)
    assert result == Failure(NotFound("patient", str(theirs)))
    assert world.blobs.blobs == {}


@pytest.mark.parametrize(
    ("data", "category", "declared", "error"),
    [
        (samples.png(), "exam_result", "application/pdf", MediaTypeMismatch),
        (samples.pdf(), "document", "image/png", MediaTypeMismatch),
        (samples.pdf(), "document", "text/html", MediaTypeMismatch),
        (samples.html(), "document", None, UnsupportedMediaType),
        (samples.html(), "document", "text/html", MediaTypeMismatch),
        (samples.zip_archive(), "other", "application/octet-stream", UnsupportedMediaType),
        (samples.pdf(), "photo_before", None, UnsupportedMediaType),  # a photo must be an image
        (samples.dicom(), "consent_form", None, UnsupportedMediaType),
    ],
)
async def test_the_type_comes_from_the_bytes_and_refusals_keep_nothing(
    world: World, tenant: TenantId, data: bytes, category: str, declared: str | None, error: type
) -> None:
    patient = await world.patient(tenant)
    result = await world.send(actor(tenant), patient, data, category, declared_type=declared)
    assert isinstance(result, Failure)
    assert isinstance(result.failure(), error)
    assert world.blobs.blobs == {}


@pytest.mark.parametrize(
    ("data", "category", "declared"),
    [
        (samples.png(), "photo_after", "image/png"),
        (samples.jpeg(), "photo", "image/jpg"),
        (samples.webp(), "photo_before", None),
        (samples.heic(), "photo", "application/octet-stream"),
        (samples.dicom(), "exam_result", "application/dicom"),
    ],
)
async def test_every_allowed_type_is_accepted(
    world: World, tenant: TenantId, data: bytes, category: str, declared: str | None
) -> None:
    patient = await world.patient(tenant)
    result = await world.send(actor(tenant), patient, data, category, declared_type=declared)
    assert isinstance(result, Success), result


async def test_an_oversize_upload_is_refused_and_kept_nowhere(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    result = await world.send(actor(tenant), patient, samples.png(b"x" * MAX))
    assert result == Failure(AttachmentTooLarge(max_bytes=MAX))
    assert world.blobs.blobs == {}
    async with world.uow(Scope(tenant_id=tenant), read_only=True) as uow:
        listed = await uow.attachments.list_for_patient(patient, PageRequest(), frozenset(AttachmentCategory))
    assert listed.items == []


async def test_bad_fields_are_reported_together_and_an_empty_file_is_refused(
    world: World, tenant: TenantId
) -> None:
    patient = await world.patient(tenant)
    bad = await world.send(
        actor(tenant),
        patient,
        category="xray",
        description="a\x07",
        taken_at=T0 + timedelta(hours=1),
    )
    assert isinstance(bad, Failure)
    failure = bad.failure()
    assert isinstance(failure, InvalidInput)
    assert {e.field for e in failure.errors} == {"category", "description", "taken_at"}
    empty = await world.upload(
        UploadAttachmentCommand(actor(tenant), patient, "document", content=_stream(b""))
    )
    assert empty == Failure(InvalidInput.of("file", "empty", "the file is empty"))


async def test_identical_uploads_share_one_blob(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    doctor = actor(tenant)
    first = (await world.send(doctor, patient, samples.png(), "photo")).unwrap()
    second = (await world.send(doctor, patient, samples.png(), "photo")).unwrap()
    assert first.id != second.id
    assert first.sha256 == second.sha256
    assert len(world.blobs.blobs) == 1
    async with world.uow(Scope(tenant_id=tenant), read_only=True) as uow:
        assert await uow.attachments.references(first.sha256) == 2


async def test_lists_are_newest_first_paged_and_filtered_by_what_the_reader_may_see(
    world: World, tenant: TenantId
) -> None:
    patient = await world.patient(tenant)
    other_patient = await world.patient(tenant)
    doctor = actor(tenant)
    made = []
    for category in ("exam_result", "consent_form", "photo", "document"):
        made.append((await world.send(doctor, patient, samples.png(), category)).unwrap())
    await world.send(doctor, other_patient)
    first = (await world.list(doctor, patient, PageRequest(limit=3))).unwrap()
    assert [a.id for a in first.items] == [a.id for a in reversed(made)][:3]
    rest = (await world.list(doctor, patient, PageRequest(first.next_after, 3))).unwrap()
    assert [a.id for a in rest.items] == [made[0].id]
    assert rest.next_after is None
    desk = (await world.list(actor(tenant, Role.RECEPTIONIST), patient, PageRequest())).unwrap()
    assert {a.category for a in desk.items} == {AttachmentCategory.CONSENT_FORM, AttachmentCategory.DOCUMENT}
    stranger = actor(TenantId(new_uuid()), Role.OWNER)
    assert await world.list(stranger, patient, PageRequest()) == Failure(NotFound("patient", str(patient)))


async def test_reading_one_checks_tenant_category_and_deletion(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    doctor = actor(tenant)
    exam = (await world.send(doctor, patient)).unwrap()
    assert (await world.get(doctor, exam.id)).unwrap().id == exam.id
    assert await world.get(actor(tenant, Role.RECEPTIONIST), exam.id) == Failure(
        Forbidden(permission="clinical:read")
    )
    stranger = actor(TenantId(new_uuid()), Role.OWNER)
    assert await world.get(stranger, exam.id) == Failure(NotFound("attachment", str(exam.id)))
    assert await world.download(stranger, exam.id) == Failure(NotFound("attachment", str(exam.id)))
    unknown = AttachmentId(new_uuid())
    assert await world.get(doctor, unknown) == Failure(NotFound("attachment", str(unknown)))


async def test_a_download_streams_the_stored_bytes(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    doctor = actor(tenant)
    data = samples.pdf("x" * 50_000)  # many chunks of the store
    exam = (await world.send(doctor, patient, data)).unwrap()
    download = (await world.download(doctor, exam.id)).unwrap()
    assert download.attachment.id == exam.id
    assert b"".join([chunk async for chunk in download.content]) == data


async def test_a_row_whose_bytes_are_gone_is_an_outage_not_a_crash(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    doctor = actor(tenant)
    exam = (await world.send(doctor, patient)).unwrap()
    world.blobs.blobs.clear()
    assert await world.download(doctor, exam.id) == Failure(AttachmentContentMissing())


async def test_delete_is_soft_needs_a_reason_and_the_right_permission(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    doctor = actor(tenant)
    exam = (await world.send(doctor, patient)).unwrap()
    no_reason = await world.delete(DeleteAttachmentCommand(doctor, exam.id, "  "))
    assert isinstance(no_reason, Failure)
    desk = actor(tenant, Role.RECEPTIONIST)
    assert await world.delete(DeleteAttachmentCommand(desk, exam.id, "duplicado")) == Failure(
        Forbidden(permission="clinical:read")
    )
    nurse_only_reads = replace(doctor, granted=doctor.permissions - {Permission.CLINICAL_WRITE})
    assert await world.delete(DeleteAttachmentCommand(nurse_only_reads, exam.id, "duplicado")) == Failure(
        Forbidden(permission="clinical:write")
    )
    deleted = (await world.delete(DeleteAttachmentCommand(doctor, exam.id, "paciente errado"))).unwrap()
    assert deleted.deleted_at == T0
    assert deleted.deletion_reason == "paciente errado"
    assert await world.get(doctor, exam.id) == Failure(NotFound("attachment", str(exam.id)))
    assert await world.delete(DeleteAttachmentCommand(doctor, exam.id, "again")) == Failure(
        NotFound("attachment", str(exam.id))
    )
    assert (await world.list(doctor, patient, PageRequest())).unwrap().items == []
    # Kept for the record's retention: the row and the bytes.
    assert BlobKey(tenant, exam.sha256) in world.blobs.blobs
    async with world.uow(Scope(tenant_id=tenant), read_only=True) as uow:
        assert await uow.attachments.references(exam.sha256) == 1
        actions = [e.action for e in (await uow.audit.page(PageRequest(), AuditQuery())).items]
    assert actions == [AuditAction.ATTACHMENT_DELETED, AuditAction.ATTACHMENT_UPLOADED]


async def test_an_api_key_uploads_as_itself(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    key = ApiKeyId(new_uuid())
    lab = replace(actor(tenant, Role.ADMIN), api_key_id=key)
    exam = (await world.send(lab, patient)).unwrap()
    assert (exam.uploaded_by, exam.uploaded_by_api_key) == (None, key)


# --- the access log and per-unit visibility ---------------------------------------------------------------


async def _access_actions(world: World, tenant: TenantId, patient: PatientId) -> list[AccessAction]:
    async with world.uow(Scope(tenant_id=tenant), read_only=True) as uow:
        page = await uow.patient_access.page(patient, PageRequest(limit=50))
    return sorted(entry.action for entry in page.items)


async def test_every_read_of_an_attachment_is_in_the_patients_access_log(
    world: World, tenant: TenantId
) -> None:
    patient = await world.patient(tenant)
    doctor = actor(tenant)
    attachment = (await world.send(doctor, patient)).unwrap()
    assert await _access_actions(world, tenant, patient) == []  # an upload is not a read

    context = RequestContext(ip="203.0.113.7", user_agent="pytest", request_id="req-1")
    assert isinstance(await world.list(doctor, patient, PageRequest(), context), Success)
    assert isinstance(await world.get(doctor, attachment.id, context), Success)
    download = (await world.download(doctor, attachment.id, context)).unwrap()
    await download.content.aclose()

    assert await _access_actions(world, tenant, patient) == sorted(
        [AccessAction.ATTACHMENTS, AccessAction.ATTACHMENTS, AccessAction.ATTACHMENT_CONTENT]
    )
    async with world.uow(Scope(tenant_id=tenant), read_only=True) as uow:
        entries = (await uow.patient_access.page(patient, PageRequest(limit=50))).items
    assert {(e.actor_user_id, e.ip, e.user_agent, e.request_id) for e in entries} == {
        (doctor.user_id, "203.0.113.7", "pytest", "req-1")
    }


async def test_a_refused_read_leaves_no_access_log_row(world: World, tenant: TenantId) -> None:
    patient = await world.patient(tenant)
    attachment = (await world.send(actor(tenant), patient)).unwrap()
    front_desk = actor(tenant, Role.RECEPTIONIST)
    assert isinstance(await world.get(front_desk, attachment.id), Failure)  # an exam result: clinical
    stranger = actor(TenantId(new_uuid()))
    assert isinstance(await world.list(stranger, patient, PageRequest()), Failure)
    assert await _access_actions(world, tenant, patient) == []


async def test_a_clinic_that_keeps_patients_per_unit_hides_other_units_attachments(
    world: World, tenant: TenantId
) -> None:
    north, centre = UnitId(new_uuid()), UnitId(new_uuid())
    clinic = Tenant(
        id=tenant,
        slug=Slug("clinica-norte"),
        name="Clínica Norte",
        plan=Plan.CLINIC,
        status=TenantStatus.ACTIVE,
        created_at=T0,
        patients_shared_across_units=False,
    )
    async with world.uow(Scope(tenant_id=tenant)) as uow:
        await uow.tenants.add(clinic)
        await uow.commit()
    patient = a_person(tenant, unit_id=centre)
    async with world.uow(Scope(tenant_id=tenant)) as uow:
        await uow.patients.add(patient)
        await uow.commit()
    attachment = (await world.send(actor(tenant), patient.id)).unwrap()

    northern_doctor = replace(actor(tenant), unit_ids=frozenset({north}))
    assert await world.get(northern_doctor, attachment.id) == Failure(
        NotFound("attachment", str(attachment.id))
    )
    assert await world.list(northern_doctor, patient.id, PageRequest()) == Failure(
        NotFound("patient", str(patient.id))
    )
    refused = await world.send(northern_doctor, patient.id)
    assert refused == Failure(NotFound("patient", str(patient.id)))
    central_doctor = replace(actor(tenant), unit_ids=frozenset({centre}))
    assert isinstance(await world.get(central_doctor, attachment.id), Success)
