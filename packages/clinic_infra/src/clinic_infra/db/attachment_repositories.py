"""The SQL repository of attachments' rows (their bytes are in the BlobStore)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import bindparam, func, insert, select, update

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.attachments.content import MediaType
from clinic_core.attachments.model import Attachment, AttachmentCategory, AttachmentId
from clinic_core.shared.ids import ApiKeyId, TenantId, UserId
from clinic_infra.db.attachment_tables import attachments as a
from clinic_infra.db.repositories import Row, _one_by, _page_of, _Repository

if TYPE_CHECKING:
    from clinic_infra.db.unit_of_work import SqlSession

_BY_ID = _one_by(a, "tenant_id", "id")
_REFERENCES = select(func.count()).where(
    a.c.tenant_id == bindparam("tenant_id"), a.c.sha256 == bindparam("sha256")
)


def _attachment(row: Row) -> Attachment:
    return Attachment(
        tenant_id=TenantId(row["tenant_id"]),
        id=AttachmentId(row["id"]),
        patient_id=row["patient_id"],
        category=AttachmentCategory(row["category"]),
        filename=row["filename"],
        media_type=MediaType(row["media_type"]),
        size=row["size"],
        sha256=row["sha256"],
        description=row["description"],
        taken_at=row["taken_at"],
        appointment_id=row["appointment_id"],
        uploaded_at=row["uploaded_at"],
        uploaded_by=UserId(row["uploaded_by"]) if row["uploaded_by"] else None,
        uploaded_by_api_key=ApiKeyId(row["uploaded_by_api_key"]) if row["uploaded_by_api_key"] else None,
        deleted_at=row["deleted_at"],
        deleted_by=UserId(row["deleted_by"]) if row["deleted_by"] else None,
        deleted_by_api_key=ApiKeyId(row["deleted_by_api_key"]) if row["deleted_by_api_key"] else None,
        deletion_reason=row["deletion_reason"],
        erased_at=row["erased_at"],
    )


def _changeable(attachment: Attachment) -> dict[str, Any]:
    return {
        "deleted_at": attachment.deleted_at,
        "deleted_by": attachment.deleted_by,
        "deleted_by_api_key": attachment.deleted_by_api_key,
        "deletion_reason": attachment.deletion_reason,
        "erased_at": attachment.erased_at,
        "filename": attachment.filename,
        "description": attachment.description,
        "taken_at": attachment.taken_at,
        "sha256": attachment.sha256,
    }


class SqlAttachmentRepository(_Repository):
    def __init__(self, db: SqlSession) -> None:
        super().__init__(db)

    async def add(self, attachment: Attachment) -> None:
        await self._db.execute(
            insert(a).values(
                tenant_id=self._db.tenant_id(),
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
                uploaded_by_api_key=attachment.uploaded_by_api_key,
                deleted_at=attachment.deleted_at,
                deleted_by=attachment.deleted_by,
                deleted_by_api_key=attachment.deleted_by_api_key,
                deletion_reason=attachment.deletion_reason,
                erased_at=attachment.erased_at,
            )
        )
        self._db.saw(attachment)

    async def get(self, attachment_id: AttachmentId) -> Attachment | None:
        row = await self._row(_BY_ID, {"tenant_id": self._db.tenant_id(), "id": attachment_id})
        if row is None:
            return None
        attachment = _attachment(row)
        self._db.saw(attachment)
        return attachment

    async def list_for_patient(
        self, patient_id: UUID, page: PageRequest, categories: frozenset[AttachmentCategory]
    ) -> Page[Attachment]:
        if not categories:
            return Page([], None)
        query = select(a).where(
            a.c.tenant_id == self._db.tenant_id(),
            a.c.patient_id == patient_id,
            a.c.deleted_at.is_(None),
            a.c.category.in_(sorted(c.value for c in categories)),
        )
        if page.after is not None:
            query = query.where(a.c.id < page.after)
        rows, after = _page_of(await self._rows(query.order_by(a.c.id.desc()).limit(page.limit + 1)), page)
        return Page([_attachment(r) for r in rows], after)

    async def save(self, attachment: Attachment) -> None:
        await self._db.execute(
            update(a)
            .where(a.c.tenant_id == self._db.tenant_id(), a.c.id == attachment.id)
            .values(_changeable(attachment))
        )
        self._db.saw(attachment)

    async def all_of_patient(self, patient_id: UUID) -> list[Attachment]:
        rows = await self._rows(
            select(a)
            .where(a.c.tenant_id == self._db.tenant_id(), a.c.patient_id == patient_id)
            .order_by(a.c.id)
        )
        found = [_attachment(r) for r in rows]
        self._db.saw(*found)
        return found

    async def references(self, sha256: str) -> int:
        found = await self._db.execute(_REFERENCES, {"tenant_id": self._db.tenant_id(), "sha256": sha256})
        return int(found.scalar_one())
