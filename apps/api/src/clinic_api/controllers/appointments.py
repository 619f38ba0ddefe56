"""Appointments: booking (with ``Idempotency-Key``), the lifecycle, the agenda views, a patient's
appointments, the clinic dashboard, and the waitlist."""

from __future__ import annotations

import json
from datetime import date, datetime
from uuid import UUID

from blacksheep import Content, Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo
from returns.result import Failure

from clinic_api.access import requires
from clinic_api.appointment_schemas import (
    AgendaOut,
    AppointmentCreateRequest,
    AppointmentList,
    AppointmentOut,
    CancelRequest,
    DashboardOut,
    RescheduleRequest,
    WaitlistEntryOut,
    WaitlistList,
    WaitlistRequest,
)
from clinic_api.appointment_services import AppointmentServices
from clinic_api.bindings import QueryParam
from clinic_api.logging_setup import request_id_var
from clinic_api.openapi import documented
from clinic_api.problems import (
    PROBLEM_CONTENT_TYPE,
    ProblemRaised,
    invalid_fields,
    problem_for,
    render,
    unwrap_or_raise,
)
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, post
from clinic_core.application.actor import Actor
from clinic_core.application.idempotency import StoredResponse, parse_key, request_hash
from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import AppointmentId, AppointmentStatus, ProfessionalId
from clinic_core.scheduling.booking import (
    Action,
    BookAppointmentCommand,
    CancelAppointmentCommand,
    ChangeStatusCommand,
    RescheduleCommand,
)
from clinic_core.scheduling.views import AppointmentFilter
from clinic_core.scheduling.waitlist import AnswerOfferCommand, JoinWaitlistCommand
from clinic_core.scheduling.waitlist_model import OfferId, WaitlistEntryId
from clinic_core.shared.errors import FieldError, NotFound
from clinic_core.shared.ids import UnitId, parse_uuid
from clinic_core.tenancy.permissions import Permission

REPLAYED_HEADER = "Idempotent-Replayed"


def _id(raw: str, resource: str) -> UUID:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound(resource)))
    return parsed


def _query_id(param: QueryParam[str] | None, name: str, errors: list[FieldError]) -> UUID | None:
    if param is None or not param.value:
        return None
    parsed = parse_uuid(param.value)
    if parsed is None:
        errors.append(FieldError(name, "invalid_id", "not an id"))
    return parsed


def _query_time(raw: str | None, name: str, errors: list[FieldError]) -> datetime | None:
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(name, "invalid_datetime", "an ISO 8601 time with its offset"))
        return None
    if at.utcoffset() is None:
        errors.append(FieldError(name, "naive_datetime", "give the time with its UTC offset"))
        return None
    return at


def _query_date(param: QueryParam[str] | None, name: str = "date") -> date | None:
    if param is None or not param.value:
        return None
    try:
        return date.fromisoformat(param.value)
    except ValueError:
        raise ProblemRaised(
            invalid_fields([FieldError(name, "invalid_date", "a date, such as 2026-03-10")])
        ) from None


def _ok(appointment_out: AppointmentOut, status: int = 200) -> Response:
    return json_response(appointment_out, status, [("ETag", f'"{appointment_out.version}"')])


def _stored(response: StoredResponse) -> Response:
    headers: list[tuple[bytes, bytes]] = []
    if response.replayed:
        headers.append((REPLAYED_HEADER.encode(), b"true"))
    if response.status == 201:
        created = json.loads(response.body)
        headers.append((b"Location", f"/v1/appointments/{created['id']}".encode()))
    content_type = PROBLEM_CONTENT_TYPE if response.status >= 400 else b"application/json"
    return Response(response.status, headers, Content(content_type, response.body.encode()))


class Appointments(APIController):
    def __init__(self, appointments: AppointmentServices) -> None:
        self._a = appointments

    @classmethod
    def route(cls) -> str:
        return "/v1/appointments"

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(
        201,
        AppointmentOut,
        problems=(401, 403, 404, 409, 422),
        headers={
            "Location": HeaderInfo(str, "The URL of the new appointment."),
            REPLAYED_HEADER: HeaderInfo(str, "`true` when this is the stored answer of an earlier request."),
        },
    )
    @post("/")
    async def book(self, request: Request, actor: Actor, body: AppointmentCreateRequest) -> Response:
        """Book an appointment: a patient, a professional, a unit, a start and the procedures in order.

        The professional must work in the unit and perform every procedure; each item keeps a snapshot of
        its procedure's name, duration, buffers and price. No two active appointments overlap (buffers
        included) for the same professional, room or patient: a booking that would is 409 `slot_taken`,
        with the taken intervals in `conflicts`. A client books through the portal for themself or a
        patient they are guardian of, at least the clinic's minimum notice ahead.

        Send an `Idempotency-Key` header (a UUID) to retry safely: the same key with the same body answers
        what the first request answered (with `Idempotent-Replayed: true`); with another body, 422
        `idempotency_key_reused`. Keys are kept 24 hours.
        """
        raw_key = request.get_first_header(b"Idempotency-Key")
        parsed_key = parse_key(raw_key.decode("latin-1") if raw_key is not None else None)
        if isinstance(parsed_key, Failure):
            raise ProblemRaised(problem_for(parsed_key.failure()))
        command = BookAppointmentCommand(
            actor=actor,
            patient_id=body.patient_id,
            professional_id=body.professional_id,
            unit_id=body.unit_id,
            start=body.start,
            procedure_ids=tuple(body.procedure_ids),
            room_id=body.room_id,
            notes=body.notes,
            context=request_context(request),
        )

        async def execute() -> StoredResponse:
            booked = await self._a.book(command)
            if isinstance(booked, Failure):
                problem = problem_for(booked.failure())
                rendered = render(problem, request, request_id_var.get())
                assert rendered.content is not None
                return StoredResponse(problem.status, rendered.content.body.decode())
            return StoredResponse(201, AppointmentOut.of(booked.unwrap()).model_dump_json())

        key = parsed_key.unwrap()
        if key is None:
            return _stored(await execute())
        caller = str(actor.api_key_id or actor.user_id)
        fingerprint = request_hash(
            method="POST", path=request.path, caller=caller, body=body.model_dump(mode="json")
        )
        answer = unwrap_or_raise(await self._a.idempotency.run(actor.tenant_id, key, fingerprint, execute))
        return _stored(answer)

    @requires(Permission.APPOINTMENTS_READ)
    @documented(200, AppointmentList, problems=(401, 403, 422))
    @get("/")
    async def list_appointments(
        self,
        request: Request,
        actor: Actor,
        professional_id: QueryParam[str] | None = None,
        unit_id: QueryParam[str] | None = None,
        patient_id: QueryParam[str] | None = None,
        status: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """Appointments by start time, every filter given matching (a client sees their family's only).

        @param professional_id: of this professional.
        @param unit_id: in this unit.
        @param patient_id: of this patient.
        @param status: comma-separated statuses (`pending,confirmed`).
        The query parameters `from` and `to` (ISO 8601 times with their offset) keep the appointments
        starting at or after `from` and before `to` (at most 62 days apart).

        @param limit: 1 to 500 (default 100).
        """
        errors: list[FieldError] = []
        professional = _query_id(professional_id, "professional_id", errors)
        unit = _query_id(unit_id, "unit_id", errors)
        patient = _query_id(patient_id, "patient_id", errors)
        starts_from = _query_time(request.query.get("from", [None])[0], "from", errors)
        starts_before = _query_time(request.query.get("to", [None])[0], "to", errors)
        statuses = None
        if status is not None and status.value:
            try:
                statuses = frozenset(AppointmentStatus(s.strip()) for s in status.value.split(","))
            except ValueError:
                errors.append(
                    FieldError("status", "invalid_choice", ", ".join(s.value for s in AppointmentStatus))
                )
        if errors:
            raise ProblemRaised(invalid_fields(errors))
        found = unwrap_or_raise(
            await self._a.list(
                actor,
                AppointmentFilter(
                    professional_id=ProfessionalId(professional) if professional else None,
                    unit_id=UnitId(unit) if unit else None,
                    patient_id=PatientId(patient) if patient else None,
                    statuses=statuses,
                    starts_from=starts_from,
                    starts_before=starts_before,
                    limit=limit.value if limit is not None else 100,
                ),
            )
        )
        return json_response(AppointmentList(items=[AppointmentOut.of(a) for a in found]))

    @requires(Permission.APPOINTMENTS_READ)
    @documented(200, AppointmentOut, problems=(401, 403, 404))
    @get("/{appointment_id}")
    async def get_appointment(self, actor: Actor, appointment_id: str) -> Response:
        """One appointment, with its items, history and what may happen next.

        @param appointment_id: the appointment's id.
        """
        found = unwrap_or_raise(await self._a.get(actor, AppointmentId(_id(appointment_id, "appointment"))))
        return _ok(AppointmentOut.of(found))

    async def _change(self, request: Request, actor: Actor, appointment_id: str, action: Action) -> Response:
        changed = unwrap_or_raise(
            await self._a.change_status(
                ChangeStatusCommand(
                    actor, AppointmentId(_id(appointment_id, "appointment")), action, request_context(request)
                )
            )
        )
        return _ok(AppointmentOut.of(changed))

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(200, AppointmentOut, problems=(401, 403, 404, 409))
    @post("/{appointment_id}/confirm")
    async def confirm(self, request: Request, actor: Actor, appointment_id: str) -> Response:
        """Confirm a pending appointment (a client may confirm their own).

        @param appointment_id: the appointment's id.
        """
        return await self._change(request, actor, appointment_id, Action.CONFIRM)

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(200, AppointmentOut, problems=(401, 403, 404, 409))
    @post("/{appointment_id}/check-in")
    async def check_in(self, request: Request, actor: Actor, appointment_id: str) -> Response:
        """The patient arrived (from pending or confirmed).

        @param appointment_id: the appointment's id.
        """
        return await self._change(request, actor, appointment_id, Action.CHECK_IN)

    @requires(Permission.CLINICAL_WRITE)
    @documented(200, AppointmentOut, problems=(401, 403, 404, 409))
    @post("/{appointment_id}/start")
    async def start(self, request: Request, actor: Actor, appointment_id: str) -> Response:
        """The professional starts seeing the patient (from checked in).

        @param appointment_id: the appointment's id.
        """
        return await self._change(request, actor, appointment_id, Action.START)

    @requires(Permission.CLINICAL_WRITE)
    @documented(200, AppointmentOut, problems=(401, 403, 404, 409))
    @post("/{appointment_id}/complete")
    async def complete(self, request: Request, actor: Actor, appointment_id: str) -> Response:
        """The appointment is over (from in progress).

        @param appointment_id: the appointment's id.
        """
        return await self._change(request, actor, appointment_id, Action.COMPLETE)

    @requires(Permission.PATIENTS_WRITE)
    @documented(200, AppointmentOut, problems=(401, 403, 404, 409))
    @post("/{appointment_id}/no-show")
    async def no_show(self, request: Request, actor: Actor, appointment_id: str) -> Response:
        """The patient did not come: from pending or confirmed, once the start has passed (409
        `appointment_not_started` before).

        @param appointment_id: the appointment's id.
        """
        return await self._change(request, actor, appointment_id, Action.NO_SHOW)

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(200, AppointmentOut, problems=(401, 403, 404, 409, 422))
    @post("/{appointment_id}/cancel")
    async def cancel(self, request: Request, actor: Actor, appointment_id: str) -> Response:
        """Cancel (from pending, confirmed or checked in). Inside the clinic's cancellation window (24 h)
        the cancellation is marked late. The freed time is offered to the waitlist.

        The body (`{"reason": "..."}`) may be left out.

        @param appointment_id: the appointment's id.
        """
        raw = await request.read()
        body = CancelRequest.model_validate_json(raw) if raw and raw.strip() else CancelRequest()
        cancelled = unwrap_or_raise(
            await self._a.cancel(
                CancelAppointmentCommand(
                    actor,
                    AppointmentId(_id(appointment_id, "appointment")),
                    body.reason,
                    request_context(request),
                )
            )
        )
        return _ok(AppointmentOut.of(cancelled))

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(200, AppointmentOut, problems=(401, 403, 404, 409, 422))
    @post("/{appointment_id}/reschedule")
    async def reschedule(
        self, request: Request, actor: Actor, appointment_id: str, body: RescheduleRequest
    ) -> Response:
        """Move to another start, atomically, under the same rules as a booking (409 `slot_taken`); the
        history keeps the old and new times, and a confirmed appointment returns to pending.

        @param appointment_id: the appointment's id.
        """
        moved = unwrap_or_raise(
            await self._a.reschedule(
                RescheduleCommand(
                    actor,
                    AppointmentId(_id(appointment_id, "appointment")),
                    body.start,
                    body.reason,
                    request_context(request),
                )
            )
        )
        return _ok(AppointmentOut.of(moved))


class AppointmentViews(APIController):
    """The agenda, the unit calendar, a patient's appointments and the dashboard."""

    def __init__(self, appointments: AppointmentServices) -> None:
        self._a = appointments

    @classmethod
    def route(cls) -> str:
        return "/v1"

    @requires(Permission.PATIENTS_READ)
    @documented(200, AgendaOut, problems=(401, 403, 404, 422))
    @get("/professionals/{professional_id}/agenda")
    async def agenda(
        self,
        actor: Actor,
        professional_id: str,
        date: QueryParam[str] | None = None,
        days: QueryParam[int] | None = None,
        unit_id: QueryParam[str] | None = None,
    ) -> Response:
        """A professional's appointments over 1 or 7 local days of their unit.

        @param professional_id: the professional's id.
        @param date: the first day, `2026-03-10`, in the unit's time zone (default: today there).
        @param days: 1 (default) or 7.
        @param unit_id: the unit whose days these are (default: the professional's first unit).
        """
        day = _query_date(date)
        errors: list[FieldError] = []
        unit = _query_id(unit_id, "unit_id", errors)
        if errors:
            raise ProblemRaised(invalid_fields(errors))
        agenda = unwrap_or_raise(
            await self._a.agenda(
                actor,
                ProfessionalId(_id(professional_id, "professional")),
                day,
                days.value if days is not None else 1,
                UnitId(unit) if unit else None,
            )
        )
        return json_response(AgendaOut.of(agenda))

    @requires(Permission.PATIENTS_READ)
    @documented(200, AgendaOut, problems=(401, 403, 404, 422))
    @get("/units/{unit_id}/calendar")
    async def calendar(self, actor: Actor, unit_id: str, date: QueryParam[str] | None = None) -> Response:
        """A unit's appointments on one local day, every professional.

        @param unit_id: the unit's id.
        @param date: the day, `2026-03-10`, in the unit's time zone (default: today there).
        """
        day = _query_date(date)
        agenda = unwrap_or_raise(await self._a.calendar(actor, UnitId(_id(unit_id, "unit")), day))
        return json_response(AgendaOut.of(agenda))

    @requires(Permission.APPOINTMENTS_READ)
    @documented(200, AppointmentList, problems=(401, 403, 404))
    @get("/patients/{patient_id}/appointments")
    async def of_patient(self, request: Request, actor: Actor, patient_id: str) -> Response:
        """A patient's appointments by start time. The read is recorded in the patient's access log
        (action `appointments`).

        @param patient_id: the patient's id.
        """
        found = unwrap_or_raise(
            await self._a.of_patient(actor, PatientId(_id(patient_id, "patient")), request_context(request))
        )
        return json_response(AppointmentList(items=[AppointmentOut.of(a) for a in found]))

    @requires(Permission.PATIENTS_READ)
    @documented(200, DashboardOut, problems=(401, 403, 404, 422))
    @get("/dashboard")
    async def dashboard(self, actor: Actor, unit_id: QueryParam[str] | None = None) -> Response:
        """A unit's day: today's appointments, those awaiting confirmation, the no-show rate over the last
        30 days and each professional's booked time today.

        @param unit_id: the unit's id.
        """
        errors: list[FieldError] = []
        unit = _query_id(unit_id, "unit_id", errors)
        if unit is None and not errors:
            errors.append(FieldError("unit_id", "required", "the unit's id"))
        if errors:
            raise ProblemRaised(invalid_fields(errors))
        assert unit is not None
        board = unwrap_or_raise(await self._a.dashboard(actor, UnitId(unit)))
        return json_response(DashboardOut.of(board))


class Waitlist(APIController):
    def __init__(self, appointments: AppointmentServices) -> None:
        self._a = appointments

    @classmethod
    def route(cls) -> str:
        return "/v1/waitlist"

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(201, WaitlistEntryOut, problems=(401, 403, 404, 422))
    @post("/")
    async def join(self, request: Request, actor: Actor, body: WaitlistRequest) -> Response:
        """Put a patient on the waitlist for a procedure (optionally with one professional) between two
        times. When an appointment that matches is cancelled, the freed time is offered (an offer open for
        2 hours, and a `waitlist.offer_made` event for the notification).
        """
        entry = unwrap_or_raise(
            await self._a.join_waitlist(
                JoinWaitlistCommand(
                    actor=actor,
                    patient_id=body.patient_id,
                    procedure_id=body.procedure_id,
                    unit_id=body.unit_id,
                    earliest=body.earliest,
                    latest=body.latest,
                    professional_id=body.professional_id,
                    context=request_context(request),
                )
            )
        )
        from clinic_core.scheduling.waitlist import EntryView

        return json_response(WaitlistEntryOut.of(EntryView(entry, [])), 201)

    @requires(Permission.APPOINTMENTS_READ)
    @documented(200, WaitlistList, problems=(401, 403, 422))
    @get("/")
    async def list_entries(
        self, actor: Actor, unit_id: QueryParam[str] | None = None, patient_id: QueryParam[str] | None = None
    ) -> Response:
        """Open entries in the order they joined, with the offers made to them.

        @param unit_id: of this unit.
        @param patient_id: of this patient.
        """
        errors: list[FieldError] = []
        unit = _query_id(unit_id, "unit_id", errors)
        patient = _query_id(patient_id, "patient_id", errors)
        if errors:
            raise ProblemRaised(invalid_fields(errors))
        views = unwrap_or_raise(
            await self._a.list_waitlist(
                actor, UnitId(unit) if unit else None, PatientId(patient) if patient else None
            )
        )
        return json_response(WaitlistList(items=[WaitlistEntryOut.of(v) for v in views]))

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(204, problems=(401, 403, 404))
    @delete("/{entry_id}")
    async def remove(self, actor: Actor, entry_id: str) -> Response:
        """Take an entry off the waitlist.

        @param entry_id: the entry's id.
        """
        unwrap_or_raise(
            await self._a.remove_from_waitlist(actor, WaitlistEntryId(_id(entry_id, "waitlist_entry")))
        )
        return Response(204)

    async def _answer(self, request: Request, actor: Actor, offer_id: str, accept: bool) -> Response:
        booked = unwrap_or_raise(
            await self._a.answer_offer(
                AnswerOfferCommand(
                    actor, OfferId(_id(offer_id, "waitlist_offer")), accept, request_context(request)
                )
            )
        )
        if booked is None:
            return Response(204)
        return json_response(AppointmentOut.of(booked), 201, [("Location", f"/v1/appointments/{booked.id}")])

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(201, AppointmentOut, problems=(401, 403, 404, 409, 422))
    @post("/offers/{offer_id}/accept")
    async def accept(self, request: Request, actor: Actor, offer_id: str) -> Response:
        """Accept an open offer: books it, with the same checks as any booking (409 `slot_taken` when
        another accepted first; 409 `offer_closed` when it expired or was answered).

        @param offer_id: the offer's id.
        """
        return await self._answer(request, actor, offer_id, True)

    @requires(Permission.APPOINTMENTS_WRITE)
    @documented(204, problems=(401, 403, 404, 409))
    @post("/offers/{offer_id}/decline")
    async def decline(self, request: Request, actor: Actor, offer_id: str) -> Response:
        """Decline an open offer; the entry waits for the next freed time.

        @param offer_id: the offer's id.
        """
        return await self._answer(request, actor, offer_id, False)
