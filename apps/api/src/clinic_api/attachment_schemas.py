"""The JSON of the attachment routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field

from clinic_api.schemas import RequestModel, ResponseModel
from clinic_core.attachments.model import Attachment


class AttachmentOut(ResponseModel):
    id: UUID
    patient_id: UUID
    category: str
    """exam_result, consent_form, photo_before, photo_after, photo, document or other."""
    filename: str
    """The uploaded name, made safe, ending in an extension of ``media_type``."""
    media_type: str
    """As read from the content itself: application/pdf, image/jpeg, image/png, image/webp, image/heic or
    application/dicom."""
    size: int
    """Bytes."""
    sha256: str
    """Hex SHA-256 of the content; also the ETag of its download."""
    description: str
    taken_at: datetime | None
    appointment_id: UUID | None
    uploaded_at: datetime
    uploaded_by: UUID | None
    """The person who uploaded it; null when an API key did."""
    content_url: str
    """Where the content is downloaded (same credentials as this request)."""

    @classmethod
    def of(cls, attachment: Attachment) -> AttachmentOut:
        return cls(
            id=attachment.id,
            patient_id=attachment.patient_id,
            category=attachment.category.value,
            filename=attachment.filename,
            media_type=attachment.media_type.value,
            size=attachment.size,
            sha256=attachment.sha256,
            description=attachment.description,
            taken_at=attachment.taken_at,
            appointment_id=attachment.appointment_id,
            uploaded_at=attachment.uploaded_at,
            uploaded_by=attachment.uploaded_by,
            content_url=f"/v1/attachments/{attachment.id}/content",
        )


class AttachmentPage(ResponseModel):
    items: list[AttachmentOut]
    next_cursor: str | None
    """Pass it back as ``cursor`` for the next page; null on the last page."""


class DeleteAttachmentRequest(RequestModel):
    reason: Annotated[str, Field(max_length=2000)]
    """Why it is deleted (a wrong patient, a duplicate): kept with the attachment and in the audit trail."""
