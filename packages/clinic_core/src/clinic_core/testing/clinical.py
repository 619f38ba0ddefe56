"""In-memory repositories of the clinical record, with the contracts of the SQL ones: one tenant each,
copies in and out (an entity changed but not saved changes nothing stored), versions that cannot be
written twice, compare-and-set on signing, timeline entries unique by (kind, ref_id)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import NoTenantInScope, UniqueViolation
from clinic_core.clinical.model import (
    AnamnesisId,
    AnamnesisResponse,
    AnamnesisTemplate,
    ClinicalNote,
    NoteId,
    RecordStatus,
    TemplateId,
    TemplateVersion,
)
from clinic_core.clinical.ports import TemplateFilter
from clinic_core.clinical.timeline import (
    TimelineEntry,
    TimelinePage,
    TimelinePosition,
    TimelineQuery,
    is_below,
)
from clinic_core.patients.model import PatientId
from clinic_core.shared.ids import TenantId


@dataclass
class ClinicalTables:
    templates: dict[UUID, AnamnesisTemplate] = field(default_factory=dict)
    versions: dict[tuple[UUID, int], TemplateVersion] = field(default_factory=dict)
    responses: dict[UUID, AnamnesisResponse] = field(default_factory=dict)
    notes: dict[UUID, ClinicalNote] = field(default_factory=dict)
    timeline: dict[tuple[TenantId, str, UUID], TimelineEntry] = field(default_factory=dict)


class _Tenant:
    def __init__(self, tables: ClinicalTables, tenant: TenantId) -> None:
        self._t, self._tenant = tables, tenant

    def _check(self, row: Any) -> None:
        if row.tenant_id != self._tenant:
            raise NoTenantInScope(f"{type(row).__name__} belongs to another tenant than the unit of work's")

    def _mine(self, row: Any) -> bool:
        return bool(row.tenant_id == self._tenant)


def _newest_first(rows: list[Any], page: PageRequest) -> Page[Any]:
    ordered = sorted(
        (r for r in rows if page.after is None or r.id < page.after), key=lambda r: r.id, reverse=True
    )
    items = [copy.deepcopy(r) for r in ordered[: page.limit]]
    return Page(items, items[-1].id if len(ordered) > page.limit and items else None)


class InMemoryAnamnesisTemplates(_Tenant):
    async def add(self, template: AnamnesisTemplate) -> None:
        self._check(template)
        if template.id in self._t.templates:
            raise UniqueViolation("pk_anamnesis_templates")
        self._t.templates[template.id] = copy.deepcopy(template)

    async def get(self, template_id: TemplateId) -> AnamnesisTemplate | None:
        found = self._t.templates.get(template_id)
        return copy.deepcopy(found) if found is not None and self._mine(found) else None

    async def save(self, template: AnamnesisTemplate) -> None:
        self._check(template)
        if template.id in self._t.templates:
            self._t.templates[template.id] = copy.deepcopy(template)

    async def search(self, page: PageRequest, where: TemplateFilter) -> Page[AnamnesisTemplate]:
        def matches(t: AnamnesisTemplate) -> bool:
            return (
                self._mine(t)
                and (where.active is None or t.active is where.active)
                and t.applies_to.matches(procedure_id=where.procedure_id, species=where.species)
                and (page.after is None or t.id > page.after)
            )

        ordered = sorted(filter(matches, self._t.templates.values()), key=lambda t: t.id)
        items = [copy.deepcopy(t) for t in ordered[: page.limit]]
        return Page(items, items[-1].id if len(ordered) > page.limit and items else None)

    async def add_version(self, version: TemplateVersion) -> None:
        self._check(version)
        template = self._t.templates.get(version.template_id)
        if template is None or not self._mine(template):
            raise AssertionError("fk_anamnesis_template_versions: no such template in this tenant")
        key = (version.template_id, version.number)
        if key in self._t.versions:
            raise UniqueViolation("pk_anamnesis_template_versions")
        self._t.versions[key] = version

    async def get_version(self, template_id: TemplateId, number: int) -> TemplateVersion | None:
        found = self._t.versions.get((template_id, number))
        return found if found is not None and self._mine(found) else None

    async def versions(self, template_id: TemplateId) -> list[TemplateVersion]:
        found = [v for (t, _n), v in self._t.versions.items() if t == template_id and self._mine(v)]
        return sorted(found, key=lambda v: v.number, reverse=True)


class InMemoryAnamnesisResponses(_Tenant):
    async def add(self, response: AnamnesisResponse) -> None:
        self._check(response)
        if (response.template_id, response.version) not in self._t.versions:
            raise AssertionError("fk_anamnesis_responses_version: no such template version")
        self._t.responses[response.id] = copy.deepcopy(response)

    async def get(self, response_id: AnamnesisId) -> AnamnesisResponse | None:
        found = self._t.responses.get(response_id)
        return copy.deepcopy(found) if found is not None and self._mine(found) else None

    async def save(self, response: AnamnesisResponse) -> bool:
        self._check(response)
        stored = self._t.responses.get(response.id)
        if stored is None or stored.status is not RecordStatus.DRAFT:
            return False
        self._t.responses[response.id] = copy.deepcopy(response)
        return True

    async def list_for_patient(self, patient_id: PatientId, page: PageRequest) -> Page[AnamnesisResponse]:
        rows = [r for r in self._t.responses.values() if self._mine(r) and r.patient_id == patient_id]
        return _newest_first(rows, page)


class InMemoryClinicalNotes(_Tenant):
    async def add(self, note: ClinicalNote) -> None:
        self._check(note)
        if note.id in self._t.notes:
            raise UniqueViolation("pk_clinical_notes")
        for linked in {note.amends, note.root_id} - {None, note.id}:
            other = self._t.notes.get(linked)  # type: ignore[arg-type]
            if other is None or not self._mine(other) or other.patient_id != note.patient_id:
                raise AssertionError("fk_clinical_notes: an amendment links to a note of its patient")
        self._t.notes[note.id] = copy.deepcopy(note)

    async def get(self, note_id: NoteId) -> ClinicalNote | None:
        found = self._t.notes.get(note_id)
        return copy.deepcopy(found) if found is not None and self._mine(found) else None

    async def sign(self, note: ClinicalNote) -> bool:
        self._check(note)
        stored = self._t.notes.get(note.id)
        if stored is None or stored.status is not RecordStatus.DRAFT or note.signed_at is None:
            return False
        self._t.notes[note.id] = replace(stored, status=RecordStatus.SIGNED, signed_at=note.signed_at)
        return True

    async def list_originals(self, patient_id: PatientId, page: PageRequest) -> Page[ClinicalNote]:
        rows = [
            n
            for n in self._t.notes.values()
            if self._mine(n) and n.patient_id == patient_id and n.amends is None
        ]
        return _newest_first(rows, page)

    async def amendments_of(self, root_ids: frozenset[NoteId]) -> list[ClinicalNote]:
        found = [
            n
            for n in self._t.notes.values()
            if self._mine(n) and n.root_id in root_ids and n.amends is not None
        ]
        return [copy.deepcopy(n) for n in sorted(found, key=lambda n: n.id)]


class InMemoryTimeline(_Tenant):
    async def record(self, entry: TimelineEntry) -> None:
        self._check(entry)
        key = (entry.tenant_id, entry.kind, entry.ref_id)
        stored = self._t.timeline.get(key)
        if stored is not None:
            entry = replace(entry, id=stored.id, patient_id=stored.patient_id)
        self._t.timeline[key] = entry

    async def remove(self, kind: str, ref_id: UUID) -> None:
        self._t.timeline.pop((self._tenant, kind, ref_id), None)

    async def page(self, query: TimelineQuery) -> TimelinePage:
        after = query.after
        rows = sorted(
            (
                e
                for e in self._t.timeline.values()
                if self._mine(e)
                and e.patient_id == query.patient_id
                and (not query.kinds or e.kind in query.kinds)
                and (after is None or is_below(e, after))
            ),
            key=lambda e: (e.occurred_at, e.id),
            reverse=True,
        )
        items = rows[: query.limit]
        more = len(rows) > query.limit and items
        return TimelinePage(items, TimelinePosition(items[-1].occurred_at, items[-1].id) if more else None)
