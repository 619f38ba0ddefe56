"""Uploading, listing, reading and deleting a patient's attachments.

Every attachment needs ``patients:read`` to be seen and ``patients:write`` to be added or deleted;
clinical categories (exam results, photos, ``other``) need ``clinical:read`` / ``clinical:write`` besides
(``AttachmentCategory.read_permission``). Someone without ``clinical:read`` lists only the administrative
ones (consent forms, documents), and gets 403 for a clinical one by id.

An upload reads the content once, as it streams: the first 8 KiB decide its type (refused before anything
is stored), the rest goes straight to the ``BlobStore``, which stops at the size limit. The row is written
in the one write transaction of the use case, after the bytes are stored: a transaction held open while a
client sends 25 MiB over a phone's connection would pin a database connection (and, on SQLite, the write
lock) for as long as the slowest client takes. A commit that fails after the bytes were stored leaves a
blob no row refers to, which is harmless: it is the same blob the next identical upload would store, and
no reader can reach it without a row. A read-only look before the upload refuses an unknown patient
without storing anything.

Reading a patient's attachments (the list, one's metadata, its content) writes the patient access log
(LGPD art. 37) in the same transaction as the read.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.attachments.content import declared_media_type, detect_media_type, peek
from clinic_core.attachments.model import (
    DEFAULT_MAX_BYTES,
    Attachment,
    AttachmentContentMissing,
    AttachmentId,
    AttachmentTooLarge,
    AttachmentUploaded,
    MediaTypeMismatch,
    UnsupportedMediaType,
    parse_category,
    parse_description,
    parse_reason,
    parse_taken_at,
    readable_categories,
    sanitise_filename,
)
from clinic_core.attachments.ports import BlobKey, BlobNotFound, BlobReader, BlobStore, BlobTooLarge
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.clinical.timeline import TimelineEntry, TimelineEntryId, TimelineKind
from clinic_core.patients.model import AccessAction, PatientId, PatientIsAnonymised
from clinic_core.patients.use_cases import log_access, visible_patient
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Permission

UploadError = (
    Forbidden
    | NotFound
    | InvalidInput
    | AttachmentTooLarge
    | UnsupportedMediaType
    | MediaTypeMismatch
    | PatientIsAnonymised
)


def _scope(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


async def _patient_visible(uow: UnitOfWork, actor: Actor, patient_id: PatientId) -> bool:
    """Whether the actor sees the patient: the actor's tenant's (another tenant's id reads as absent), and
    of a unit the actor works in when the clinic keeps patients per unit."""
    return await visible_patient(uow, actor, patient_id) is not None


async def _receiving(
    uow: UnitOfWork, actor: Actor, patient_id: PatientId
) -> NotFound | PatientIsAnonymised | None:
    """Why the patient cannot receive an attachment from ``actor``: not visible to them, or anonymised
    (nothing more is recorded about them). None when it can."""
    patient = await visible_patient(uow, actor, patient_id)
    if patient is None:
        return NotFound("patient", str(patient_id))
    return PatientIsAnonymised() if patient.anonymised else None


def _not_found(attachment_id: UUID) -> NotFound:
    return NotFound("attachment", str(attachment_id))


@dataclass(frozen=True, slots=True)
class UploadAttachmentCommand:
    actor: Actor
    patient_id: PatientId
    category: str
    content: AsyncIterable[bytes]
    """The file's bytes as they arrive; read once."""
    filename: str | None = None
    declared_type: str | None = None
    """The client's Content-Type for the file: checked against the content, never trusted alone."""
    description: str | None = None
    taken_at: datetime | None = None
    appointment_id: UUID | None = None
    context: RequestContext = NO_CONTEXT


def _timeline_entry(attachment: Attachment) -> TimelineEntry:
    """The attachment on the patient's timeline: when it was taken (else uploaded), under its category;
    never its file name or description, which may say more than a list should."""
    return TimelineEntry(
        tenant_id=attachment.tenant_id,
        id=TimelineEntryId(new_uuid()),
        patient_id=PatientId(attachment.patient_id),
        occurred_at=attachment.taken_at or attachment.uploaded_at,
        kind=TimelineKind.ATTACHMENT,
        ref_id=attachment.id,
        summary=attachment.category.value,
        actor_id=attachment.uploaded_by,
    )


class UploadAttachment:
    def __init__(
        self, uow: UnitOfWorkFactory, blobs: BlobStore, clock: Clock, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self._uow, self._blobs, self._clock, self._max_bytes = uow, blobs, clock, max_bytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def __call__(self, cmd: UploadAttachmentCommand) -> Result[Attachment, UploadError]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        category = parse_category(cmd.category)
        description = parse_description(cmd.description)
        taken_at = parse_taken_at(cmd.taken_at, now)
        invalid = collect_invalid(category, description, taken_at)
        if invalid is not None:
            return Failure(invalid)
        kind = category.unwrap()
        allowed = actor.authorize(kind.write_permission)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            refused = await _receiving(uow, actor, cmd.patient_id)
            if refused is not None:
                return Failure(refused)

        head, content = await peek(cmd.content)
        if not head:
            return Failure(InvalidInput.of("file", "empty", "the file is empty"))
        detected = detect_media_type(head)
        declared = declared_media_type(cmd.declared_type)
        if declared is not None and declared != detected:
            return Failure(MediaTypeMismatch(declared=str(declared), detected=detected or ""))
        if detected is None or detected not in kind.media_types:
            return Failure(
                UnsupportedMediaType(
                    category=kind.value if detected is not None else "",
                    allowed=tuple(sorted(m.value for m in kind.media_types)),
                )
            )
        try:
            stored = await self._blobs.put(actor.tenant_id, content, max_bytes=self._max_bytes)
        except BlobTooLarge:
            return Failure(AttachmentTooLarge(max_bytes=self._max_bytes))

        attachment = Attachment(
            tenant_id=actor.tenant_id,
            id=AttachmentId(new_uuid()),
            patient_id=cmd.patient_id,
            category=kind,
            filename=sanitise_filename(cmd.filename, detected),
            media_type=detected,
            size=stored.size,
            sha256=stored.sha256,
            description=description.unwrap(),
            taken_at=taken_at.unwrap(),
            uploaded_at=self._clock.now(),
            uploaded_by=None if actor.api_key_id else actor.user_id,
            uploaded_by_api_key=actor.api_key_id,
            appointment_id=cmd.appointment_id,
        )
        attachment.events.append(
            AttachmentUploaded(
                tenant_id=actor.tenant_id,
                occurred_at=attachment.uploaded_at,
                attachment_id=attachment.id,
                patient_id=attachment.patient_id,
                category=kind,
            )
        )
        async with self._uow(_scope(actor)) as uow:
            # Again, in the transaction that writes: the patient may have gone (or been anonymised) while
            # the bytes streamed.
            refused = await _receiving(uow, actor, cmd.patient_id)
            if refused is not None:
                return Failure(refused)
            await uow.attachments.add(attachment)
            await uow.timeline.record(_timeline_entry(attachment))
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.ATTACHMENT_UPLOADED,
                    tenant_id=actor.tenant_id,
                    at=attachment.uploaded_at,
                    context=cmd.context,
                    target=AuditTarget("attachment", str(attachment.id)),
                    patient_id=str(attachment.patient_id),
                    category=kind.value,
                    **acted_by(actor),
                )
            )
            await uow.commit()
        return Success(attachment)


class ListAttachments:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self,
        actor: Actor,
        patient_id: PatientId,
        page: PageRequest,
        context: RequestContext = NO_CONTEXT,
    ) -> Result[Page[Attachment], Forbidden | NotFound]:
        """The patient's attachments the actor may read, newest first."""
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor)) as uow:
            if not await _patient_visible(uow, actor, patient_id):
                return Failure(NotFound("patient", str(patient_id)))
            found = await uow.attachments.list_for_patient(
                patient_id, page, readable_categories(actor.permissions)
            )
            await log_access(uow, actor, context, [patient_id], AccessAction.ATTACHMENTS, self._clock.now())
            await uow.commit()
        return Success(found)


async def _readable(
    uow: UnitOfWork, actor: Actor, attachment_id: AttachmentId
) -> Result[Attachment, Forbidden | NotFound]:
    attachment = await uow.attachments.get(attachment_id)
    if (
        attachment is None
        or attachment.is_deleted
        or not await _patient_visible(uow, actor, PatientId(attachment.patient_id))
    ):
        return Failure(_not_found(attachment_id))
    allowed = actor.authorize(attachment.category.read_permission)
    if isinstance(allowed, Failure):
        return allowed
    return Success(attachment)


class GetAttachment:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, attachment_id: AttachmentId, context: RequestContext = NO_CONTEXT
    ) -> Result[Attachment, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor)) as uow:
            found = await _readable(uow, actor, attachment_id)
            if isinstance(found, Failure):
                return found
            await log_access(
                uow,
                actor,
                context,
                [PatientId(found.unwrap().patient_id)],
                AccessAction.ATTACHMENTS,
                self._clock.now(),
            )
            await uow.commit()
        return found


@dataclass(frozen=True, slots=True)
class Download:
    attachment: Attachment
    content: BlobReader
    """Read it to the end or ``aclose`` it."""


class DownloadAttachment:
    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore, clock: Clock) -> None:
        self._uow, self._blobs, self._clock = uow, blobs, clock

    async def __call__(
        self, actor: Actor, attachment_id: AttachmentId, context: RequestContext = NO_CONTEXT
    ) -> Result[Download, Forbidden | NotFound | AttachmentContentMissing]:
        """The attachment and its open content. The content is opened after the transaction (which
        logged the access) has ended: no connection is held while a client downloads."""
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor)) as uow:
            found = await _readable(uow, actor, attachment_id)
            if isinstance(found, Failure):
                return found
            attachment = found.unwrap()
            await log_access(
                uow,
                actor,
                context,
                [PatientId(attachment.patient_id)],
                AccessAction.ATTACHMENT_CONTENT,
                self._clock.now(),
            )
            await uow.commit()
        try:
            content = await self._blobs.open(BlobKey(attachment.tenant_id, attachment.sha256))
        except BlobNotFound:
            return Failure(AttachmentContentMissing())
        return Success(Download(attachment, content))


@dataclass(frozen=True, slots=True)
class DeleteAttachmentCommand:
    actor: Actor
    attachment_id: AttachmentId
    reason: str
    context: RequestContext = NO_CONTEXT


class DeleteAttachment:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: DeleteAttachmentCommand
    ) -> Result[Attachment, Forbidden | NotFound | InvalidInput]:
        """Soft delete: the attachment leaves the record and the API; its row and bytes are kept for the
        record's retention period (see ``clinic_core.attachments.model``)."""
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        reason = parse_reason(cmd.reason)
        if isinstance(reason, Failure):
            return reason
        async with self._uow(_scope(actor)) as uow:
            found = await _readable(uow, actor, cmd.attachment_id)
            if isinstance(found, Failure):
                return found
            attachment = found.unwrap()
            allowed = actor.authorize(attachment.category.write_permission)
            if isinstance(allowed, Failure):
                return allowed
            now = self._clock.now()
            attachment.delete(
                at=now,
                by=None if actor.api_key_id else actor.user_id,
                by_api_key=actor.api_key_id,
                reason=reason.unwrap(),
            )
            await uow.attachments.save(attachment)
            await uow.timeline.remove(TimelineKind.ATTACHMENT, attachment.id)
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.ATTACHMENT_DELETED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    target=AuditTarget("attachment", str(attachment.id)),
                    patient_id=str(attachment.patient_id),
                    category=attachment.category.value,
                    **acted_by(actor),
                )
            )
            await uow.commit()
        return Success(attachment)
