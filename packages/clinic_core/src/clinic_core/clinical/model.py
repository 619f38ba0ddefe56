"""The clinical record: anamnesis templates and their versions, anamnesis responses, clinical notes.

What is signed is never changed: a signed anamnesis is read-only, and a clinical note is never edited at
all (its author signs it, or somebody writes an amendment linked to it). Template versions are immutable
from the moment they are published: publishing version 3 leaves the answers given to version 1 as they
were, and readable as they were asked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, NewType
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.clinical.questionnaires import AnswerValue, Questionnaire
from clinic_core.patients.model import PatientId, Species
from clinic_core.shared.errors import Conflict, FieldError, Forbidden, InvalidInput
from clinic_core.shared.ids import TenantId, UserId
from clinic_core.shared.values import has_control_characters

TemplateId = NewType("TemplateId", UUID)
AnamnesisId = NewType("AnamnesisId", UUID)
NoteId = NewType("NoteId", UUID)
AppointmentId = NewType("AppointmentId", UUID)

MAX_NOTE_BODY = 20_000
MAX_SPECIES = 20
MAX_PROCEDURES = 200
_CONTROL_IN_TEXT = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


class RecordStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"


# --- failures -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordSigned(Conflict):
    """A signed anamnesis or note was asked to change: it never does (write an amendment instead)."""

    code: ClassVar[str] = "record_signed"
    message: str = "the record is signed and can no longer change"


@dataclass(frozen=True, slots=True)
class NotTheAuthor(Forbidden):
    """Only the author of a note signs it: a signature vouches for what one wrote oneself."""

    code: ClassVar[str] = "not_the_author"

    @property
    def detail(self) -> str:
        return "only the author of this record may sign it"


@dataclass(frozen=True, slots=True)
class TemplateNotPublished(Conflict):
    """The template has no version to answer yet."""

    code: ClassVar[str] = "template_not_published"
    message: str = "the template has no published version yet"


@dataclass(frozen=True, slots=True)
class TemplateInactive(Conflict):
    """An inactive template keeps its versions and answers but takes no new responses."""

    code: ClassVar[str] = "template_inactive"
    message: str = "the template is inactive and takes no new responses"


@dataclass(frozen=True, slots=True)
class VersionConflict(Conflict):
    """Another version of the template was published at the same time: read it and retry."""

    code: ClassVar[str] = "version_conflict"
    message: str = "another version of this template was published at the same time; retry"


# --- templates ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applicability:
    """Where a template is meant to be used: for these procedures and/or these species (``Species``
    values). Empty sets: for any. Procedure ids are kept as given (the procedure catalogue belongs to
    another feature)."""

    procedure_ids: frozenset[UUID] = frozenset()
    species: frozenset[str] = frozenset()

    def matches(self, *, procedure_id: UUID | None = None, species: str | None = None) -> bool:
        return (procedure_id is None or not self.procedure_ids or procedure_id in self.procedure_ids) and (
            species is None or not self.species or species in self.species
        )


def parse_template_name(raw: str, path: str = "name") -> Result[str, InvalidInput]:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not 2 <= len(name) <= 120:
        return Failure(InvalidInput.of(path, "invalid_length", "use 2 to 120 characters"))
    if has_control_characters(name):
        return Failure(InvalidInput.of(path, "invalid_characters", "control characters are not allowed"))
    return Success(name)


def parse_applicability(
    procedure_ids: frozenset[UUID], species: frozenset[str]
) -> Result[Applicability, InvalidInput]:
    errors: list[FieldError] = []
    if len(procedure_ids) > MAX_PROCEDURES:
        errors.append(FieldError("procedure_ids", "too_many", f"at most {MAX_PROCEDURES} procedures"))
    normalised = frozenset(s.strip().lower() for s in species)
    if len(normalised) > MAX_SPECIES:
        errors.append(FieldError("species", "too_many", f"at most {MAX_SPECIES} species"))
    known = {s.value for s in Species}
    errors.extend(
        FieldError("species", "invalid_species", f"{s[:40]!r} is not one of: {', '.join(sorted(known))}")
        for s in sorted(normalised)
        if s not in known
    )
    if errors:
        return Failure(InvalidInput(tuple(errors)))
    return Success(Applicability(frozenset(procedure_ids), normalised))


@dataclass(eq=False, kw_only=True)
class AnamnesisTemplate:
    """A questionnaire a clinic asks its patients, as a series of immutable versions."""

    tenant_id: TenantId
    id: TemplateId
    name: str
    applies_to: Applicability
    active: bool
    latest_version: int
    """The number of the newest published version; 0 while none is."""
    created_at: datetime
    updated_at: datetime

    def next_version(self) -> int:
        return self.latest_version + 1


@dataclass(frozen=True, kw_only=True)
class TemplateVersion:
    """One published version of a template: never changes, never goes away while answers refer to it."""

    tenant_id: TenantId
    template_id: TemplateId
    number: int
    title: str
    """The template's name when this version was published: answers are shown under the title they had."""
    questionnaire: Questionnaire
    published_at: datetime
    published_by: UserId


# --- anamnesis responses ------------------------------------------------------------------------------------


@dataclass(eq=False, kw_only=True)
class AnamnesisResponse:
    """A patient's answers to one template version. A draft changes; a signed response never does."""

    tenant_id: TenantId
    id: AnamnesisId
    patient_id: PatientId
    template_id: TemplateId
    version: int
    appointment_id: AppointmentId | None
    answers: dict[str, AnswerValue]
    status: RecordStatus
    created_by: UserId
    created_at: datetime
    updated_at: datetime
    signed_by: UserId | None = None
    signed_at: datetime | None = None

    @property
    def is_signed(self) -> bool:
        return self.status is RecordStatus.SIGNED

    def replace_answers(self, answers: dict[str, AnswerValue], at: datetime) -> Result[None, RecordSigned]:
        if self.is_signed:
            return Failure(RecordSigned())
        self.answers, self.updated_at = dict(answers), at
        return Success(None)

    def sign(self, by: UserId, at: datetime) -> Result[None, RecordSigned]:
        if self.is_signed:
            return Failure(RecordSigned())
        self.status, self.signed_by, self.signed_at, self.updated_at = RecordStatus.SIGNED, by, at, at
        return Success(None)


# --- clinical notes -----------------------------------------------------------------------------------------


class NoteType(StrEnum):
    EVOLUTION = "evolution"
    """Evolução: the course of the patient's condition and care at a visit."""
    ANAMNESIS_SUMMARY = "anamnesis_summary"
    PROCEDURE = "procedure"
    PRESCRIPTION_NOTE = "prescription_note"
    OBSERVATION = "observation"


def parse_note_body(raw: str, path: str = "body") -> Result[str, InvalidInput]:
    body = unicodedata.normalize("NFC", raw).strip()
    if not body:
        return Failure(InvalidInput.of(path, "required", "a note needs a text"))
    if len(body) > MAX_NOTE_BODY:
        return Failure(InvalidInput.of(path, "too_long", f"at most {MAX_NOTE_BODY} characters"))
    if _CONTROL_IN_TEXT.search(body):
        return Failure(InvalidInput.of(path, "invalid_characters", "control characters are not allowed"))
    return Success(body)


def parse_note_type(raw: str, path: str = "type") -> Result[NoteType, InvalidInput]:
    try:
        return Success(NoteType(raw))
    except ValueError:
        return Failure(InvalidInput.of(path, "invalid_note_type", "use one of: " + ", ".join(NoteType)))


@dataclass(eq=False, kw_only=True)
class ClinicalNote:
    """An entry of the patient's record (evolução, prontuário). Its text never changes: a correction is
    another note that ``amends`` it. Every note of a chain of corrections shares the ``root_id`` of the
    first one, which is what lists group by."""

    tenant_id: TenantId
    id: NoteId
    patient_id: PatientId
    author_id: UserId
    type: NoteType
    body: str
    created_at: datetime
    appointment_id: AppointmentId | None = None
    status: RecordStatus = RecordStatus.DRAFT
    signed_at: datetime | None = None
    amends: NoteId | None = None
    """The note this one corrects (maybe itself an amendment); None for an original note."""
    chain_root: NoteId | None = None
    """An amendment's original note (the first of its chain); None for an original note."""

    def __post_init__(self) -> None:
        if (self.amends is None) != (self.chain_root is None):
            raise ValueError("an amendment names the note it corrects and the original of its chain")

    @property
    def root_id(self) -> NoteId:
        """The original note of the chain: the note's own id when it is the original."""
        return self.chain_root if self.chain_root is not None else self.id

    @property
    def is_signed(self) -> bool:
        return self.status is RecordStatus.SIGNED

    @property
    def is_amendment(self) -> bool:
        return self.amends is not None

    def sign(self, by: UserId, at: datetime) -> Result[None, RecordSigned | NotTheAuthor]:
        if self.is_signed:
            return Failure(RecordSigned())
        if by != self.author_id:
            return Failure(NotTheAuthor(permission="clinical:write"))
        self.status, self.signed_at = RecordStatus.SIGNED, at
        return Success(None)


@dataclass(frozen=True, slots=True)
class NoteThread:
    """A note as lists show it: the original, with its amendments oldest first."""

    note: ClinicalNote
    amendments: tuple[ClinicalNote, ...] = ()
