from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires, requires_signed_in
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, post, put
from clinic_api.schemas import PermissionList, PermissionOut, RoleList, RoleOut, RoleRequest
from clinic_core.access.roles import (
    CreateRole,
    CreateRoleCommand,
    DeleteRole,
    DeleteRoleCommand,
    GetRole,
    ListRoles,
    RoleInput,
    UpdateRole,
    UpdateRoleCommand,
)
from clinic_core.application.actor import Actor
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import RoleId, parse_uuid
from clinic_core.tenancy.permissions import Permission


def _role_id(raw: str) -> RoleId:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound("role")))
    return RoleId(parsed)


def _input(body: RoleRequest) -> RoleInput:
    return RoleInput(name=body.name, permissions=frozenset(body.permissions), description=body.description)


class Permissions(APIController):
    @classmethod
    def route(cls) -> str:
        return "/v1/permissions"

    @requires_signed_in()
    @documented(200, PermissionList, problems=(401,))
    @get("/")
    async def list_permissions(self) -> Response:
        """Every permission a role or an API key can hold, as `resource:action` names."""
        return json_response(PermissionList(items=[PermissionOut(name=p.value) for p in Permission]))


class Roles(APIController):
    def __init__(
        self,
        list_roles: ListRoles,
        get_role: GetRole,
        create_role: CreateRole,
        update_role: UpdateRole,
        delete_role: DeleteRole,
    ) -> None:
        self._list, self._get, self._create = list_roles, get_role, create_role
        self._update, self._delete = update_role, delete_role

    @classmethod
    def route(cls) -> str:
        return "/v1/roles"

    @requires(Permission.MEMBERS_READ)
    @documented(200, RoleList, problems=(401, 403))
    @get("/")
    async def list_roles(self, actor: Actor) -> Response:
        """The built-in roles (`built_in`, with their permissions) and the clinic's own roles."""
        catalogue = unwrap_or_raise(await self._list(actor))
        return json_response(
            RoleList(
                items=[RoleOut.built(r) for r in catalogue.built_in]
                + [RoleOut.of(r) for r in catalogue.custom]
            )
        )

    @requires(Permission.MEMBERS_WRITE)
    @documented(
        201,
        RoleOut,
        problems=(401, 403, 409, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new role.")},
    )
    @post("/")
    async def create_role(self, request: Request, actor: Actor, body: RoleRequest) -> Response:
        """Create a role of the clinic's own. Its name is unique in the clinic (case aside) and is not a
        built-in role's; you must hold every permission you give it (403 `permission_escalation`)."""
        role = unwrap_or_raise(
            await self._create(CreateRoleCommand(actor, _input(body), context=request_context(request)))
        )
        return json_response(RoleOut.of(role), 201, [("Location", f"/v1/roles/{role.id}")])

    @requires(Permission.MEMBERS_READ)
    @documented(200, RoleOut, problems=(401, 403, 404))
    @get("/{role_id}")
    async def get_role(self, actor: Actor, role_id: str) -> Response:
        """One of the clinic's own roles. Another clinic's role is 404.

        @param role_id: the role's id (a UUID), as listed by GET /v1/roles.
        """
        return json_response(RoleOut.of(unwrap_or_raise(await self._get(actor, _role_id(role_id)))))

    @requires(Permission.MEMBERS_WRITE)
    @documented(200, RoleOut, problems=(401, 403, 404, 409, 422))
    @put("/{role_id}")
    async def update_role(self, request: Request, actor: Actor, role_id: str, body: RoleRequest) -> Response:
        """Replace a role's name, description and permissions. Members holding it gain or lose the
        permissions on their next request (within `CLINIC_SESSION_CACHE_SECONDS`). You must hold every
        permission the role has, before and after.

        @param role_id: the role's id (a UUID).
        """
        role = unwrap_or_raise(
            await self._update(
                UpdateRoleCommand(actor, _role_id(role_id), _input(body), context=request_context(request))
            )
        )
        return json_response(RoleOut.of(role))

    @requires(Permission.MEMBERS_WRITE)
    @documented(204, problems=(401, 403, 404, 409))
    @delete("/{role_id}")
    async def delete_role(self, request: Request, actor: Actor, role_id: str) -> Response:
        """Delete a role nobody holds; a role still held is 409 `role_in_use`.

        @param role_id: the role's id (a UUID).
        """
        unwrap_or_raise(
            await self._delete(DeleteRoleCommand(actor, _role_id(role_id), context=request_context(request)))
        )
        return Response(204)
