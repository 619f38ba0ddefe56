"""Where attachments' bytes and rows are kept."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.attachments.model import Attachment, AttachmentCategory, AttachmentId
from clinic_core.shared.ids import TenantId

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class BlobKey:
    """Where a blob lives: ``<tenant_id>/<sha256[:2]>/<sha256>``. Content-addressed per tenant, so one
    clinic's identical uploads share their bytes and no two clinics ever share any. Made only of a UUID
    and hex digits, so no key can name a path outside the store."""

    tenant_id: TenantId
    sha256: str

    def __post_init__(self) -> None:
        if not isinstance(self.tenant_id, UUID):
            raise ValueError("BlobKey: tenant_id is a UUID")
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError("BlobKey: sha256 is 64 lowercase hex digits")

    @property
    def parts(self) -> tuple[str, str, str]:
        return (str(self.tenant_id), self.sha256[:2], self.sha256)

    def __str__(self) -> str:
        return "/".join(self.parts)


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: BlobKey
    size: int
    sha256: str


class BlobTooLarge(Exception):
    """The stream went past ``max_bytes``: nothing was kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the blob exceeds {max_bytes} bytes")
        self.max_bytes = max_bytes


class BlobNotFound(Exception):
    """No blob under the key."""

    def __init__(self, key: BlobKey) -> None:
        super().__init__(f"no blob {key}")
        self.key = key


class BlobReader(Protocol):
    """The chunks of an open blob, read once. ``aclose`` releases it early (a client that went away);
    reading to the end releases it too."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class BlobStore(Protocol):
    """Bytes by content. Stores are shared by every unit of work and are not transactional: a blob is
    written before the row that refers to it commits, so a failed commit leaves an unreferenced blob,
    which is harmless (the next identical upload reuses it) and never a row without its bytes."""

    async def put(self, tenant_id: TenantId, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StoredBlob:
        """Store the stream under ``BlobKey(tenant_id, sha256 of the stream)`` and return its key, size and
        hash. The blob appears under its key whole or not at all, never partly written; storing bytes
        that are there already leaves one copy.

        Raises ``BlobTooLarge`` as soon as the stream passes ``max_bytes``, keeping nothing of it; an
        exception from the stream itself (a client that went away) propagates, keeping nothing either.
        """
        ...

    async def open(self, key: BlobKey) -> BlobReader:
        """The blob's chunks. Raises ``BlobNotFound`` when there is none, before any chunk is read."""
        ...

    async def exists(self, key: BlobKey) -> bool: ...

    async def delete(self, key: BlobKey) -> bool:
        """Remove the blob; False when there was none. Callers delete only blobs no row refers to."""
        ...


class AttachmentRepository(Protocol):
    """The tenant's attachments (rows; the bytes are in the BlobStore)."""

    async def add(self, attachment: Attachment) -> None: ...

    async def get(self, attachment_id: AttachmentId) -> Attachment | None:
        """The tenant's attachment, deleted ones included (``is_deleted``); another tenant's id is None."""
        ...

    async def list_for_patient(
        self, patient_id: UUID, page: PageRequest, categories: frozenset[AttachmentCategory]
    ) -> Page[Attachment]:
        """The patient's attachments of ``categories`` that are not deleted, newest first."""
        ...

    async def save(self, attachment: Attachment) -> None:
        """Write what may change: the deletion fields, and the erasure (``erased_at``, the cleared name,
        description, time taken and hash)."""
        ...

    async def all_of_patient(self, patient_id: UUID) -> list[Attachment]:
        """Every attachment of the patient, deleted and erased ones included, oldest first (the export,
        anonymisation)."""
        ...

    async def references(self, sha256: str) -> int:
        """How many of the tenant's attachments (deleted ones included; erased ones refer to none) refer to
        the blob with this hash: the blob may be erased only at zero."""
        ...
