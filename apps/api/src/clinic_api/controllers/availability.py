"""``GET /v1/availability``: the free start times of an appointment of one or more procedures at a unit.

Needs ``appointments:read`` (it shows when professionals are taken). Slots come grouped by the unit's local
date and by professional, each as local time with its UTC offset, so that a client never converts time zones
itself: on a day the clocks change, the offsets in one day's list differ.
"""

from __future__ import annotations

from blacksheep import Response
from blacksheep.server.controllers import APIController

from clinic_api.access import requires
from clinic_api.availability_query import FromParam, availability_query
from clinic_api.availability_schemas import AvailabilityOut
from clinic_api.bindings import QueryParam
from clinic_api.openapi import documented
from clinic_api.problems import unwrap_or_raise
from clinic_api.responses import json_response
from clinic_api.routing import get
from clinic_api.scheduling_services import SchedulingServices
from clinic_core.application.actor import Actor
from clinic_core.scheduling.working_time_use_cases import AvailabilityRequest
from clinic_core.tenancy.permissions import Permission


class AvailabilitySearch(APIController):
    def __init__(self, scheduling: SchedulingServices) -> None:
        self._s = scheduling

    @classmethod
    def route(cls) -> str:
        return "/v1/availability"

    @requires(Permission.APPOINTMENTS_READ)
    @documented(200, AvailabilityOut, problems=(401, 403, 404, 422))
    @get("/")
    async def availability(
        self,
        actor: Actor,
        unit_id: QueryParam[str] | None = None,
        procedure_ids: QueryParam[str] | None = None,
        professional_id: QueryParam[str] | None = None,
        from_: FromParam | None = None,
        to: QueryParam[str] | None = None,
    ) -> Response:
        """Free start times of an appointment made of `procedure_ids`, one after another, with one
        professional who performs them all, in `[from, to)` (at most 31 days). The unit's booking rules
        apply (minimum notice, horizon, slot grid in local time); existing appointments (with their
        buffers), time off and closures are excluded, and a room of the type the procedures need must be
        free. An unknown or inactive procedure is 404; a professional who does not work at the unit or
        does not perform them all gets no slots.

        @param unit_id: the unit (required).
        @param procedure_ids: comma-separated procedure ids, in the order they are done (1 to 10).
        @param professional_id: only this professional; omitted: everyone who can.
        @param from: an instant with its UTC offset (required; send `+` as `%2B`).
        @param to: an instant with its UTC offset (required), after `from`.
        """
        query = availability_query(unit_id, procedure_ids, professional_id, from_, to)
        request = AvailabilityRequest(
            actor,
            query.unit_id,
            query.procedure_ids,
            query.starts_from,
            query.starts_before,
            query.professional_id,
        )
        return json_response(AvailabilityOut.of(unwrap_or_raise(await self._s.availability(request))))
