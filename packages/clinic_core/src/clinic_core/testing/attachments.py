"""In-memory attachments' rows, with the SQL repository's contracts: one tenant, a patient of that tenant
(the foreign key), newest first, deleted ones left out of lists."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.attachments.model import Attachment, AttachmentCategory, AttachmentId
from clinic_core.shared.ids import TenantId


class InMemoryAttachments:
    def __init__(
        self,
        rows: dict[UUID, Attachment],
        patients: Mapping[UUID, object],
        seen: list[object],
        tenant: TenantId,
    ) -> None:
        self._rows, self._patients, self._seen, self._tenant = rows, patients, seen, tenant

    async def add(self, attachment: Attachment) -> None:
        patient = self._patients.get(attachment.patient_id)
        if attachment.tenant_id != self._tenant or getattr(patient, "tenant_id", None) != self._tenant:
            raise AssertionError("fk_attachments_patient: the patient is not of the attachment's tenant")
        self._rows[attachment.id] = attachment
        self._seen.append(attachment)

    async def get(self, attachment_id: AttachmentId) -> Attachment | None:
        found = self._rows.get(attachment_id)
        if found is None or found.tenant_id != self._tenant:
            return None
        self._seen.append(found)
        return found

    async def list_for_patient(
        self, patient_id: UUID, page: PageRequest, categories: frozenset[AttachmentCategory]
    ) -> Page[Attachment]:
        rows = sorted(
            (
                a
                for a in self._rows.values()
                if a.tenant_id == self._tenant
                and a.patient_id == patient_id
                and not a.is_deleted
                and a.category in categories
                and (page.after is None or a.id < page.after)
            ),
            key=lambda a: a.id,
            reverse=True,
        )
        items = rows[: page.limit]
        return Page(items, items[-1].id if len(rows) > page.limit and items else None)

    async def save(self, attachment: Attachment) -> None:
        if attachment.tenant_id != self._tenant or attachment.id not in self._rows:
            raise AssertionError("saving an attachment that was never added")
        self._rows[attachment.id] = attachment
        self._seen.append(attachment)

    async def all_of_patient(self, patient_id: UUID) -> list[Attachment]:
        found = [a for a in self._rows.values() if a.tenant_id == self._tenant and a.patient_id == patient_id]
        self._seen.extend(found)
        return sorted(found, key=lambda a: a.id)

    async def references(self, sha256: str) -> int:
        return sum(1 for a in self._rows.values() if a.tenant_id == self._tenant and a.sha256 == sha256)
