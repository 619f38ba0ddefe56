"""The catalog: categories, procedures (and their order), professionals and the rooms and equipment of each
unit.

Reading needs ``catalog:read``; changing, ``catalog:write``. Deactivating is ``PATCH {"active": false}``:
entries are never deleted, since appointments keep pointing at them.
"""

from __future__ import annotations

from uuid import UUID

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires
from clinic_api.bindings import QueryParam
from clinic_api.catalog_schemas import (
    AssignProceduresRequest,
    CategoryList,
    CategoryOut,
    CategoryRequest,
    EquipmentList,
    EquipmentOut,
    EquipmentRequest,
    ProcedureOut,
    ProcedurePageOut,
    ProcedureRequest,
    ProfessionalOut,
    ProfessionalPage,
    ProfessionalRequest,
    ReorderOut,
    ReorderRequest,
    RoomList,
    RoomOut,
    RoomRequest,
)
from clinic_api.catalog_services import CatalogServices
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, invalid_fields, path_id, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import get, patch, post
from clinic_core.application.actor import Actor
from clinic_core.application.pagination import DEFAULT_LIMIT
from clinic_core.catalog.model import CategoryId, EquipmentId, ProcedureId, ProfessionalId, RoomId
from clinic_core.catalog.ports import ProfessionalQuery
from clinic_core.catalog.use_cases import ProcedureListing
from clinic_core.shared.errors import FieldError
from clinic_core.shared.ids import UnitId, parse_uuid
from clinic_core.tenancy.permissions import Permission


def _query_id(param: QueryParam[str] | None, name: str) -> UUID | None:
    if param is None or not param.value:
        return None
    parsed = parse_uuid(param.value)
    if parsed is None:
        raise ProblemRaised(invalid_fields([FieldError(name, "invalid_value", "expected a UUID")]))
    return parsed


def _flag(param: QueryParam[bool] | None) -> bool | None:
    return param.value if param is not None else None


def _type_filter(param: QueryParam[str] | None) -> str | None:
    """A room's or device's `type` filter, as types are stored (lower case); empty means no filter."""
    return param.value.strip().lower() if param is not None and param.value.strip() else None


class Categories(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._c = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/categories"

    @requires(Permission.CATALOG_READ)
    @documented(200, CategoryList, problems=(401, 403, 422))
    @get("/")
    async def list_categories(self, actor: Actor, active: QueryParam[bool] | None = None) -> Response:
        """The clinic's procedure categories in display order (a clinic has tens, so no pages).

        @param active: only the active (`true`) or inactive (`false`) ones.
        """
        found = unwrap_or_raise(await self._c.list_categories(actor, _flag(active)))
        return json_response(CategoryList(items=[CategoryOut.of(c) for c in found]))

    @requires(Permission.CATALOG_WRITE)
    @documented(
        201,
        CategoryOut,
        problems=(401, 403, 409, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new category.")},
    )
    @post("/")
    async def create_category(self, request: Request, actor: Actor, body: CategoryRequest) -> Response:
        """Add a category. Its slug is unique in the clinic (409 `duplicate_catalog_entry`)."""
        category = unwrap_or_raise(
            await self._c.create_category(actor, body.fields(), request_context(request))
        )
        return json_response(CategoryOut.of(category), 201, [("Location", f"/v1/categories/{category.id}")])

    @requires(Permission.CATALOG_READ)
    @documented(200, CategoryOut, problems=(401, 403, 404))
    @get("/{category_id}")
    async def get_category(self, actor: Actor, category_id: str) -> Response:
        """One category of the clinic; another clinic's is 404.

        @param category_id: the category's id (a UUID).
        """
        found = await self._c.get_category(actor, CategoryId(path_id(category_id, "category")))
        return json_response(CategoryOut.of(unwrap_or_raise(found)))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, CategoryOut, problems=(401, 403, 404, 409, 422))
    @patch("/{category_id}")
    async def update_category(
        self, request: Request, actor: Actor, category_id: str, body: CategoryRequest
    ) -> Response:
        """Change the fields given; `{"active": false}` deactivates it.

        @param category_id: the category's id (a UUID).
        """
        updated = await self._c.update_category(
            actor, CategoryId(path_id(category_id, "category")), body.fields(), request_context(request)
        )
        return json_response(CategoryOut.of(unwrap_or_raise(updated)))


class Procedures(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._c = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/procedures"

    @requires(Permission.CATALOG_READ)
    @documented(200, ProcedurePageOut, problems=(401, 403, 422))
    @get("/")
    async def list_procedures(
        self,
        actor: Actor,
        active: QueryParam[bool] | None = None,
        category_id: QueryParam[str] | None = None,
        professional_id: QueryParam[str] | None = None,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The clinic's procedures in display order (`sort_order`, then creation), a page at a time.

        @param active: only the active (`true`) or inactive (`false`) ones.
        @param category_id: only those of this category.
        @param professional_id: only those this professional performs.
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        category = _query_id(category_id, "category_id")
        professional = _query_id(professional_id, "professional_id")
        listing = ProcedureListing(
            active=_flag(active),
            category_id=CategoryId(category) if category else None,
            professional_id=ProfessionalId(professional) if professional else None,
            cursor=cursor.value if cursor else None,
            limit=limit.value if limit else DEFAULT_LIMIT,
        )
        page = unwrap_or_raise(await self._c.list_procedures(actor, listing))
        return json_response(
            ProcedurePageOut(items=[ProcedureOut.of(p) for p in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.CATALOG_WRITE)
    @documented(
        201,
        ProcedureOut,
        problems=(401, 403, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new procedure.")},
    )
    @post("/")
    async def create_procedure(self, request: Request, actor: Actor, body: ProcedureRequest) -> Response:
        """Add a procedure: `name`, `duration_minutes` (5 to 720, steps of 5) and `price` are required."""
        procedure = unwrap_or_raise(
            await self._c.create_procedure(actor, body.fields(), request_context(request))
        )
        return json_response(
            ProcedureOut.of(procedure), 201, [("Location", f"/v1/procedures/{procedure.id}")]
        )

    @requires(Permission.CATALOG_WRITE)
    @documented(200, ReorderOut, problems=(401, 403, 404, 422))
    @post("/reorder")
    async def reorder_procedures(self, request: Request, actor: Actor, body: ReorderRequest) -> Response:
        """Set the display order: list every procedure of the clinic (or of `category_id`) in the order
        wanted. An id of no procedure of the clinic is 404; one left out, listed twice, or of another
        category is 422 `validation_failed`."""
        ordered = await self._c.reorder_procedures(
            actor,
            body.procedure_ids,
            CategoryId(body.category_id) if body.category_id else None,
            request_context(request),
        )
        return json_response(ReorderOut(procedure_ids=list(unwrap_or_raise(ordered))))

    @requires(Permission.CATALOG_READ)
    @documented(200, ProcedureOut, problems=(401, 403, 404))
    @get("/{procedure_id}")
    async def get_procedure(self, actor: Actor, procedure_id: str) -> Response:
        """One procedure of the clinic; another clinic's is 404.

        @param procedure_id: the procedure's id (a UUID).
        """
        found = await self._c.get_procedure(actor, ProcedureId(path_id(procedure_id, "procedure")))
        return json_response(ProcedureOut.of(unwrap_or_raise(found)))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, ProcedureOut, problems=(401, 403, 404, 422))
    @patch("/{procedure_id}")
    async def update_procedure(
        self, request: Request, actor: Actor, procedure_id: str, body: ProcedureRequest
    ) -> Response:
        """Change the fields given; `{"active": false}` deactivates it (it is then offered for booking no
        more; appointments made keep their snapshot of its duration and price).

        @param procedure_id: the procedure's id (a UUID).
        """
        updated = await self._c.update_procedure(
            actor, ProcedureId(path_id(procedure_id, "procedure")), body.fields(), request_context(request)
        )
        return json_response(ProcedureOut.of(unwrap_or_raise(updated)))


class Professionals(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._c = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/professionals"

    @requires(Permission.CATALOG_READ)
    @documented(200, ProfessionalPage, problems=(401, 403, 422))
    @get("/")
    async def list_professionals(
        self,
        actor: Actor,
        active: QueryParam[bool] | None = None,
        unit_id: QueryParam[str] | None = None,
        procedure_id: QueryParam[str] | None = None,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The clinic's professionals, oldest first.

        @param active: only the active (`true`) or inactive (`false`) ones.
        @param unit_id: only those who work in this unit.
        @param procedure_id: only those who perform this procedure.
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        unit = _query_id(unit_id, "unit_id")
        procedure = _query_id(procedure_id, "procedure_id")
        query = ProfessionalQuery(
            active=_flag(active),
            unit_id=UnitId(unit) if unit else None,
            procedure_ids=frozenset({ProcedureId(procedure)}) if procedure else frozenset(),
        )
        page = unwrap_or_raise(await self._c.list_professionals(actor, query, page_request(cursor, limit)))
        return json_response(
            ProfessionalPage(items=[ProfessionalOut.of(p) for p in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.CATALOG_WRITE)
    @documented(
        201,
        ProfessionalOut,
        problems=(401, 403, 409, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new professional.")},
    )
    @post("/")
    async def create_professional(
        self, request: Request, actor: Actor, body: ProfessionalRequest
    ) -> Response:
        """Make a member who holds the `professional` role bookable. One professional per member, and one
        per council registration (409 `duplicate_catalog_entry`); a user who is no member, or whose member
        lacks the role, is 422."""
        created = await self._c.create_professional(actor, body.fields(), request_context(request))
        professional = unwrap_or_raise(created)
        return json_response(
            ProfessionalOut.of(professional), 201, [("Location", f"/v1/professionals/{professional.id}")]
        )

    @requires(Permission.CATALOG_READ)
    @documented(200, ProfessionalOut, problems=(401, 403, 404))
    @get("/{professional_id}")
    async def get_professional(self, actor: Actor, professional_id: str) -> Response:
        """One professional of the clinic; another clinic's is 404.

        @param professional_id: the professional's id (a UUID).
        """
        found = await self._c.get_professional(
            actor, ProfessionalId(path_id(professional_id, "professional"))
        )
        return json_response(ProfessionalOut.of(unwrap_or_raise(found)))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, ProfessionalOut, problems=(401, 403, 404, 409, 422))
    @patch("/{professional_id}")
    async def update_professional(
        self, request: Request, actor: Actor, professional_id: str, body: ProfessionalRequest
    ) -> Response:
        """Change the fields given (not `user_id`); `{"active": false}` deactivates them.

        @param professional_id: the professional's id (a UUID).
        """
        updated = await self._c.update_professional(
            actor,
            ProfessionalId(path_id(professional_id, "professional")),
            body.fields(),
            request_context(request),
        )
        return json_response(ProfessionalOut.of(unwrap_or_raise(updated)))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, ProfessionalOut, problems=(401, 403, 404, 422))
    @post("/{professional_id}/procedures")
    async def assign_procedures(
        self, request: Request, actor: Actor, professional_id: str, body: AssignProceduresRequest
    ) -> Response:
        """Make `procedure_ids` the whole set of procedures the professional performs.

        @param professional_id: the professional's id (a UUID).
        """
        updated = await self._c.assign_procedures(
            actor,
            ProfessionalId(path_id(professional_id, "professional")),
            body.procedure_ids,
            request_context(request),
        )
        return json_response(ProfessionalOut.of(unwrap_or_raise(updated)))


class UnitRooms(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._c = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/units"

    @requires(Permission.CATALOG_READ)
    @documented(200, RoomList, problems=(401, 403, 404, 422))
    @get("/{unit_id}/rooms")
    async def list_rooms(
        self,
        actor: Actor,
        unit_id: str,
        active: QueryParam[bool] | None = None,
        type: QueryParam[str] | None = None,
    ) -> Response:
        """The rooms of a unit, by name. Another clinic's unit is 404.

        @param unit_id: the unit's id (a UUID).
        @param active: only the active (`true`) or inactive (`false`) ones.
        @param type: only rooms of this type (`laser_room`).
        """
        rooms = await self._c.list_rooms(
            actor,
            UnitId(path_id(unit_id, "unit")),
            active=_flag(active),
            type=_type_filter(type),
        )
        return json_response(RoomList(items=[RoomOut.of(r) for r in unwrap_or_raise(rooms)]))

    @requires(Permission.CATALOG_WRITE)
    @documented(
        201,
        RoomOut,
        problems=(401, 403, 404, 409, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new room.")},
    )
    @post("/{unit_id}/rooms")
    async def create_room(self, request: Request, actor: Actor, unit_id: str, body: RoomRequest) -> Response:
        """Add a room to a unit: a `name` unique in the unit (409 `duplicate_catalog_entry`) and a `type`.

        @param unit_id: the unit's id (a UUID).
        """
        created = await self._c.create_room(
            actor, UnitId(path_id(unit_id, "unit")), body.fields(), request_context(request)
        )
        room = unwrap_or_raise(created)
        return json_response(RoomOut.of(room), 201, [("Location", f"/v1/rooms/{room.id}")])


class Rooms(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._c = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/rooms"

    @requires(Permission.CATALOG_READ)
    @documented(200, RoomOut, problems=(401, 403, 404))
    @get("/{room_id}")
    async def get_room(self, actor: Actor, room_id: str) -> Response:
        """One room; another clinic's (or a unit's the caller does not work in) is 404.

        @param room_id: the room's id (a UUID).
        """
        found = await self._c.get_room(actor, RoomId(path_id(room_id, "room")))
        return json_response(RoomOut.of(unwrap_or_raise(found)))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, RoomOut, problems=(401, 403, 404, 409, 422))
    @patch("/{room_id}")
    async def update_room(self, request: Request, actor: Actor, room_id: str, body: RoomRequest) -> Response:
        """Change the fields given; `{"active": false}` deactivates it.

        @param room_id: the room's id (a UUID).
        """
        updated = await self._c.update_room(
            actor, RoomId(path_id(room_id, "room")), body.fields(), request_context(request)
        )
        return json_response(RoomOut.of(unwrap_or_raise(updated)))


class UnitEquipment(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._c = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/units"

    @requires(Permission.CATALOG_READ)
    @documented(200, EquipmentList, problems=(401, 403, 404, 422))
    @get("/{unit_id}/equipment")
    async def list_equipment(
        self,
        actor: Actor,
        unit_id: str,
        active: QueryParam[bool] | None = None,
        type: QueryParam[str] | None = None,
    ) -> Response:
        """The equipment of a unit, by name. Another clinic's unit is 404.

        @param unit_id: the unit's id (a UUID).
        @param active: only the active (`true`) or inactive (`false`) ones.
        @param type: only equipment of this type (`laser`).
        """
        listed = await self._c.list_equipment(
            actor,
            UnitId(path_id(unit_id, "unit")),
            active=_flag(active),
            type=_type_filter(type),
        )
        return json_response(EquipmentList(items=[EquipmentOut.of(e) for e in unwrap_or_raise(listed)]))

    @requires(Permission.CATALOG_WRITE)
    @documented(
        201,
        EquipmentOut,
        problems=(401, 403, 404, 409, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new equipment.")},
    )
    @post("/{unit_id}/equipment")
    async def create_equipment(
        self, request: Request, actor: Actor, unit_id: str, body: EquipmentRequest
    ) -> Response:
        """Add a device to a unit: a `name` unique in the unit (409 `duplicate_catalog_entry`) and a `type`.

        @param unit_id: the unit's id (a UUID).
        """
        created = await self._c.create_equipment(
            actor, UnitId(path_id(unit_id, "unit")), body.fields(), request_context(request)
        )
        equipment = unwrap_or_raise(created)
        return json_response(EquipmentOut.of(equipment), 201, [("Location", f"/v1/equipment/{equipment.id}")])


class EquipmentItems(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._c = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/equipment"

    @requires(Permission.CATALOG_READ)
    @documented(200, EquipmentOut, problems=(401, 403, 404))
    @get("/{equipment_id}")
    async def get_equipment(self, actor: Actor, equipment_id: str) -> Response:
        """One piece of equipment; another clinic's (or a unit's the caller does not work in) is 404.

        @param equipment_id: the equipment's id (a UUID).
        """
        found = await self._c.get_equipment(actor, EquipmentId(path_id(equipment_id, "equipment")))
        return json_response(EquipmentOut.of(unwrap_or_raise(found)))

    @requires(Permission.CATALOG_WRITE)
    @documented(200, EquipmentOut, problems=(401, 403, 404, 409, 422))
    @patch("/{equipment_id}")
    async def update_equipment(
        self, request: Request, actor: Actor, equipment_id: str, body: EquipmentRequest
    ) -> Response:
        """Change the fields given; `{"active": false}` deactivates it.

        @param equipment_id: the equipment's id (a UUID).
        """
        updated = await self._c.update_equipment(
            actor, EquipmentId(path_id(equipment_id, "equipment")), body.fields(), request_context(request)
        )
        return json_response(EquipmentOut.of(unwrap_or_raise(updated)))
