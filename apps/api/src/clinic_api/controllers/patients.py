"""Patients (people and animals), their weights and guardians, the record of who read them, the
portal's view of one's own family, and the clinic's patient settings."""

from __future__ import annotations

import re

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires, requires_person
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.patient_schemas import (
    GuardianList,
    GuardianOut,
    GuardiansRequest,
    PatientAccessList,
    PatientAccessOut,
    PatientCreateRequest,
    PatientList,
    PatientOut,
    PatientSettingsOut,
    PatientSettingsRequest,
    PatientStatusRequest,
    PatientUpdateRequest,
    WeightList,
    WeightOut,
    WeightRequest,
)
from clinic_api.patient_services import PatientServices
from clinic_api.problems import ProblemRaised, invalid_fields, problem_for, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import get, patch, post, put
from clinic_core.application.actor import Actor
from clinic_core.patients.guardians import GuardianInput, SetGuardiansCommand
from clinic_core.patients.model import PatientId
from clinic_core.patients.search import SearchInput
from clinic_core.patients.use_cases import (
    ChangePatientStatusCommand,
    RecordWeightCommand,
    RegisterPatientCommand,
    SearchResult,
    UpdatePatientCommand,
)
from clinic_core.shared.errors import FieldError, NotFound
from clinic_core.shared.ids import parse_uuid
from clinic_core.tenancy.permissions import Permission

_ETAG = re.compile(r'(?:W/)?"?(\d{1,9})"?')


def _patient_id(raw: str) -> PatientId:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound("patient")))
    return PatientId(parsed)


def _value(param: QueryParam[str] | None) -> str | None:
    return param.value if param is not None else None


def _version(request: Request, in_body: int | None, *, required: bool) -> int | None:
    """The version the caller read: the body's ``version``, else the ``If-Match`` header."""
    if in_body is not None:
        return in_body
    raw = request.get_first_header(b"If-Match")
    if raw:
        found = _ETAG.fullmatch(raw.decode("latin-1").strip())
        if found is None:
            raise ProblemRaised(
                invalid_fields([FieldError("If-Match", "invalid_version", 'the version read, such as "3"')])
            )
        return int(found.group(1))
    if required:
        raise ProblemRaised(
            invalid_fields([FieldError("version", "required", "send the version read (body or If-Match)")])
        )
    return None


def _listed(result: SearchResult) -> PatientList:
    return PatientList(
        items=[PatientOut.of(p) for p in result.items],
        next_cursor=result.next_cursor,
        match=result.mode.value,
    )


def _with_etag(patient_out: PatientOut, status: int = 200, *extra: tuple[str, str]) -> Response:
    return json_response(patient_out, status, [("ETag", f'"{patient_out.version}"'), *extra])


class Patients(APIController):
    def __init__(self, patients: PatientServices) -> None:
        self._p = patients

    @classmethod
    def route(cls) -> str:
        return "/v1/patients"

    @requires(Permission.PATIENTS_WRITE)
    @documented(
        201,
        PatientOut,
        problems=(401, 403, 409, 422),
        headers={
            "Location": HeaderInfo(str, "The URL of the new patient."),
            "ETag": HeaderInfo(str, "Its version."),
        },
    )
    @post("/")
    async def register(self, request: Request, actor: Actor, body: PatientCreateRequest) -> Response:
        """Register a patient: a person (`kind: person`) or an animal (`kind: animal`, with a `species`).

        CPF, microchip, each identifier and the client account are unique in the clinic (409
        `duplicate_patient`). A member restricted to one unit registers in that unit by default.
        """
        patient = unwrap_or_raise(
            await self._p.register(
                RegisterPatientCommand(actor, body.kind, body.fields(), context=request_context(request))
            )
        )
        return _with_etag(PatientOut.of(patient), 201, ("Location", f"/v1/patients/{patient.id}"))

    @requires(Permission.PATIENTS_READ)
    @documented(200, PatientList, problems=(401, 403, 422))
    @get("/")
    async def search(
        self,
        request: Request,
        actor: Actor,
        q: QueryParam[str] | None = None,
        partial: QueryParam[bool] | None = None,
        cpf: QueryParam[str] | None = None,
        phone: QueryParam[str] | None = None,
        microchip: QueryParam[str] | None = None,
        identifier: QueryParam[str] | None = None,
        kind: QueryParam[str] | None = None,
        species: QueryParam[str] | None = None,
        status: QueryParam[str] | None = None,
        tag: QueryParam[str] | None = None,
        unit_id: QueryParam[str] | None = None,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """Search the clinic's patients, in the order of their names. Every filter given must match.

        Each patient returned is recorded in the access log (action `search`).

        @param q: name words, each the start of a word (`mar sil` finds Maria da Silva), or CPF/phone/microchip digits.
        @param partial: `true` to match names containing the words anywhere, in order.
        @param cpf: exactly this CPF (digits or formatted).
        @param phone: this phone (digits, with or without +55).
        @param microchip: this 15-digit microchip.
        @param identifier: `system|value`, such as `rg|12.345.678-9`.
        @param kind: `person` or `animal`.
        @param species: an animal species.
        @param status: `active`, `inactive` or `deceased`.
        @param tag: patients with this tag.
        @param unit_id: patients of this home unit.
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        given = SearchInput(
            q=_value(q),
            cpf=_value(cpf),
            phone=_value(phone),
            microchip=_value(microchip),
            identifier=_value(identifier),
            kind=_value(kind),
            species=_value(species),
            status=_value(status),
            tag=_value(tag),
            unit_id=_value(unit_id),
            partial=bool(partial.value) if partial else False,
            cursor=_value(cursor),
            limit=limit.value if limit else None,
        )
        result = unwrap_or_raise(await self._p.search(actor, given, request_context(request)))
        return json_response(_listed(result))

    @requires(Permission.PATIENTS_READ)
    @documented(200, PatientOut, problems=(401, 403, 404), headers={"ETag": HeaderInfo(str, "Its version.")})
    @get("/{patient_id}")
    async def get_patient(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """One patient. Another clinic's (or, where patients are kept per unit, another unit's) is 404.
        The read is recorded in the access log.

        @param patient_id: the patient's id (a UUID).
        """
        patient = unwrap_or_raise(await self._p.get(actor, _patient_id(patient_id), request_context(request)))
        return _with_etag(PatientOut.of(patient))

    @requires(Permission.PATIENTS_WRITE)
    @documented(
        200,
        PatientOut,
        problems=(401, 403, 404, 409, 422),
        headers={"ETag": HeaderInfo(str, "The new version.")},
    )
    @patch("/{patient_id}")
    async def update_patient(
        self, request: Request, actor: Actor, patient_id: str, body: PatientUpdateRequest
    ) -> Response:
        """Change some of a patient's fields: those given change, `null` clears one, the rest stay.

        Send the `version` read (in the body, or as `If-Match: "3"`): when somebody changed the patient
        since, the answer is 409 `stale_version` and nothing changes.

        @param patient_id: the patient's id (a UUID).
        """
        version = _version(request, body.version, required=True)
        assert version is not None
        patient = unwrap_or_raise(
            await self._p.update(
                UpdatePatientCommand(
                    actor, _patient_id(patient_id), version, body.fields(), context=request_context(request)
                )
            )
        )
        return _with_etag(PatientOut.of(patient))

    @requires(Permission.PATIENTS_WRITE)
    @documented(200, PatientOut, problems=(401, 403, 404, 409, 422))
    @post("/{patient_id}/status")
    async def change_status(
        self, request: Request, actor: Actor, patient_id: str, body: PatientStatusRequest
    ) -> Response:
        """Make a patient active, inactive or deceased (with `deceased_at`, default now). Audited.

        @param patient_id: the patient's id (a UUID).
        """
        patient = unwrap_or_raise(
            await self._p.change_status(
                ChangePatientStatusCommand(
                    actor,
                    _patient_id(patient_id),
                    body.status,
                    deceased_at=body.deceased_at,
                    expected_version=_version(request, body.version, required=False),
                    context=request_context(request),
                )
            )
        )
        return _with_etag(PatientOut.of(patient))

    @requires(Permission.PATIENTS_READ)
    @documented(200, WeightList, problems=(401, 403, 404, 422))
    @get("/{patient_id}/weights")
    async def list_weights(
        self,
        request: Request,
        actor: Actor,
        patient_id: str,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """A patient's weights, the latest measurement first. Recorded in the access log.

        @param patient_id: the patient's id (a UUID).
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(
            await self._p.list_weights(
                actor, _patient_id(patient_id), page_request(cursor, limit), request_context(request)
            )
        )
        return json_response(
            WeightList(items=[WeightOut.of(w) for w in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.PATIENTS_WRITE)
    @documented(201, WeightOut, problems=(401, 403, 404, 409, 422))
    @post("/{patient_id}/weights")
    async def record_weight(self, actor: Actor, patient_id: str, body: WeightRequest) -> Response:
        """Record a weight measurement (kg, up to grams).

        @param patient_id: the patient's id (a UUID).
        """
        weight = unwrap_or_raise(
            await self._p.record_weight(
                RecordWeightCommand(actor, _patient_id(patient_id), str(body.kg), body.measured_at)
            )
        )
        return json_response(WeightOut.of(weight), 201)

    @requires(Permission.PATIENTS_READ)
    @documented(200, GuardianList, problems=(401, 403, 404))
    @get("/{patient_id}/guardians")
    async def list_guardians(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """Who answers for the patient (a pet's owners, a child's guardians), the primary one first.

        @param patient_id: the patient's id (a UUID).
        """
        views = unwrap_or_raise(
            await self._p.list_guardians(actor, _patient_id(patient_id), request_context(request))
        )
        return json_response(GuardianList(items=[GuardianOut.of(v) for v in views]))

    @requires(Permission.PATIENTS_WRITE)
    @documented(200, GuardianList, problems=(401, 403, 404, 409, 422))
    @put("/{patient_id}/guardians")
    async def set_guardians(
        self, request: Request, actor: Actor, patient_id: str, body: GuardiansRequest
    ) -> Response:
        """Replace the patient's guardians with this list. Each is a person patient of the clinic (not
        an animal, not the patient); at most one is primary; a person may hold several roles. Audited.

        @param patient_id: the patient's id (a UUID).
        """
        views = unwrap_or_raise(
            await self._p.set_guardians(
                SetGuardiansCommand(
                    actor,
                    _patient_id(patient_id),
                    tuple(GuardianInput(g.guardian_id, g.role, g.is_primary) for g in body.guardians),
                    context=request_context(request),
                )
            )
        )
        return json_response(GuardianList(items=[GuardianOut.of(v) for v in views]))

    @requires(Permission.PATIENTS_READ)
    @documented(200, GuardianList, problems=(401, 403, 404))
    @get("/{patient_id}/dependants")
    async def list_dependants(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """The patients this person is guardian of (`person` is each dependant).

        @param patient_id: the guardian's patient id (a UUID).
        """
        views = unwrap_or_raise(
            await self._p.list_dependants(actor, _patient_id(patient_id), request_context(request))
        )
        return json_response(GuardianList(items=[GuardianOut.of(v) for v in views]))

    @requires(Permission.AUDIT_READ)
    @documented(200, PatientAccessList, problems=(401, 403, 404, 422))
    @get("/{patient_id}/access-log")
    async def access_log(
        self,
        actor: Actor,
        patient_id: str,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """Who read the patient's record, when, from where (LGPD), newest first. Needs `audit:read`; a
        patient or guardian reads their own at GET /v1/me/patients/{patient_id}/access-log.

        @param patient_id: the patient's id (a UUID).
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(
            await self._p.access_log(actor, _patient_id(patient_id), page_request(cursor, limit))
        )
        return json_response(
            PatientAccessList(
                items=[PatientAccessOut.of(a) for a in page.items], next_cursor=page.next_cursor
            )
        )


class MyPatients(APIController):
    """The portal: a client's own record and their dependants'."""

    def __init__(self, patients: PatientServices) -> None:
        self._p = patients

    @classmethod
    def route(cls) -> str:
        return "/v1/me/patients"

    @requires_person()
    @documented(200, PatientList, problems=(401, 403, 422))
    @get("/")
    async def list_mine(
        self,
        request: Request,
        actor: Actor,
        q: QueryParam[str] | None = None,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The signed-in person's own patient record (when the clinic linked one to their account) and
        those of the patients they are guardian of; empty for anybody else. Recorded in the access log.

        @param q: words of the name, as in GET /v1/patients.
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        given = SearchInput(q=_value(q), cursor=_value(cursor), limit=limit.value if limit else None)
        return json_response(
            _listed(unwrap_or_raise(await self._p.list_mine(actor, given, request_context(request))))
        )

    @requires_person()
    @documented(200, PatientOut, problems=(401, 403, 404))
    @get("/{patient_id}")
    async def get_mine(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """One patient of the signed-in person's family; any other is 404.

        @param patient_id: the patient's id (a UUID).
        """
        patient = unwrap_or_raise(
            await self._p.get_mine(actor, _patient_id(patient_id), request_context(request))
        )
        return json_response(PatientOut.of(patient))

    @requires_person()
    @documented(200, PatientAccessList, problems=(401, 403, 404, 422))
    @get("/{patient_id}/access-log")
    async def my_access_log(
        self,
        actor: Actor,
        patient_id: str,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """Who read this record of the signed-in person's family, when, from where (LGPD), newest first.

        @param patient_id: the patient's id (a UUID): one's own record or a dependant's.
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(
            await self._p.access_log(actor, _patient_id(patient_id), page_request(cursor, limit), portal=True)
        )
        return json_response(
            PatientAccessList(
                items=[PatientAccessOut.of(a) for a in page.items], next_cursor=page.next_cursor
            )
        )


class TenantPatientSettings(APIController):
    def __init__(self, patients: PatientServices) -> None:
        self._p = patients

    @classmethod
    def route(cls) -> str:
        return "/v1/tenant/patient-settings"

    @requires(Permission.TENANT_READ)
    @documented(200, PatientSettingsOut, problems=(401, 403, 404))
    @get("/")
    async def get_settings(self, actor: Actor) -> Response:
        """How the clinic keeps its patients: shared by every unit (the default) or per unit."""
        return json_response(PatientSettingsOut.of(unwrap_or_raise(await self._p.get_settings(actor))))

    @requires(Permission.TENANT_WRITE, people_only=True)
    @documented(200, PatientSettingsOut, problems=(401, 403, 404, 422))
    @put("/")
    async def update_settings(self, request: Request, actor: Actor, body: PatientSettingsRequest) -> Response:
        """Keep patients shared by every unit, or per unit (`tenant:write`). Per unit, a member restricted
        to some units sees their patients and the ones with no home unit; others answer 404. Also the
        language of the clinic's emails (`locale`: `pt-BR` or `en`) and the address replies go to
        (`contact_email`); an unknown locale or a bad address is a 422. Audited."""
        settings = unwrap_or_raise(
            await self._p.update_settings(body.command(actor, request_context(request)))
        )
        return json_response(PatientSettingsOut.of(settings))
