"""Attachments: files in a patient's record (exam results, consent forms, before-and-after photos).

The row holds what the file is (category, sanitised name, detected media type, size, SHA-256) and who put
it there; the bytes live in a ``BlobStore`` under a key derived from the tenant and the hash, so the
same file uploaded twice in one clinic is stored once.

Deleting an attachment is a soft delete with a reason: it disappears from the record and the API, and
the row and the bytes are kept. Brazilian rules keep a patient's record for at least 20 years after the
last entry (Lei 13.787/2018, CFM Resolution 1.821/2007), and LGPD allows keeping it to fulfil that legal
obligation (art. 16, I). Erasing content for good is the privacy feature's job: it removes or anonymises
the rows, and a blob goes once no row refers to it any more (``AttachmentRepository.references``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar, NewType
from uuid import UUID

from pathvalidate import sanitize_filename
from returns.result import Failure, Result, Success

from clinic_core.attachments.content import IMAGE_TYPES, MediaType
from clinic_core.shared.errors import DomainError, InvalidInput
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import ApiKeyId, TenantId, UserId
from clinic_core.tenancy.permissions import Permission

AttachmentId = NewType("AttachmentId", UUID)

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
"""25 MiB: a phone photo is 2 to 8 MB, a scanned multi-page report a few MB, a radiograph 10 to 20."""
FILENAME_MAX = 200
"""Characters; and at most ``FILENAME_MAX_BYTES`` in UTF-8, what common filesystems take in one name."""
FILENAME_MAX_BYTES = 255
DESCRIPTION_MAX = 1000
DELETION_REASON_MAX = 500
TAKEN_AT_SKEW = timedelta(minutes=5)
"""How far ahead of the server's clock ``taken_at`` may be (a camera's clock a little fast)."""
DEFAULT_FILENAME = "attachment"


class AttachmentCategory(StrEnum):
    EXAM_RESULT = "exam_result"
    CONSENT_FORM = "consent_form"
    PHOTO_BEFORE = "photo_before"
    PHOTO_AFTER = "photo_after"
    PHOTO = "photo"
    DOCUMENT = "document"
    OTHER = "other"

    @property
    def is_clinical(self) -> bool:
        """Health data, seen and written by the clinical team only (``clinical:read``/``clinical:write``):
        exam results, photos of the body, and anything uncategorised (``other``, which could be either).
        Consent forms and documents (an ID, a referral letter) are the front desk's paperwork too."""
        return self not in _ADMINISTRATIVE

    @property
    def read_permission(self) -> Permission:
        """Beyond ``patients:read``, which every attachment needs."""
        return Permission.CLINICAL_READ if self.is_clinical else Permission.PATIENTS_READ

    @property
    def write_permission(self) -> Permission:
        """Beyond ``patients:write``, which every upload and deletion needs."""
        return Permission.CLINICAL_WRITE if self.is_clinical else Permission.PATIENTS_WRITE

    @property
    def media_types(self) -> frozenset[MediaType]:
        """What a file of this category may be: photos are images; forms and documents PDFs or scans;
        exam results and ``other`` anything allowed, DICOM included."""
        return _CATEGORY_TYPES.get(self, frozenset(MediaType))


_ADMINISTRATIVE = frozenset({AttachmentCategory.CONSENT_FORM, AttachmentCategory.DOCUMENT})
_CATEGORY_TYPES: dict[AttachmentCategory, frozenset[MediaType]] = {
    AttachmentCategory.PHOTO: IMAGE_TYPES,
    AttachmentCategory.PHOTO_BEFORE: IMAGE_TYPES,
    AttachmentCategory.PHOTO_AFTER: IMAGE_TYPES,
    AttachmentCategory.CONSENT_FORM: IMAGE_TYPES | {MediaType.PDF},
    AttachmentCategory.DOCUMENT: IMAGE_TYPES | {MediaType.PDF},
}


def readable_categories(permissions: frozenset[Permission]) -> frozenset[AttachmentCategory]:
    return frozenset(c for c in AttachmentCategory if c.read_permission in permissions)


@dataclass(frozen=True, kw_only=True)
class AttachmentUploaded(DomainEvent):
    topic = "attachments.uploaded"
    attachment_id: AttachmentId
    patient_id: UUID
    category: AttachmentCategory


@dataclass(frozen=True, kw_only=True)
class AttachmentDeleted(DomainEvent):
    topic = "attachments.deleted"
    attachment_id: AttachmentId
    patient_id: UUID


@dataclass(eq=False, kw_only=True)
class Attachment:
    tenant_id: TenantId
    id: AttachmentId
    patient_id: UUID
    category: AttachmentCategory
    filename: str
    media_type: MediaType
    size: int
    sha256: str
    description: str
    taken_at: datetime | None
    uploaded_at: datetime
    uploaded_by: UserId | None
    """The person who uploaded it; None when an API key did (``uploaded_by_api_key``)."""
    uploaded_by_api_key: ApiKeyId | None = None
    appointment_id: UUID | None = None
    """The appointment it belongs to, when there is one (no appointments table yet: kept as given)."""
    deleted_at: datetime | None = None
    deleted_by: UserId | None = None
    deleted_by_api_key: ApiKeyId | None = None
    deletion_reason: str | None = None
    erased_at: datetime | None = None
    """When an anonymisation erased the content: the row stays (deleted), without its name, description,
    time taken or hash, and the blob goes once no other row refers to it."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError("Attachment: sha256 is 64 lowercase hex digits")
        if self.size < 1:
            raise ValueError("Attachment: an attachment has at least one byte")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def erase(self, *, at: datetime, by: UserId | None) -> str | None:
        """Erase the content for good (the patient was anonymised): deleted if it was not, and the name,
        description, time taken and hash cleared. Returns the hash the row referred to, for the caller to
        erase the blob once nothing else refers to it; None when it was erased already."""
        if self.is_erased:
            return None
        if not self.is_deleted:
            self.delete(at=at, by=by, by_api_key=None, reason=ERASED_REASON)
        former = self.sha256
        self.filename = f"erased.{self.media_type.extensions[0]}"
        self.description = ""
        self.taken_at = None
        self.sha256 = ERASED_SHA256
        self.erased_at = at
        return former

    def delete(self, *, at: datetime, by: UserId | None, by_api_key: ApiKeyId | None, reason: str) -> None:
        self.deleted_at, self.deleted_by, self.deleted_by_api_key = at, by, by_api_key
        self.deletion_reason = reason
        self.events.append(
            AttachmentDeleted(
                tenant_id=self.tenant_id, occurred_at=at, attachment_id=self.id, patient_id=self.patient_id
            )
        )


_SHA256 = re.compile(r"[0-9a-f]{64}")
ERASED_SHA256 = "0" * 64
"""The hash an erased attachment keeps: no content has it, so the row refers to no blob any more."""
ERASED_REASON = "erased: the patient was anonymised"
# Control characters, the bidirectional overrides and isolates that make "gpj.exe" show as "exe.jpg",
# and the zero-width characters that make two names look alike.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_FREE_TEXT_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def sanitise_filename(raw: str | None, media_type: MediaType) -> str:
    """A name that is safe to show and to save on any platform, ending in an extension of the detected
    type: the last path segment only, without control, bidirectional or zero-width characters, leading
    dots or reserved device names (``CON``, ``NUL``), at most ``FILENAME_MAX`` characters and
    ``FILENAME_MAX_BYTES`` bytes. A name whose
    extension does not fit the content keeps it and gets the right one after it (``scan.exe.pdf``), so
    the name never tells an operating system to open a PDF as a program."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = " ".join(_INVISIBLE.sub("", name).split())
    stem, dot, extension = name.rpartition(".")
    if not dot or extension.lower() not in media_type.extensions:
        stem, extension = name, media_type.extensions[0]
    else:
        extension = extension.lower()
    stem = stem.strip(" .")
    stem = sanitize_filename(stem, platform="universal", max_len=FILENAME_MAX_BYTES - len(extension) - 1)
    stem = stem.strip(" .") or DEFAULT_FILENAME
    return f"{stem[: FILENAME_MAX - len(extension) - 1]}.{extension}"


def parse_description(raw: str | None) -> Result[str, InvalidInput]:
    description = unicodedata.normalize("NFC", (raw or "").strip())
    if len(description) > DESCRIPTION_MAX:
        return Failure(InvalidInput.of("description", "too_long", f"at most {DESCRIPTION_MAX} characters"))
    if _FREE_TEXT_CONTROL.search(description):
        return Failure(
            InvalidInput.of("description", "invalid_characters", "control characters are not allowed")
        )
    return Success(description)


def parse_reason(raw: str | None) -> Result[str, InvalidInput]:
    reason = " ".join(unicodedata.normalize("NFC", raw or "").split())
    if not reason:
        return Failure(InvalidInput.of("reason", "required", "say why the attachment is deleted"))
    if len(reason) > DELETION_REASON_MAX:
        return Failure(InvalidInput.of("reason", "too_long", f"at most {DELETION_REASON_MAX} characters"))
    if _FREE_TEXT_CONTROL.search(reason):
        return Failure(InvalidInput.of("reason", "invalid_characters", "control characters are not allowed"))
    return Success(reason)


def parse_taken_at(raw: datetime | None, now: datetime) -> Result[datetime | None, InvalidInput]:
    if raw is None:
        return Success(None)
    if raw.tzinfo is None or raw.utcoffset() is None:
        return Failure(
            InvalidInput.of(
                "taken_at", "naive_datetime", "give a time zone offset (2024-05-01T10:00:00-03:00)"
            )
        )
    if raw > now + TAKEN_AT_SKEW:
        return Failure(InvalidInput.of("taken_at", "in_future", "taken_at cannot be in the future"))
    if raw.year < 1900:
        return Failure(InvalidInput.of("taken_at", "out_of_range", "taken_at is before 1900"))
    return Success(raw.astimezone(UTC))


def parse_category(raw: str) -> Result[AttachmentCategory, InvalidInput]:
    try:
        return Success(AttachmentCategory(raw.strip().lower()))
    except ValueError:
        known = ", ".join(c.value for c in AttachmentCategory)
        return Failure(InvalidInput.of("category", "unknown_category", f"one of: {known}"))


# --- errors ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttachmentTooLarge(DomainError):
    code: ClassVar[str] = "attachment_too_large"
    max_bytes: int = DEFAULT_MAX_BYTES

    @property
    def detail(self) -> str:
        return f"an attachment may have at most {self.max_bytes} bytes"


@dataclass(frozen=True, slots=True)
class UnsupportedMediaType(DomainError):
    """The content is none of the allowed types, or not one this category takes."""

    code: ClassVar[str] = "unsupported_attachment_type"
    category: str = ""
    allowed: tuple[str, ...] = tuple(m.value for m in MediaType)

    @property
    def detail(self) -> str:
        what = f"a {self.category} attachment" if self.category else "an attachment"
        return f"{what} must be one of: {', '.join(self.allowed)} (as read from the content itself)"


@dataclass(frozen=True, slots=True)
class MediaTypeMismatch(DomainError):
    """The declared Content-Type names another type than the content's own bytes."""

    code: ClassVar[str] = "media_type_mismatch"
    declared: str = ""
    detected: str = ""

    @property
    def detail(self) -> str:
        found = self.detected or "none of the allowed types"
        return f"the file was declared {self.declared} but its content is {found}"


@dataclass(frozen=True, slots=True)
class AttachmentContentMissing(DomainError):
    """The row is there but the store has no bytes for it: storage unmounted, or lost (an outage, logged
    as such), not something the caller can fix."""

    code: ClassVar[str] = "attachment_content_unavailable"

    @property
    def detail(self) -> str:
        return "the attachment's content cannot be read right now"
