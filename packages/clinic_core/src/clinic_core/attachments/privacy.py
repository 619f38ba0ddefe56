"""Attachments as privacy (LGPD) sees them: their part of the patient data export, and of anonymisation.

The export lists every attachment's metadata (deleted ones too: the clinic still holds them), never the
bytes, with the path each file's content is downloaded from. Anonymisation erases photos at once (a face
is identity; the law asks for the record, not the pictures); the other attachments are part of the
prontuário and follow the clinical records: kept while inside the retention window, erased once outside.
An erased attachment stays as a row (deleted, without name, description, time taken or hash); its blob is
deleted once no other row of the clinic refers to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.attachments.model import Attachment, AttachmentCategory
from clinic_core.attachments.ports import BlobKey, BlobStore
from clinic_core.clinical.timeline import TimelineKind
from clinic_core.privacy.ports import AnonymisationPlan, JsonValue

PHOTOS = frozenset(
    {AttachmentCategory.PHOTO, AttachmentCategory.PHOTO_BEFORE, AttachmentCategory.PHOTO_AFTER}
)
"""Erased by every anonymisation, whatever the retention."""

CONTENT_PATH = "/v1/attachments/{id}/content"
"""Where staff download an attachment's bytes (``patients:read``, plus ``clinical:read`` for clinical
categories)."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _str(value: object | None) -> str | None:
    return str(value) if value is not None else None


def attachment_document(attachment: Attachment) -> dict[str, JsonValue]:
    available = not attachment.is_deleted
    return {
        "id": str(attachment.id),
        "category": attachment.category.value,
        "filename": attachment.filename,
        "media_type": attachment.media_type.value,
        "size": attachment.size,
        "sha256": None if attachment.is_erased else attachment.sha256,
        "description": attachment.description,
        "taken_at": _iso(attachment.taken_at),
        "appointment_id": _str(attachment.appointment_id),
        "uploaded_at": attachment.uploaded_at.isoformat(),
        "uploaded_by_user_id": _str(attachment.uploaded_by),
        "uploaded_by_api_key_id": _str(attachment.uploaded_by_api_key),
        "deleted_at": _iso(attachment.deleted_at),
        "deletion_reason": attachment.deletion_reason,
        "erased_at": _iso(attachment.erased_at),
        "content_path": CONTENT_PATH.format(id=attachment.id) if available else None,
    }


class AttachmentsSection:
    """``attachments``: every attachment's metadata, oldest first. The bytes are not in the document: each
    available file names its ``content_path`` (``GET``, as staff); deleted ones are listed without one."""

    name = "attachments"

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue:
        return [attachment_document(a) for a in await uow.attachments.all_of_patient(patient_id)]


class AttachmentsErasure:
    """Photos are erased; the other attachments are kept while the clinical records are, erased with them
    once the retention window has closed. The window counts clinical attachments (exam results,
    ``other``) as clinical entries, from their upload."""

    name = "attachments"

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    async def last_clinical_entry_at(self, uow: UnitOfWork, patient_id: UUID) -> datetime | None:
        entries = [
            a.uploaded_at
            for a in await uow.attachments.all_of_patient(patient_id)
            if a.category.is_clinical and a.category not in PHOTOS and not a.is_erased
        ]
        return max(entries, default=None)

    async def apply(self, uow: UnitOfWork, plan: AnonymisationPlan) -> Mapping[str, int]:
        counts = {"photos_erased": 0, "erased": 0, "kept": 0, "blobs_deleted": 0}
        hashes: set[str] = set()
        for attachment in await uow.attachments.all_of_patient(plan.patient_id):
            if attachment.is_erased:
                continue
            photo = attachment.category in PHOTOS
            if not photo and plan.keep_clinical_records:
                counts["kept"] += 1
                continue
            former = attachment.erase(at=plan.at, by=plan.actor_user_id)
            await uow.attachments.save(attachment)
            await uow.timeline.remove(TimelineKind.ATTACHMENT, attachment.id)
            counts["photos_erased" if photo else "erased"] += 1
            if former is not None:
                hashes.add(former)
        # The rows are written first, in this unit of work: a blob goes only once nothing refers to it. A
        # commit that then fails leaves rows that refer to a deleted blob; anonymising again erases them.
        tenant_id = uow.scope.tenant_id
        if tenant_id is not None:
            for sha256 in sorted(hashes):
                if await uow.attachments.references(sha256) == 0:
                    counts["blobs_deleted"] += int(await self._blobs.delete(BlobKey(tenant_id, sha256)))
        return counts
