"""Clinical notes (evolução, prontuário): append-only entries of a patient's record.

A note is written once, as a draft or signed at once. Its text never changes: the only change a note
ever takes is its author signing the draft. A correction is an amendment, another note that names the one
it corrects (itself maybe an amendment) and joins that note's chain (``root_id``): lists show each
original with its amendments, oldest first, and the original stays exactly as it was written.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.clinical.model import (
    AppointmentId,
    ClinicalNote,
    NoteId,
    NoteThread,
    NoteType,
    NotTheAuthor,
    RecordSigned,
    parse_note_body,
    parse_note_type,
)
from clinic_core.clinical.records import may_write, patient_in_tenant, read_logged, scope_of
from clinic_core.clinical.timeline import TimelineEntry, TimelineEntryId, TimelineKind
from clinic_core.patients.model import AccessAction, PatientId
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Permission


def _timeline_entry(note: ClinicalNote) -> TimelineEntry:
    return TimelineEntry(
        tenant_id=note.tenant_id,
        id=TimelineEntryId(new_uuid()),
        patient_id=note.patient_id,
        occurred_at=note.created_at,
        kind=TimelineKind.CLINICAL_NOTE,
        ref_id=note.id,
        summary=f"{note.type.value} (amendment)" if note.is_amendment else note.type.value,
        status=note.status.value,
        actor_id=note.author_id,
    )


async def _signed_audit(uow: UnitOfWork, actor: Actor, note: ClinicalNote, context: RequestContext) -> None:
    assert note.signed_at is not None
    await uow.audit.add(
        AuditEvent.record(
            AuditAction.CLINICAL_NOTE_SIGNED,
            tenant_id=actor.tenant_id,
            at=note.signed_at,
            context=context,
            actor_user_id=actor.user_id,
            target=AuditTarget("clinical_note", str(note.id)),
            patient_id=str(note.patient_id),
            type=note.type.value,
        )
    )


@dataclass(frozen=True, slots=True)
class WriteNoteCommand:
    actor: Actor
    patient_id: PatientId
    type: str
    body: str
    appointment_id: AppointmentId | None = None
    sign: bool = False
    context: RequestContext = NO_CONTEXT


class WriteNote:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: WriteNoteCommand
    ) -> Result[ClinicalNote, Forbidden | InvalidInput | NotFound]:
        actor = cmd.actor
        allowed = may_write(actor)
        if isinstance(allowed, Failure):
            return allowed
        note_type, body = parse_note_type(cmd.type), parse_note_body(cmd.body)
        invalid = collect_invalid(note_type, body)
        if invalid is not None:
            return Failure(invalid)
        now = self._clock.now()
        note = ClinicalNote(
            tenant_id=actor.tenant_id,
            id=NoteId(new_uuid()),
            patient_id=cmd.patient_id,
            author_id=actor.user_id,
            type=note_type.unwrap(),
            body=body.unwrap(),
            created_at=now,
            appointment_id=cmd.appointment_id,
        )
        async with self._uow(scope_of(actor)) as uow:
            if await patient_in_tenant(uow, cmd.actor, cmd.patient_id) is None:
                return Failure(NotFound("patient", str(cmd.patient_id)))
            if cmd.sign:
                note.sign(actor.user_id, now)
                await _signed_audit(uow, actor, note, cmd.context)
            await uow.clinical_notes.add(note)
            await uow.timeline.record(_timeline_entry(note))
            await uow.commit()
        return Success(note)


@dataclass(frozen=True, slots=True)
class SignNoteCommand:
    actor: Actor
    note_id: NoteId
    context: RequestContext = NO_CONTEXT


class SignNote:
    """The author signs their draft; from then on the note is locked."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: SignNoteCommand
    ) -> Result[ClinicalNote, Forbidden | NotFound | RecordSigned | NotTheAuthor]:
        actor = cmd.actor
        allowed = may_write(actor)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            note = await uow.clinical_notes.get(cmd.note_id)
            if note is None or await patient_in_tenant(uow, actor, note.patient_id) is None:
                return Failure(NotFound("clinical note", str(cmd.note_id)))
            signed = note.sign(actor.user_id, self._clock.now())
            if isinstance(signed, Failure):
                return signed
            if not await uow.clinical_notes.sign(note):
                return Failure(RecordSigned())
            await uow.timeline.record(_timeline_entry(note))
            await _signed_audit(uow, actor, note, cmd.context)
            await uow.commit()
        return Success(note)


@dataclass(frozen=True, slots=True)
class AmendNoteCommand:
    actor: Actor
    note_id: NoteId
    """The note corrected: an original or an amendment (the new one joins the same chain)."""
    body: str
    type: str | None = None
    """The amendment's type; None: the corrected note's."""
    sign: bool = False
    context: RequestContext = NO_CONTEXT


class AmendNote:
    """Correct a note by adding an amendment linked to it; the note itself never changes."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: AmendNoteCommand
    ) -> Result[ClinicalNote, Forbidden | InvalidInput | NotFound]:
        actor = cmd.actor
        allowed = may_write(actor)
        if isinstance(allowed, Failure):
            return allowed
        note_type = parse_note_type(cmd.type) if cmd.type is not None else Success(None)
        body = parse_note_body(cmd.body)
        invalid = collect_invalid(note_type, body)
        if invalid is not None:
            return Failure(invalid)
        async with self._uow(scope_of(actor)) as uow:
            corrected = await uow.clinical_notes.get(cmd.note_id)
            if corrected is None or await patient_in_tenant(uow, actor, corrected.patient_id) is None:
                return Failure(NotFound("clinical note", str(cmd.note_id)))
            now = self._clock.now()
            chosen: NoteType | None = note_type.unwrap()
            amendment = ClinicalNote(
                tenant_id=actor.tenant_id,
                id=NoteId(new_uuid()),
                patient_id=corrected.patient_id,
                author_id=actor.user_id,
                type=chosen or corrected.type,
                body=body.unwrap(),
                created_at=now,
                appointment_id=corrected.appointment_id,
                amends=corrected.id,
                chain_root=corrected.root_id,
            )
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.CLINICAL_NOTE_AMENDED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    actor_user_id=actor.user_id,
                    target=AuditTarget("clinical_note", str(corrected.id)),
                    patient_id=str(corrected.patient_id),
                    amendment_id=str(amendment.id),
                    root_id=str(corrected.root_id),
                )
            )
            if cmd.sign:
                amendment.sign(actor.user_id, now)
                await _signed_audit(uow, actor, amendment, cmd.context)
            await uow.clinical_notes.add(amendment)
            await uow.timeline.record(_timeline_entry(amendment))
            await uow.commit()
        return Success(amendment)


@dataclass(frozen=True, slots=True)
class GetNoteQuery:
    actor: Actor
    note_id: NoteId
    context: RequestContext = NO_CONTEXT


class GetNote:
    """A note's whole chain: its original with every amendment, oldest first. Logged as a read."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, query: GetNoteQuery) -> Result[NoteThread, Forbidden | NotFound]:
        allowed = query.actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(query.actor)) as uow:
            note = await uow.clinical_notes.get(query.note_id)
            if note is None or await patient_in_tenant(uow, query.actor, note.patient_id) is None:
                return Failure(NotFound("clinical note", str(query.note_id)))
            root = note if note.root_id == note.id else await uow.clinical_notes.get(note.root_id)
            assert root is not None, "an amendment's root exists (foreign key)"
            amendments = await uow.clinical_notes.amendments_of(frozenset({root.id}))
            await read_logged(
                uow, query.actor, note.patient_id, AccessAction.CLINICAL_NOTE, self._clock, query.context
            )
            await uow.commit()
        return Success(NoteThread(root, tuple(amendments)))


@dataclass(frozen=True, slots=True)
class ListNotesQuery:
    actor: Actor
    patient_id: PatientId
    page: PageRequest
    context: RequestContext = NO_CONTEXT


class ListPatientNotes:
    """A patient's notes, newest original first, each with its amendments. Logged as a read."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, query: ListNotesQuery) -> Result[Page[NoteThread], Forbidden | NotFound]:
        allowed = query.actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(query.actor)) as uow:
            if await patient_in_tenant(uow, query.actor, query.patient_id) is None:
                return Failure(NotFound("patient", str(query.patient_id)))
            originals = await uow.clinical_notes.list_originals(query.patient_id, query.page)
            amendments = await uow.clinical_notes.amendments_of(frozenset(n.id for n in originals.items))
            await read_logged(
                uow, query.actor, query.patient_id, AccessAction.CLINICAL_NOTES, self._clock, query.context
            )
            await uow.commit()
        by_root: dict[NoteId, list[ClinicalNote]] = {}
        for amendment in amendments:
            by_root.setdefault(amendment.root_id, []).append(amendment)
        threads = [NoteThread(n, tuple(by_root.get(n.id, ()))) for n in originals.items]
        return Success(Page(threads, originals.next_after))
