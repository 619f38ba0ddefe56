"""SQL repositories of the clinical record (tables in ``clinical_tables``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Select, and_, delete, insert, or_, select, update

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.clinical.model import (
    AnamnesisId,
    AnamnesisResponse,
    AnamnesisTemplate,
    Applicability,
    AppointmentId,
    ClinicalNote,
    NoteId,
    NoteType,
    RecordStatus,
    TemplateId,
    TemplateVersion,
)
from clinic_core.clinical.ports import TemplateFilter
from clinic_core.clinical.questionnaires import answers_as_json, answers_from_json, questionnaire_from_json
from clinic_core.clinical.timeline import (
    TimelineEntry,
    TimelineEntryId,
    TimelinePage,
    TimelinePosition,
    TimelineQuery,
)
from clinic_core.patients.model import PatientId
from clinic_core.shared.ids import TenantId, UserId
from clinic_infra.db.clinical_tables import (
    anamnesis_responses,
    anamnesis_template_versions,
    anamnesis_templates,
    clinical_notes,
    patient_timeline,
)

if TYPE_CHECKING:
    from clinic_infra.db.unit_of_work import SqlSession

Row = Mapping[Any, Any]


class _Repository:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def _rows(self, statement: Select[Any]) -> list[Row]:
        return list((await self._db.execute(statement)).mappings())

    async def _row(self, statement: Select[Any]) -> Row | None:
        return (await self._db.execute(statement)).mappings().first()


def _newest_first(rows: list[Row], page: PageRequest) -> tuple[list[Row], UUID | None]:
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        return rows, rows[-1]["id"]
    return rows, None


# --- templates ----------------------------------------------------------------------------------------------

_T = anamnesis_templates
_V = anamnesis_template_versions


def _template(row: Row) -> AnamnesisTemplate:
    return AnamnesisTemplate(
        tenant_id=TenantId(row["tenant_id"]),
        id=TemplateId(row["id"]),
        name=row["name"],
        applies_to=Applicability(
            procedure_ids=frozenset(UUID(p) for p in row["procedure_ids"]), species=frozenset(row["species"])
        ),
        active=row["active"],
        latest_version=row["latest_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _template_values(template: AnamnesisTemplate) -> dict[str, Any]:
    return {
        "name": template.name,
        "procedure_ids": sorted(str(p) for p in template.applies_to.procedure_ids),
        "species": sorted(template.applies_to.species),
        "active": template.active,
        "latest_version": template.latest_version,
        "updated_at": template.updated_at,
    }


def _version(row: Row) -> TemplateVersion:
    return TemplateVersion(
        tenant_id=TenantId(row["tenant_id"]),
        template_id=TemplateId(row["template_id"]),
        number=row["number"],
        title=row["title"],
        questionnaire=questionnaire_from_json(row["questionnaire"]),
        published_at=row["published_at"],
        published_by=UserId(row["published_by"]),
    )


class SqlAnamnesisTemplateRepository(_Repository):
    async def add(self, template: AnamnesisTemplate) -> None:
        await self._db.execute(
            insert(_T).values(
                tenant_id=self._db.tenant_id(),
                id=template.id,
                created_at=template.created_at,
                **_template_values(template),
            )
        )

    async def get(self, template_id: TemplateId) -> AnamnesisTemplate | None:
        row = await self._row(
            select(_T).where(_T.c.tenant_id == self._db.tenant_id(), _T.c.id == template_id)
        )
        return _template(row) if row is not None else None

    async def save(self, template: AnamnesisTemplate) -> None:
        await self._db.execute(
            update(_T)
            .where(_T.c.tenant_id == self._db.tenant_id(), _T.c.id == template.id)
            .values(_template_values(template))
        )

    async def search(self, page: PageRequest, where: TemplateFilter) -> Page[AnamnesisTemplate]:
        # Applicability lives in small JSON arrays: the page is filtered here, reading on until it is full.
        # A clinic has tens of templates, so this stays one or two queries.
        found: list[AnamnesisTemplate] = []
        after = page.after
        while True:
            statement = select(_T).where(_T.c.tenant_id == self._db.tenant_id())
            if where.active is not None:
                statement = statement.where(_T.c.active == where.active)
            if after is not None:
                statement = statement.where(_T.c.id > after)
            batch = await self._rows(statement.order_by(_T.c.id).limit(200))
            for row in batch:
                template = _template(row)
                if template.applies_to.matches(procedure_id=where.procedure_id, species=where.species):
                    found.append(template)
                    if len(found) > page.limit:
                        kept = found[: page.limit]
                        return Page(kept, kept[-1].id)
            if len(batch) < 200:
                return Page(found, None)
            after = batch[-1]["id"]

    async def add_version(self, version: TemplateVersion) -> None:
        await self._db.execute(
            insert(_V).values(
                tenant_id=self._db.tenant_id(),
                template_id=version.template_id,
                number=version.number,
                title=version.title,
                questionnaire=version.questionnaire.as_json(),
                published_at=version.published_at,
                published_by=version.published_by,
            )
        )

    async def get_version(self, template_id: TemplateId, number: int) -> TemplateVersion | None:
        row = await self._row(
            select(_V).where(
                _V.c.tenant_id == self._db.tenant_id(), _V.c.template_id == template_id, _V.c.number == number
            )
        )
        return _version(row) if row is not None else None

    async def versions(self, template_id: TemplateId) -> list[TemplateVersion]:
        rows = await self._rows(
            select(_V)
            .where(_V.c.tenant_id == self._db.tenant_id(), _V.c.template_id == template_id)
            .order_by(_V.c.number.desc())
        )
        return [_version(r) for r in rows]


# --- responses ----------------------------------------------------------------------------------------------

_R = anamnesis_responses


def _response(row: Row) -> AnamnesisResponse:
    return AnamnesisResponse(
        tenant_id=TenantId(row["tenant_id"]),
        id=AnamnesisId(row["id"]),
        patient_id=PatientId(row["patient_id"]),
        template_id=TemplateId(row["template_id"]),
        version=row["version"],
        appointment_id=AppointmentId(row["appointment_id"]) if row["appointment_id"] else None,
        answers=answers_from_json(row["answers"]),
        status=RecordStatus(row["status"]),
        created_by=UserId(row["created_by"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        signed_by=UserId(row["signed_by"]) if row["signed_by"] else None,
        signed_at=row["signed_at"],
    )


def _response_values(response: AnamnesisResponse) -> dict[str, Any]:
    return {
        "answers": answers_as_json(response.answers),
        "status": response.status.value,
        "updated_at": response.updated_at,
        "signed_by": response.signed_by,
        "signed_at": response.signed_at,
    }


class SqlAnamnesisResponseRepository(_Repository):
    async def add(self, response: AnamnesisResponse) -> None:
        await self._db.execute(
            insert(_R).values(
                tenant_id=self._db.tenant_id(),
                id=response.id,
                patient_id=response.patient_id,
                template_id=response.template_id,
                version=response.version,
                appointment_id=response.appointment_id,
                created_by=response.created_by,
                created_at=response.created_at,
                **_response_values(response),
            )
        )

    async def get(self, response_id: AnamnesisId) -> AnamnesisResponse | None:
        row = await self._row(
            select(_R).where(_R.c.tenant_id == self._db.tenant_id(), _R.c.id == response_id)
        )
        return _response(row) if row is not None else None

    async def save(self, response: AnamnesisResponse) -> bool:
        result = await self._db.execute(
            update(_R)
            .where(
                _R.c.tenant_id == self._db.tenant_id(),
                _R.c.id == response.id,
                _R.c.status == RecordStatus.DRAFT.value,
            )
            .values(_response_values(response))
        )
        return bool(result.rowcount == 1)

    async def list_for_patient(self, patient_id: PatientId, page: PageRequest) -> Page[AnamnesisResponse]:
        statement = select(_R).where(_R.c.tenant_id == self._db.tenant_id(), _R.c.patient_id == patient_id)
        if page.after is not None:
            statement = statement.where(_R.c.id < page.after)
        rows = await self._rows(statement.order_by(_R.c.id.desc()).limit(page.limit + 1))
        kept, next_after = _newest_first(rows, page)
        return Page([_response(r) for r in kept], next_after)


# --- notes --------------------------------------------------------------------------------------------------

_N = clinical_notes


def _note(row: Row) -> ClinicalNote:
    return ClinicalNote(
        tenant_id=TenantId(row["tenant_id"]),
        id=NoteId(row["id"]),
        patient_id=PatientId(row["patient_id"]),
        author_id=UserId(row["author_id"]),
        type=NoteType(row["type"]),
        body=row["body"],
        created_at=row["created_at"],
        appointment_id=AppointmentId(row["appointment_id"]) if row["appointment_id"] else None,
        status=RecordStatus(row["status"]),
        signed_at=row["signed_at"],
        amends=NoteId(row["amends"]) if row["amends"] else None,
        chain_root=NoteId(row["root_id"]) if row["root_id"] else None,
    )


class SqlClinicalNoteRepository(_Repository):
    async def add(self, note: ClinicalNote) -> None:
        await self._db.execute(
            insert(_N).values(
                tenant_id=self._db.tenant_id(),
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
                root_id=note.chain_root,
            )
        )

    async def get(self, note_id: NoteId) -> ClinicalNote | None:
        row = await self._row(select(_N).where(_N.c.tenant_id == self._db.tenant_id(), _N.c.id == note_id))
        return _note(row) if row is not None else None

    async def sign(self, note: ClinicalNote) -> bool:
        result = await self._db.execute(
            update(_N)
            .where(
                _N.c.tenant_id == self._db.tenant_id(),
                _N.c.id == note.id,
                _N.c.status == RecordStatus.DRAFT.value,
            )
            .values(status=RecordStatus.SIGNED.value, signed_at=note.signed_at)
        )
        return bool(result.rowcount == 1)

    async def list_originals(self, patient_id: PatientId, page: PageRequest) -> Page[ClinicalNote]:
        statement = select(_N).where(
            _N.c.tenant_id == self._db.tenant_id(), _N.c.patient_id == patient_id, _N.c.root_id.is_(None)
        )
        if page.after is not None:
            statement = statement.where(_N.c.id < page.after)
        rows = await self._rows(statement.order_by(_N.c.id.desc()).limit(page.limit + 1))
        kept, next_after = _newest_first(rows, page)
        return Page([_note(r) for r in kept], next_after)

    async def amendments_of(self, root_ids: frozenset[NoteId]) -> list[ClinicalNote]:
        if not root_ids:
            return []
        rows = await self._rows(
            select(_N)
            .where(_N.c.tenant_id == self._db.tenant_id(), _N.c.root_id.in_(sorted(root_ids)))
            .order_by(_N.c.id)
        )
        return [_note(r) for r in rows]


# --- timeline -----------------------------------------------------------------------------------------------

_L = patient_timeline


def _entry(row: Row) -> TimelineEntry:
    return TimelineEntry(
        tenant_id=TenantId(row["tenant_id"]),
        id=TimelineEntryId(row["id"]),
        patient_id=PatientId(row["patient_id"]),
        occurred_at=row["occurred_at"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        summary=row["summary"],
        status=row["status"],
        actor_id=UserId(row["actor_id"]) if row["actor_id"] else None,
    )


class SqlPatientTimeline(_Repository):
    async def record(self, entry: TimelineEntry) -> None:
        # An entry is recorded again by the use case that changed its record, inside that record's
        # transaction (which holds the record's row): two transactions never add the same (kind, ref_id)
        # at once, so "update, else insert" needs no upsert syntax of either database.
        changes = {
            "occurred_at": entry.occurred_at,
            "summary": entry.summary,
            "status": entry.status,
            "actor_id": entry.actor_id,
        }
        replaced = await self._db.execute(
            update(_L)
            .where(
                _L.c.tenant_id == self._db.tenant_id(), _L.c.kind == entry.kind, _L.c.ref_id == entry.ref_id
            )
            .values(changes)
        )
        if replaced.rowcount == 0:
            await self._db.execute(
                insert(_L).values(
                    tenant_id=self._db.tenant_id(),
                    id=entry.id,
                    patient_id=entry.patient_id,
                    kind=entry.kind,
                    ref_id=entry.ref_id,
                    **changes,
                )
            )

    async def remove(self, kind: str, ref_id: UUID) -> None:
        await self._db.execute(
            delete(_L).where(_L.c.tenant_id == self._db.tenant_id(), _L.c.kind == kind, _L.c.ref_id == ref_id)
        )

    async def page(self, query: TimelineQuery) -> TimelinePage:
        statement = select(_L).where(
            _L.c.tenant_id == self._db.tenant_id(), _L.c.patient_id == query.patient_id
        )
        if query.kinds:
            statement = statement.where(_L.c.kind.in_(sorted(query.kinds)))
        if query.after is not None:
            at, last = query.after.occurred_at, query.after.id
            statement = statement.where(
                or_(_L.c.occurred_at < at, and_(_L.c.occurred_at == at, _L.c.id < last))
            )
        rows = await self._rows(
            statement.order_by(_L.c.occurred_at.desc(), _L.c.id.desc()).limit(query.limit + 1)
        )
        entries = [_entry(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return TimelinePage(
            entries, TimelinePosition(entries[-1].occurred_at, entries[-1].id) if more else None
        )
