"""Repositories of the clinical record. Each is built for the unit of work's tenant only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.clinical.model import (
    AnamnesisId,
    AnamnesisResponse,
    AnamnesisTemplate,
    ClinicalNote,
    NoteId,
    TemplateId,
    TemplateVersion,
)
from clinic_core.clinical.timeline import TimelineEntry, TimelinePage, TimelineQuery
from clinic_core.patients.model import PatientId


@dataclass(frozen=True, slots=True)
class TemplateFilter:
    """Every filter given must match."""

    active: bool | None = None
    species: str | None = None
    """Templates for this species, or for any species."""
    procedure_id: UUID | None = None
    """Templates for this procedure, or for any procedure."""


class AnamnesisTemplateRepository(Protocol):
    async def add(self, template: AnamnesisTemplate) -> None: ...

    async def get(self, template_id: TemplateId) -> AnamnesisTemplate | None: ...

    async def save(self, template: AnamnesisTemplate) -> None:
        """Write the name, applicability, active flag, latest version and ``updated_at``."""
        ...

    async def search(self, page: PageRequest, where: TemplateFilter) -> Page[AnamnesisTemplate]:
        """In id (creation) order."""
        ...

    async def add_version(self, version: TemplateVersion) -> None:
        """Raises ``UniqueViolation("pk_anamnesis_template_versions")`` when that number exists already
        (another publication won the race). There is no update of a version."""
        ...

    async def get_version(self, template_id: TemplateId, number: int) -> TemplateVersion | None: ...

    async def versions(self, template_id: TemplateId) -> list[TemplateVersion]:
        """Every published version, newest first."""
        ...


class AnamnesisResponseRepository(Protocol):
    async def add(self, response: AnamnesisResponse) -> None: ...

    async def get(self, response_id: AnamnesisId) -> AnamnesisResponse | None: ...

    async def save(self, response: AnamnesisResponse) -> bool:
        """Write a draft's answers, or its signing, if the stored row is still a draft: a compare-and-set,
        so that an edit racing a signature cannot change what was signed. False when it was signed already."""
        ...

    async def list_for_patient(self, patient_id: PatientId, page: PageRequest) -> Page[AnamnesisResponse]:
        """Newest first; ``page.after`` continues below the last id of the previous page."""
        ...


class ClinicalNoteRepository(Protocol):
    async def add(self, note: ClinicalNote) -> None:
        """Notes are only ever added: there is no update but ``sign``, and no delete."""
        ...

    async def get(self, note_id: NoteId) -> ClinicalNote | None: ...

    async def sign(self, note: ClinicalNote) -> bool:
        """Record the signing of a draft: a compare-and-set on the draft state. False when the stored note
        was signed already (a concurrent signing won)."""
        ...

    async def list_originals(self, patient_id: PatientId, page: PageRequest) -> Page[ClinicalNote]:
        """The patient's original notes (no amendments), newest first."""
        ...

    async def amendments_of(self, root_ids: frozenset[NoteId]) -> list[ClinicalNote]:
        """Every amendment in the chains of these originals, oldest first."""
        ...


class PatientTimeline(Protocol):
    """The tenant's patient timelines (see ``clinic_core.clinical.timeline``)."""

    async def record(self, entry: TimelineEntry) -> None:
        """Add the entry, or replace the one with the same (kind, ref_id): the stored entry keeps its id
        and patient, and takes the new time, summary, status and actor."""
        ...

    async def remove(self, kind: str, ref_id: UUID) -> None:
        """Take the entry of (kind, ref_id) off the timeline, if there is one (a record that was erased)."""
        ...

    async def page(self, query: TimelineQuery) -> TimelinePage:
        """Newest first by (occurred_at, id), below ``query.after``."""
        ...
