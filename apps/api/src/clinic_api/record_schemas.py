"""The JSON of the clinical record: anamnesis templates and responses, clinical notes, the timeline.

A questionnaire's sections and a response's answers are read as plain JSON and checked by clinic_core,
which reports every problem against its path (``sections.0.questions.2.options``, ``answers.smoker``);
their shape is documented by the response models (``SectionOut``), which write exactly what was read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field, JsonValue

from clinic_api.schemas import RequestModel, ResponseModel, ShortText
from clinic_core.clinical.anamneses import AnamnesisView
from clinic_core.clinical.model import AnamnesisTemplate, ClinicalNote, NoteThread, TemplateVersion
from clinic_core.clinical.questionnaires import (
    ConditionOperator,
    LocalizedText,
    Question,
    QuestionType,
    Section,
    answers_as_json,
    question_as_json,
)
from clinic_core.clinical.templates import TemplateDetail
from clinic_core.clinical.timeline import TimelineEntry

NoteBody = Annotated[str, Field(max_length=40_000)]
_SECTIONS_DOC = (
    "The questionnaire: a list of sections, each `{title, questions}`, in the shape of `SectionOut`. "
    "Checked as a whole; every problem is reported against its path."
)
_EXAMPLE_SECTIONS: list[JsonValue] = [
    {
        "title": {"pt_br": "Hábitos", "en": "Habits"},
        "questions": [
            {
                "key": "smoker",
                "type": "yes_no",
                "label": {"pt_br": "Fuma?", "en": "Do you smoke?"},
                "required": True,
            },
            {
                "key": "cigarettes_per_day",
                "type": "number",
                "label": {"pt_br": "Cigarros por dia"},
                "unit": "cigarros",
                "min": 1,
                "max": 200,
                "required": True,
                "visible_when": {"question": "smoker", "operator": "equals", "value": True},
            },
        ],
    }
]

# Requests


class CreateTemplateRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Anamnese facial", "species": [], "procedure_ids": [], "sections": _EXAMPLE_SECTIONS}
            ]
        }
    )

    name: ShortText
    procedure_ids: list[UUID] = Field(default_factory=list, max_length=500)
    """The procedures the template is for; empty: any."""
    species: list[ShortText] = Field(default_factory=list, max_length=50)
    """The species the template is for (`dog`, `cat`...); empty: any patient."""
    sections: list[dict[str, Any]] | None = Field(default=None, description=_SECTIONS_DOC)
    """Given: published at once as version 1."""


class UpdateTemplateRequest(RequestModel):
    """Only the fields given change."""

    name: ShortText | None = None
    procedure_ids: list[UUID] | None = Field(default=None, max_length=500)
    species: list[ShortText] | None = Field(default=None, max_length=50)
    active: bool | None = None
    """False: the template takes no new responses (its versions and answers stay)."""


class PublishVersionRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"sections": _EXAMPLE_SECTIONS}]})

    sections: list[dict[str, Any]] = Field(description=_SECTIONS_DOC)


class StartAnamnesisRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "template_id": "01936d3e-6c2a-7b4e-9a51-3f3c1f7a1001",
                    "answers": {"smoker": True, "cigarettes_per_day": 10},
                    "sign": False,
                }
            ]
        }
    )

    template_id: UUID
    """Answered in its newest version."""
    appointment_id: UUID | None = None
    answers: dict[str, Any] = Field(default_factory=dict)
    """Answers by question key: text, true/false, an option's value, a list of option values, a number, a
    date (`YYYY-MM-DD`), a scale point. Answers to questions the earlier answers hide are refused."""
    sign: bool = False
    """Sign at once: every required question shown must then be answered."""


class UpdateAnamnesisRequest(RequestModel):
    answers: dict[str, Any]
    """Every answer of the draft: what is left out is no longer answered."""


class WriteNoteRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"type": "evolution", "body": "Paciente relata melhora da dor.", "sign": True}]
        }
    )

    type: ShortText
    """`evolution`, `anamnesis_summary`, `procedure`, `prescription_note` or `observation`."""
    body: NoteBody
    appointment_id: UUID | None = None
    sign: bool = False
    """Sign at once; otherwise the note is a draft its author signs later."""


class AmendNoteRequest(RequestModel):
    body: NoteBody
    type: ShortText | None = None
    """The amendment's type; omitted: the corrected note's."""
    sign: bool = False


# Responses


class LocalizedTextOut(ResponseModel):
    pt_br: str
    en: str | None = None

    @classmethod
    def of(cls, text: LocalizedText) -> LocalizedTextOut:
        return cls(pt_br=text.pt_br, en=text.en)


class OptionOut(ResponseModel):
    value: str
    label: LocalizedTextOut


class ScaleLabelOut(ResponseModel):
    value: int
    label: LocalizedTextOut


class ConditionOut(ResponseModel):
    question: str
    """The key of an earlier question."""
    operator: ConditionOperator
    value: str | bool | int | float | None = None
    """For `equals` and `not_equals`."""
    values: list[str | bool | int | float] | None = None
    """For `in`."""


class QuestionOut(ResponseModel):
    key: str
    """Stable: answers are stored under it."""
    type: QuestionType
    label: LocalizedTextOut
    required: bool
    help: LocalizedTextOut | None = None
    options: list[OptionOut] | None = None
    """Single and multiple choice."""
    unit: str | None = None
    """Number."""
    min: int | float | None = None
    """Number (optional) and scale."""
    max: int | float | None = None
    labels: list[ScaleLabelOut] | None = None
    """Scale: labels of some of its points."""
    visible_when: ConditionOut | None = None
    """Asked only when this holds."""

    @classmethod
    def of(cls, question: Question) -> QuestionOut:
        # The core's JSON form is what a version is published in; this model documents it.
        return cls.model_validate(question_as_json(question))


class SectionOut(ResponseModel):
    title: LocalizedTextOut
    questions: list[QuestionOut]

    @classmethod
    def of(cls, section: Section) -> SectionOut:
        return cls(
            title=LocalizedTextOut.of(section.title), questions=[QuestionOut.of(q) for q in section.questions]
        )


class TemplateVersionOut(ResponseModel):
    template_id: UUID
    number: int
    title: str
    """The template's name when the version was published."""
    published_at: datetime
    published_by: UUID
    sections: list[SectionOut]

    @classmethod
    def of(cls, version: TemplateVersion) -> TemplateVersionOut:
        return cls(
            template_id=version.template_id,
            number=version.number,
            title=version.title,
            published_at=version.published_at,
            published_by=version.published_by,
            sections=[SectionOut.of(s) for s in version.questionnaire.sections],
        )


class TemplateVersionSummary(ResponseModel):
    number: int
    title: str
    published_at: datetime
    published_by: UUID
    questions: int

    @classmethod
    def of(cls, version: TemplateVersion) -> TemplateVersionSummary:
        return cls(
            number=version.number,
            title=version.title,
            published_at=version.published_at,
            published_by=version.published_by,
            questions=len(version.questionnaire.questions),
        )


class TemplateVersionList(ResponseModel):
    items: list[TemplateVersionSummary]
    """Newest first."""


class TemplateOut(ResponseModel):
    id: UUID
    name: str
    procedure_ids: list[UUID]
    species: list[str]
    active: bool
    latest_version: int
    """0 while no version is published."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, template: AnamnesisTemplate) -> TemplateOut:
        return cls(
            id=template.id,
            name=template.name,
            procedure_ids=sorted(template.applies_to.procedure_ids),
            species=sorted(template.applies_to.species),
            active=template.active,
            latest_version=template.latest_version,
            created_at=template.created_at,
            updated_at=template.updated_at,
        )


class TemplateDetailOut(TemplateOut):
    latest: TemplateVersionOut | None
    """The newest version, with its questions."""

    @classmethod
    def of_detail(cls, detail: TemplateDetail) -> TemplateDetailOut:
        return cls(
            **TemplateOut.of(detail.template).model_dump(),
            latest=TemplateVersionOut.of(detail.latest) if detail.latest else None,
        )


class TemplatePage(ResponseModel):
    items: list[TemplateOut]
    next_cursor: str | None


class AnamnesisOut(ResponseModel):
    id: UUID
    patient_id: UUID
    template_id: UUID
    version: int
    title: str
    """The title of the version answered."""
    appointment_id: UUID | None
    answers: dict[str, Any]
    status: str
    """`draft` or `signed` (read-only from then on)."""
    created_by: UUID
    created_at: datetime
    updated_at: datetime
    signed_by: UUID | None
    signed_at: datetime | None

    @classmethod
    def of(cls, view: AnamnesisView) -> AnamnesisOut:
        r = view.response
        return cls(
            id=r.id,
            patient_id=r.patient_id,
            template_id=r.template_id,
            version=r.version,
            title=view.version.title,
            appointment_id=r.appointment_id,
            answers=answers_as_json(r.answers),
            status=r.status.value,
            created_by=r.created_by,
            created_at=r.created_at,
            updated_at=r.updated_at,
            signed_by=r.signed_by,
            signed_at=r.signed_at,
        )


class AnamnesisPage(ResponseModel):
    items: list[AnamnesisOut]
    next_cursor: str | None


class NoteOut(ResponseModel):
    id: UUID
    patient_id: UUID
    author_id: UUID
    type: str
    body: str
    created_at: datetime
    appointment_id: UUID | None
    status: str
    """`draft` or `signed`."""
    signed_at: datetime | None
    amends: UUID | None
    """The note this one corrects; null for an original."""
    root_id: UUID
    """The original note of the chain (the note's own id for an original)."""

    @classmethod
    def of(cls, note: ClinicalNote) -> NoteOut:
        return cls(
            id=note.id,
            patient_id=note.patient_id,
            author_id=note.author_id,
            type=note.type.value,
            body=note.body,
            created_at=note.created_at,
            appointment_id=note.appointment_id,
            status=note.status.value,
            signed_at=note.signed_at,
            amends=note.amends,
            root_id=note.root_id,
        )


class NoteThreadOut(NoteOut):
    amendments: list[NoteOut]
    """Every correction of the note, oldest first."""

    @classmethod
    def of_thread(cls, thread: NoteThread) -> NoteThreadOut:
        return cls(
            **NoteOut.of(thread.note).model_dump(), amendments=[NoteOut.of(a) for a in thread.amendments]
        )


class NotePage(ResponseModel):
    items: list[NoteThreadOut]
    """Newest original first, each with its amendments."""
    next_cursor: str | None


class TimelineEntryOut(ResponseModel):
    id: UUID
    kind: str
    """`anamnesis`, `clinical_note`, `attachment`; more kinds come with later features."""
    ref_id: UUID
    """The id of the record in its own resource (`/v1/anamneses/{id}`, `/v1/notes/{id}`...)."""
    occurred_at: datetime
    summary: str
    """A short title (a template's name, a note's type): never the record's text."""
    status: str | None
    actor_id: UUID | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineEntryOut:
        return cls(
            id=entry.id,
            kind=entry.kind,
            ref_id=entry.ref_id,
            occurred_at=entry.occurred_at,
            summary=entry.summary,
            status=entry.status,
            actor_id=entry.actor_id,
        )


class TimelinePageOut(ResponseModel):
    items: list[TimelineEntryOut]
    """Newest first."""
    next_cursor: str | None
