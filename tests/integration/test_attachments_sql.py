"""Attachment use cases on PostgreSQL (as the app role, under row-level security) and on SQLite, with the
filesystem blob store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from returns.result import Failure
from sqlalchemy.exc import IntegrityError

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.attachments.content import MediaType
from clinic_core.attachments.model import Attachment, AttachmentCategory, AttachmentId
from clinic_core.attachments.use_cases import (
    DeleteAttachment,
    DeleteAttachmentCommand,
    DownloadAttachment,
    GetAttachment,
    ListAttachments,
    UploadAttachment,
    UploadAttachmentCommand,
)
from clinic_core.patients.model import PatientId
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_core.testing.patients import a_person
from clinic_infra.blobs import FilesystemBlobStore
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests import attachment_samples as samples
from tests.integration.conftest import sign_up


async def _stream(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 4096):
        await asyncio.sleep(0)
        yield data[start : start + 4096]


async def _patient(uow: SqlUnitOfWorkFactory, tenant: TenantId) -> PatientId:
    patient = a_person(tenant)
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(patient)
        await tx.commit()
    return patient.id


async def _owner(uow: SqlUnitOfWorkFactory) -> Actor:
    signed = await sign_up(uow)
    return Actor(
        user_id=signed.owner.id,
        tenant_id=signed.tenant.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
    )


async def test_attachments_round_trip_and_stay_in_their_tenant(
    sql_uow: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    clock = SystemClock()
    upload = UploadAttachment(sql_uow, blobs, clock, max_bytes=1024 * 1024)
    owner, stranger = await _owner(sql_uow), await _owner(sql_uow)
    patient = await _patient(sql_uow, owner.tenant_id)
    data = samples.pdf("Ultrassom")
    taken = datetime(2026, 2, 1, 15, 30, tzinfo=UTC)

    async def send(category: str, content: bytes) -> Attachment:
        return (
            await upload(
                UploadAttachmentCommand(
                    owner, patient, category, _stream(content), filename="us.pdf", taken_at=taken
                )
            )
        ).unwrap()

    # Concurrent uploads of the same file: two rows, one blob.
    first, second = await asyncio.gather(send("exam_result", data), send("consent_form", data))
    photo = await send("photo", samples.png())
    assert first.sha256 == second.sha256
    assert len([p for p in blobs.root.rglob("*") if p.is_file()]) == 2

    got = (await GetAttachment(sql_uow, clock)(owner, first.id)).unwrap()
    assert (got.filename, got.size, got.taken_at, got.media_type) == (
        "us.pdf",
        len(data),
        taken,
        first.media_type,
    )
    listed = (await ListAttachments(sql_uow, clock)(owner, patient, PageRequest(limit=2))).unwrap()
    assert [a.id for a in listed.items] == [photo.id, max(first.id, second.id)]
    download = (await DownloadAttachment(sql_uow, blobs, clock)(owner, first.id)).unwrap()
    assert b"".join([chunk async for chunk in download.content]) == data

    for read in (
        GetAttachment(sql_uow, clock)(stranger, first.id),
        DownloadAttachment(sql_uow, blobs, clock)(stranger, first.id),
    ):
        assert await read == Failure(NotFound("attachment", str(first.id)))
    assert isinstance(await ListAttachments(sql_uow, clock)(stranger, patient, PageRequest()), Failure)
    async with sql_uow(Scope(tenant_id=stranger.tenant_id), read_only=True) as tx:
        assert await tx.attachments.get(first.id) is None
        assert await tx.attachments.references(first.sha256) == 0

    deleted = await DeleteAttachment(sql_uow, clock)(DeleteAttachmentCommand(owner, first.id, "duplicado"))
    assert deleted.unwrap().deletion_reason == "duplicado"
    async with sql_uow(Scope(tenant_id=owner.tenant_id), read_only=True) as tx:
        stored = await tx.attachments.get(first.id)
        assert stored is not None
        assert stored.is_deleted
        assert await tx.attachments.references(first.sha256) == 2  # deleted rows still hold the blob
        everything = await tx.attachments.list_for_patient(
            patient, PageRequest(), frozenset(AttachmentCategory)
        )
    assert [a.id for a in everything.items] == [photo.id, second.id]


async def test_a_row_cannot_point_at_another_tenants_patient(sql_uow: SqlUnitOfWorkFactory) -> None:
    owner, stranger = await _owner(sql_uow), await _owner(sql_uow)
    theirs = await _patient(sql_uow, stranger.tenant_id)
    smuggled = Attachment(
        tenant_id=owner.tenant_id,
        id=AttachmentId(new_uuid()),
        patient_id=theirs,
        category=AttachmentCategory.DOCUMENT,
        filename="x.pdf",
        media_type=MediaType.PDF,
        size=10,
        sha256="0" * 64,
        description="",
        taken_at=None,
        uploaded_at=datetime.now(UTC),
        uploaded_by=owner.user_id,
    )
    async with sql_uow(Scope(tenant_id=owner.tenant_id)) as tx:
        with pytest.raises(IntegrityError):  # the composite foreign key (tenant_id, patient_id)
            await tx.attachments.add(smuggled)
