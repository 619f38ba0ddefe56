"""A patient's clinical record: anamneses, clinical notes, and the timeline of both (and of what later
features add). Every read here is written to the patient's access log."""

from __future__ import annotations

from uuid import UUID

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.record_schemas import (
    AmendNoteRequest,
    AnamnesisOut,
    AnamnesisPage,
    NoteOut,
    NotePage,
    NoteThreadOut,
    StartAnamnesisRequest,
    TimelineEntryOut,
    TimelinePageOut,
    UpdateAnamnesisRequest,
    WriteNoteRequest,
)
from clinic_api.record_services import ClinicalRecordServices
from clinic_api.responses import json_response, request_context
from clinic_api.routing import get, post, put
from clinic_core.application.actor import Actor
from clinic_core.clinical.anamneses import (
    GetAnamnesisQuery,
    ListAnamnesesQuery,
    SignAnamnesisCommand,
    StartAnamnesisCommand,
    UpdateAnamnesisCommand,
)
from clinic_core.clinical.history import TimelineRequest
from clinic_core.clinical.model import AnamnesisId, AppointmentId, NoteId, TemplateId
from clinic_core.clinical.notes import (
    AmendNoteCommand,
    GetNoteQuery,
    ListNotesQuery,
    SignNoteCommand,
    WriteNoteCommand,
)
from clinic_core.patients.model import PatientId
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import parse_uuid
from clinic_core.tenancy.permissions import Permission


def _id(raw: str, resource: str) -> UUID:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound(resource)))
    return parsed


def _patient(raw: str) -> PatientId:
    return PatientId(_id(raw, "patient"))


def _anamnesis(raw: str) -> AnamnesisId:
    return AnamnesisId(_id(raw, "anamnesis"))


def _note(raw: str) -> NoteId:
    return NoteId(_id(raw, "clinical note"))


class PatientRecords(APIController):
    def __init__(self, records: ClinicalRecordServices) -> None:
        self._records = records

    @classmethod
    def route(cls) -> str:
        return "/v1/patients"

    @requires(Permission.CLINICAL_READ)
    @documented(200, AnamnesisPage, problems=(401, 403, 404, 422))
    @get("/{patient_id}/anamneses")
    async def list_anamneses(
        self,
        actor: Actor,
        request: Request,
        patient_id: str,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The patient's anamneses, newest first, with their answers (logged in the patient's access log).

        @param patient_id: the patient's id (a UUID).
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(
            await self._records.list_anamneses(
                ListAnamnesesQuery(
                    actor, _patient(patient_id), page_request(cursor, limit), request_context(request)
                )
            )
        )
        return json_response(
            AnamnesisPage(items=[AnamnesisOut.of(v) for v in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(
        201,
        AnamnesisOut,
        problems=(401, 403, 404, 409, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new anamnesis.")},
    )
    @post("/{patient_id}/anamneses")
    async def start_anamnesis(
        self, actor: Actor, request: Request, patient_id: str, body: StartAnamnesisRequest
    ) -> Response:
        """Take an anamnesis with the template's newest version: a draft, or signed at once with `sign`
        (audited). 409 `template_inactive` or `template_not_published`; 422 for answers that do not fit
        the version (each against `answers.<key>`).

        @param patient_id: the patient's id (a UUID).
        """
        view = unwrap_or_raise(
            await self._records.start_anamnesis(
                StartAnamnesisCommand(
                    actor=actor,
                    patient_id=_patient(patient_id),
                    template_id=TemplateId(body.template_id),
                    answers=body.answers,
                    appointment_id=AppointmentId(body.appointment_id) if body.appointment_id else None,
                    sign=body.sign,
                    context=request_context(request),
                )
            )
        )
        return json_response(AnamnesisOut.of(view), 201, [("Location", f"/v1/anamneses/{view.response.id}")])

    @requires(Permission.CLINICAL_READ)
    @documented(200, NotePage, problems=(401, 403, 404, 422))
    @get("/{patient_id}/notes")
    async def list_notes(
        self,
        actor: Actor,
        request: Request,
        patient_id: str,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The patient's clinical notes, newest original first, each with its amendments (logged in the
        patient's access log).

        @param patient_id: the patient's id (a UUID).
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(
            await self._records.list_notes(
                ListNotesQuery(
                    actor, _patient(patient_id), page_request(cursor, limit), request_context(request)
                )
            )
        )
        return json_response(
            NotePage(items=[NoteThreadOut.of_thread(t) for t in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(
        201,
        NoteOut,
        problems=(401, 403, 404, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new note.")},
    )
    @post("/{patient_id}/notes")
    async def write_note(
        self, actor: Actor, request: Request, patient_id: str, body: WriteNoteRequest
    ) -> Response:
        """Write a clinical note (evolução): a draft, or signed at once with `sign` (audited). A note's text
        never changes; correct it with an amendment.

        @param patient_id: the patient's id (a UUID).
        """
        note = unwrap_or_raise(
            await self._records.write_note(
                WriteNoteCommand(
                    actor=actor,
                    patient_id=_patient(patient_id),
                    type=body.type,
                    body=body.body,
                    appointment_id=AppointmentId(body.appointment_id) if body.appointment_id else None,
                    sign=body.sign,
                    context=request_context(request),
                )
            )
        )
        return json_response(NoteOut.of(note), 201, [("Location", f"/v1/notes/{note.id}")])

    @requires(Permission.CLINICAL_READ)
    @documented(200, TimelinePageOut, problems=(401, 403, 404, 422))
    @get("/{patient_id}/timeline")
    async def timeline(
        self,
        actor: Actor,
        request: Request,
        patient_id: str,
        kind: QueryParam[str] | None = None,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The patient's history, newest first: anamneses, notes, attachments, and what later features add
        (logged in the patient's access log).

        @param patient_id: the patient's id (a UUID).
        @param kind: only these kinds, comma-separated (`anamnesis,clinical_note`).
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        kinds = (
            frozenset(k.strip() for k in kind.value.split(",") if k.strip())
            if kind and kind.value
            else frozenset()
        )
        page = unwrap_or_raise(
            await self._records.get_timeline(
                TimelineRequest(
                    actor=actor,
                    patient_id=_patient(patient_id),
                    kinds=kinds,
                    cursor=cursor.value if cursor else None,
                    limit=limit.value if limit else None,
                    context=request_context(request),
                )
            )
        )
        return json_response(
            TimelinePageOut(items=[TimelineEntryOut.of(e) for e in page.items], next_cursor=page.next_cursor)
        )


class Anamneses(APIController):
    def __init__(self, records: ClinicalRecordServices) -> None:
        self._records = records

    @classmethod
    def route(cls) -> str:
        return "/v1/anamneses"

    @requires(Permission.CLINICAL_READ)
    @documented(200, AnamnesisOut, problems=(401, 403, 404))
    @get("/{anamnesis_id}")
    async def get_anamnesis(self, actor: Actor, request: Request, anamnesis_id: str) -> Response:
        """One anamnesis with its answers (logged in the patient's access log).

        @param anamnesis_id: the anamnesis' id (a UUID).
        """
        view = unwrap_or_raise(
            await self._records.get_anamnesis(
                GetAnamnesisQuery(actor, _anamnesis(anamnesis_id), request_context(request))
            )
        )
        return json_response(AnamnesisOut.of(view))

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(200, AnamnesisOut, problems=(401, 403, 404, 409, 422))
    @put("/{anamnesis_id}")
    async def update_anamnesis(
        self, actor: Actor, anamnesis_id: str, body: UpdateAnamnesisRequest
    ) -> Response:
        """Replace a draft's answers. 409 `record_signed` once it is signed.

        @param anamnesis_id: the anamnesis' id (a UUID).
        """
        view = unwrap_or_raise(
            await self._records.update_anamnesis(
                UpdateAnamnesisCommand(
                    actor=actor, anamnesis_id=_anamnesis(anamnesis_id), answers=body.answers
                )
            )
        )
        return json_response(AnamnesisOut.of(view))

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(200, AnamnesisOut, problems=(401, 403, 404, 409, 422))
    @post("/{anamnesis_id}/sign")
    async def sign_anamnesis(self, actor: Actor, request: Request, anamnesis_id: str) -> Response:
        """Sign a draft (audited): every required question shown must be answered (422 otherwise). From
        then on it is read-only; 409 `record_signed` when it was signed already.

        @param anamnesis_id: the anamnesis' id (a UUID).
        """
        view = unwrap_or_raise(
            await self._records.sign_anamnesis(
                SignAnamnesisCommand(
                    actor=actor, anamnesis_id=_anamnesis(anamnesis_id), context=request_context(request)
                )
            )
        )
        return json_response(AnamnesisOut.of(view))


class Notes(APIController):
    def __init__(self, records: ClinicalRecordServices) -> None:
        self._records = records

    @classmethod
    def route(cls) -> str:
        return "/v1/notes"

    @requires(Permission.CLINICAL_READ)
    @documented(200, NoteThreadOut, problems=(401, 403, 404))
    @get("/{note_id}")
    async def get_note(self, actor: Actor, request: Request, note_id: str) -> Response:
        """A note's whole chain: the original note with its amendments, oldest first, whichever of them
        `note_id` names (logged in the patient's access log).

        @param note_id: the note's id (a UUID).
        """
        thread = unwrap_or_raise(
            await self._records.get_note(GetNoteQuery(actor, _note(note_id), request_context(request)))
        )
        return json_response(NoteThreadOut.of_thread(thread))

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(200, NoteOut, problems=(401, 403, 404, 409))
    @post("/{note_id}/sign")
    async def sign_note(self, actor: Actor, request: Request, note_id: str) -> Response:
        """The author signs their draft note (audited); 403 `not_the_author` for anybody else, 409
        `record_signed` when it was signed already.

        @param note_id: the note's id (a UUID).
        """
        note = unwrap_or_raise(
            await self._records.sign_note(
                SignNoteCommand(actor=actor, note_id=_note(note_id), context=request_context(request))
            )
        )
        return json_response(NoteOut.of(note))

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(
        201,
        NoteOut,
        problems=(401, 403, 404, 422),
        headers={"Location": HeaderInfo(str, "The URL of the amendment.")},
    )
    @post("/{note_id}/amendments")
    async def amend_note(
        self, actor: Actor, request: Request, note_id: str, body: AmendNoteRequest
    ) -> Response:
        """Correct a note with an amendment linked to it (audited); the note itself never changes. An
        amendment of an amendment joins the same chain.

        @param note_id: the id of the note corrected (a UUID).
        """
        note = unwrap_or_raise(
            await self._records.amend_note(
                AmendNoteCommand(
                    actor=actor,
                    note_id=_note(note_id),
                    body=body.body,
                    type=body.type,
                    sign=body.sign,
                    context=request_context(request),
                )
            )
        )
        return json_response(NoteOut.of(note), 201, [("Location", f"/v1/notes/{note.id}")])
