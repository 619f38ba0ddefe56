from __future__ import annotations

from blacksheep import Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.responses import json_response
from clinic_api.routing import get, post
from clinic_api.schemas import CreateUnitRequest, UnitOut, UnitPage
from clinic_core.application.actor import Actor
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import UnitId, parse_uuid
from clinic_core.tenancy.permissions import Permission
from clinic_core.tenancy.units import AddressInput, CreateUnit, CreateUnitCommand, GetUnit, ListUnits


class Units(APIController):
    def __init__(self, list_units: ListUnits, get_unit: GetUnit, create_unit: CreateUnit) -> None:
        self._list, self._get, self._create = list_units, get_unit, create_unit

    @classmethod
    def route(cls) -> str:
        return "/v1/units"

    @requires(Permission.UNITS_READ)
    @documented(200, UnitPage, problems=(401, 403, 422))
    @get("/")
    async def list_units(
        self, actor: Actor, cursor: QueryParam[str] | None = None, limit: QueryParam[int] | None = None
    ) -> Response:
        """The units of the current clinic that the caller may see, oldest first.

        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(await self._list(actor, page_request(cursor, limit)))
        return json_response(
            UnitPage(items=[UnitOut.of(unit) for unit in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.UNITS_READ)
    @documented(200, UnitOut, problems=(401, 403, 404))
    @get("/{unit_id}")
    async def get_unit(self, actor: Actor, unit_id: str) -> Response:
        """One unit of the current clinic. Units of other clinics, or outside the caller's units, are 404.

        @param unit_id: the unit's id (a UUID).
        """
        parsed = parse_uuid(unit_id)
        if parsed is None:
            raise ProblemRaised(problem_for(NotFound("unit")))
        return json_response(UnitOut.of(unwrap_or_raise(await self._get(actor, UnitId(parsed)))))

    @requires(Permission.UNITS_WRITE)
    @documented(
        201,
        UnitOut,
        problems=(401, 403, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new unit.")},
    )
    @post("/")
    async def create_unit(self, actor: Actor, body: CreateUnitRequest) -> Response:
        """Add a unit (a location) to the current clinic. Needs the `units:write` permission."""
        address = body.address
        unit = unwrap_or_raise(
            await self._create(
                CreateUnitCommand(
                    actor=actor,
                    name=body.name,
                    timezone=body.timezone,
                    phone=body.phone,
                    address=AddressInput(
                        line1=address.line1,
                        city=address.city,
                        state=address.state,
                        postal_code=address.postal_code,
                        country=address.country,
                        line2=address.line2,
                        district=address.district,
                    )
                    if address
                    else None,
                )
            )
        )
        return json_response(UnitOut.of(unit), 201, [("Location", f"/v1/units/{unit.id}")])
