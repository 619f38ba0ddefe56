"""Privacy (LGPD): a patient's consents, the export of their data, anonymisation.

Staff reach them under /v1/patients/{patient_id}/...; a patient or guardian reaches their own under
/v1/me/patients/{patient_id}/... (the portal), where ownership, not a permission, decides.
"""

from __future__ import annotations

import json
from uuid import UUID

from blacksheep import Content, Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires, requires_person
from clinic_api.openapi import documented
from clinic_api.privacy_schemas import (
    AnonymisationOut,
    AnonymiseRequest,
    ConsentOut,
    ConsentRequest,
    ConsentsOut,
    PatientExportOut,
)
from clinic_api.privacy_services import PrivacyServices
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import get, post
from clinic_core.application.actor import Actor
from clinic_core.privacy.anonymisation import AnonymisePatientCommand
from clinic_core.privacy.consents import ListConsentsQuery, RecordConsentCommand
from clinic_core.privacy.export import ExportPatientDataQuery, PatientExport
from clinic_core.privacy.model import ConsentChannel, ConsentDecision
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import parse_uuid
from clinic_core.tenancy.permissions import Permission

_DOWNLOAD = {"Content-Disposition": HeaderInfo(str, "`attachment; filename=patient-<id>-<date>.json`")}


def _patient_id(raw: str) -> UUID:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound("patient")))
    return parsed


def _record_command(
    request: Request, actor: Actor, patient_id: str, body: ConsentRequest, *, portal: bool
) -> RecordConsentCommand:
    return RecordConsentCommand(
        actor=actor,
        patient_id=_patient_id(patient_id),
        kind=body.kind,
        decision=ConsentDecision(body.decision),
        version=body.version,
        channel=ConsentChannel(body.channel) if body.channel else None,
        evidence=body.evidence,
        portal=portal,
        context=request_context(request),
    )


def _download(export: PatientExport) -> Response:
    body = json.dumps(export.document, ensure_ascii=False, indent=2).encode()
    return Response(
        200,
        [
            (b"Content-Disposition", f'attachment; filename="{export.filename}"'.encode()),
            (b"Cache-Control", b"no-store"),
        ],
        Content(b"application/json; charset=utf-8", body),
    )


class PatientPrivacy(APIController):
    """A patient's consents, data export and anonymisation, for the clinic's staff."""

    def __init__(self, services: PrivacyServices) -> None:
        self._record, self._list = services.record_consent, services.list_consents
        self._export, self._anonymise = services.export, services.anonymise

    @classmethod
    def route(cls) -> str:
        return "/v1/patients"

    @requires(Permission.PATIENTS_READ)
    @documented(200, ConsentsOut, problems=(401, 403, 404))
    @get("/{patient_id}/consents")
    async def list_consents(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """The patient's consent decisions, oldest first, and the current one of each kind. Needs
        `patients:read`; the read is written to the patient's access log.

        @param patient_id: the patient's id (a UUID).
        """
        query = ListConsentsQuery(actor, _patient_id(patient_id), context=request_context(request))
        return json_response(ConsentsOut.of(unwrap_or_raise(await self._list(query))))

    @requires(Permission.PATIENTS_WRITE)
    @documented(201, ConsentOut, problems=(401, 403, 404, 409, 422))
    @post("/{patient_id}/consents")
    async def record_consent(
        self, request: Request, actor: Actor, patient_id: str, body: ConsentRequest
    ) -> Response:
        """Record a decision (granted or withdrawn) of the patient or their guardian. Needs `patients:write`.

        Decisions are never changed: a withdrawal is a new decision. Not for an anonymised patient (409
        `patient_anonymised`).

        @param patient_id: the patient's id (a UUID).
        """
        command = _record_command(request, actor, patient_id, body, portal=False)
        return json_response(ConsentOut.of(unwrap_or_raise(await self._record(command))), 201)

    @requires(Permission.PATIENTS_EXPORT)
    @documented(200, PatientExportOut, problems=(401, 403, 404), headers=_DOWNLOAD)
    @get("/{patient_id}/export")
    async def export_patient_data(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """Everything the clinic holds about the patient, as one JSON document to download (LGPD art. 18).
        Needs `patients:export` (owners and admins). Written to the access log and the audit trail.

        @param patient_id: the patient's id (a UUID).
        """
        query = ExportPatientDataQuery(actor, _patient_id(patient_id), context=request_context(request))
        return _download(unwrap_or_raise(await self._export(query)))

    @requires(Permission.PATIENTS_ANONYMISE, people_only=True)
    @documented(200, AnonymisationOut, problems=(401, 403, 404, 422))
    @post("/{patient_id}/anonymise")
    async def anonymise_patient(
        self, request: Request, actor: Actor, patient_id: str, body: AnonymiseRequest
    ) -> Response:
        """Erase the patient's identity for good (LGPD art. 18 IV and VI). Needs `patients:anonymise`
        (owners and admins) and a person: no API key.

        `confirm` must repeat the patient's id. Clinical records are kept, de-identified, while inside the
        clinic's retention window; see docs/PRIVACY.md for what goes and what stays. Anonymising again
        re-applies the retention rule.

        @param patient_id: the patient's id (a UUID).
        """
        command = AnonymisePatientCommand(
            actor=actor,
            patient_id=_patient_id(patient_id),
            reason=body.reason,
            confirm=body.confirm,
            context=request_context(request),
        )
        return json_response(AnonymisationOut.of(unwrap_or_raise(await self._anonymise(command))))


class MyPatientPrivacy(APIController):
    """The portal: a patient, or a guardian, with their own consents and data."""

    def __init__(self, services: PrivacyServices) -> None:
        self._record, self._list, self._export = (
            services.record_consent,
            services.list_consents,
            services.export,
        )

    @classmethod
    def route(cls) -> str:
        return "/v1/me/patients"

    @requires_person()
    @documented(200, ConsentsOut, problems=(401, 403, 404))
    @get("/{patient_id}/consents")
    async def list_my_consents(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """My consents (or those of a patient I am the guardian of). Other patients are 404.

        @param patient_id: the patient's id (a UUID).
        """
        query = ListConsentsQuery(
            actor, _patient_id(patient_id), portal=True, context=request_context(request)
        )
        return json_response(ConsentsOut.of(unwrap_or_raise(await self._list(query))))

    @requires_person()
    @documented(201, ConsentOut, problems=(401, 403, 404, 409, 422))
    @post("/{patient_id}/consents")
    async def record_my_consent(
        self, request: Request, actor: Actor, patient_id: str, body: ConsentRequest
    ) -> Response:
        """Grant or withdraw a consent myself (channel `portal`). Other patients are 404.

        @param patient_id: the patient's id (a UUID).
        """
        command = _record_command(request, actor, patient_id, body, portal=True)
        return json_response(ConsentOut.of(unwrap_or_raise(await self._record(command))), 201)

    @requires_person()
    @documented(200, PatientExportOut, problems=(401, 403, 404), headers=_DOWNLOAD)
    @get("/{patient_id}/export")
    async def export_my_data(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """Everything the clinic holds about me (or a patient I am the guardian of), as a JSON download
        (LGPD art. 18 II and V). Other patients are 404.

        @param patient_id: the patient's id (a UUID).
        """
        query = ExportPatientDataQuery(
            actor, _patient_id(patient_id), portal=True, context=request_context(request)
        )
        return _download(unwrap_or_raise(await self._export(query)))
