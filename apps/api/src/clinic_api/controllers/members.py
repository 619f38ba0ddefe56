from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController

from clinic_api.access import requires
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, put
from clinic_api.schemas import MemberOut, MemberPage, MemberRolesOut, MemberRolesRequest
from clinic_core.access.roles import SetMemberRoles, SetMemberRolesCommand
from clinic_core.application.actor import Actor
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import MembershipId, RoleId, parse_uuid
from clinic_core.tenancy.members import GetMember, ListMembers
from clinic_core.tenancy.permissions import Permission
from clinic_core.tenancy.removal import RemoveMember, RemoveMemberCommand


class Members(APIController):
    def __init__(
        self,
        list_members: ListMembers,
        get_member: GetMember,
        set_member_roles: SetMemberRoles,
        remove_member: RemoveMember,
    ) -> None:
        self._list, self._get, self._set_roles = list_members, get_member, set_member_roles
        self._remove = remove_member

    @classmethod
    def route(cls) -> str:
        return "/v1/members"

    @requires(Permission.MEMBERS_READ)
    @documented(200, MemberPage, problems=(401, 403, 422))
    @get("/")
    async def list_members(
        self, actor: Actor, cursor: QueryParam[str] | None = None, limit: QueryParam[int] | None = None
    ) -> Response:
        """The members of the current clinic, oldest first. Needs the `members:read` permission.

        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(await self._list(actor, page_request(cursor, limit)))
        return json_response(
            MemberPage(items=[MemberOut.of(member) for member in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.MEMBERS_READ)
    @documented(200, MemberOut, problems=(401, 403, 404))
    @get("/{member_id}")
    async def get_member(self, actor: Actor, member_id: str) -> Response:
        """One member of the current clinic. Members of other clinics are 404.

        @param member_id: the membership's id (a UUID), as listed by GET /v1/members.
        """
        parsed = parse_uuid(member_id)
        if parsed is None:
            raise ProblemRaised(problem_for(NotFound("member")))
        return json_response(MemberOut.of(unwrap_or_raise(await self._get(actor, MembershipId(parsed)))))

    @requires(Permission.MEMBERS_WRITE)
    @documented(200, MemberRolesOut, problems=(401, 403, 404, 409, 422))
    @put("/{member_id}/roles")
    async def set_member_roles(
        self, request: Request, actor: Actor, member_id: str, body: MemberRolesRequest
    ) -> Response:
        """Replace a member's built-in roles and the clinic's own roles they hold (at least one role).

        You may add or take away only permissions you hold yourself (403 `permission_escalation`); only an
        owner makes or unmakes an owner (403 `owner_only`); the last owner stays one (409 `last_owner`).
        The member's sessions follow within `CLINIC_SESSION_CACHE_SECONDS`.

        @param member_id: the membership's id (a UUID).
        """
        parsed = parse_uuid(member_id)
        if parsed is None:
            raise ProblemRaised(problem_for(NotFound("member")))
        membership = unwrap_or_raise(
            await self._set_roles(
                SetMemberRolesCommand(
                    actor=actor,
                    membership_id=MembershipId(parsed),
                    roles=frozenset(body.roles),
                    custom_role_ids=frozenset(RoleId(r) for r in body.custom_role_ids),
                    context=request_context(request),
                )
            )
        )
        return json_response(MemberRolesOut.of(membership))

    @requires(Permission.MEMBERS_WRITE)
    @documented(204, problems=(401, 403, 404, 409))
    @delete("/{member_id}")
    async def remove_member(self, request: Request, actor: Actor, member_id: str) -> Response:
        """Remove a member from the current clinic and end their sessions in it. Their account, and their
        places in other clinics, stay.

        The same rules as changing their roles: only an owner removes an owner (403 `owner_only`), the last
        owner stays (409 `last_owner`), and you may take away only permissions you hold yourself (403
        `permission_escalation`). Staff restricted to units remove only members restricted to units of
        theirs; any other member is 404.

        @param member_id: the membership's id (a UUID).
        """
        parsed = parse_uuid(member_id)
        if parsed is None:
            raise ProblemRaised(problem_for(NotFound("member")))
        unwrap_or_raise(
            await self._remove(
                RemoveMemberCommand(actor, MembershipId(parsed), context=request_context(request))
            )
        )
        return Response(204)
