from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController

from clinic_api.access import requires
from clinic_api.auth import ActorIdentity
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.rate_limiting import Throttle
from clinic_api.responses import client_ip, json_response, request_context
from clinic_api.routing import post
from clinic_api.schemas import AcceptInvitationRequest, InvitationOut, InviteMemberRequest, MemberOut
from clinic_core.access.model import ApiKeyNotAllowed
from clinic_core.application.actor import Actor
from clinic_core.shared.ids import UnitId
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    InviteMember,
    InviteMemberCommand,
)
from clinic_core.tenancy.permissions import Permission


class Invitations(APIController):
    def __init__(
        self, invite_member: InviteMember, accept_invitation: AcceptInvitation, throttle: Throttle
    ) -> None:
        self._invite, self._accept, self._throttle = invite_member, accept_invitation, throttle

    @classmethod
    def route(cls) -> str:
        return "/v1/invitations"

    @requires(Permission.MEMBERS_WRITE)
    @documented(201, InvitationOut, problems=(401, 403, 409, 422))
    @post("/")
    async def invite_member(self, request: Request, actor: Actor, body: InviteMemberRequest) -> Response:
        """Invite someone to the current clinic with the given roles, in every unit or only in `unit_ids`.

        The response holds the invitation token, shown this once: deliver it to the invitee.
        """
        issued = unwrap_or_raise(
            await self._invite(
                InviteMemberCommand(
                    actor=actor,
                    email=body.email,
                    roles=frozenset(body.roles),
                    unit_ids=frozenset(UnitId(unit_id) for unit_id in body.unit_ids),
                    context=request_context(request),
                )
            )
        )
        return json_response(InvitationOut.of(issued), 201)

    @allow_anonymous()
    @documented(201, MemberOut, problems=(401, 403, 409, 410, 422, 429, 503))
    @post("/accept")
    async def accept_invitation(self, request: Request, body: AcceptInvitationRequest) -> Response:
        """Join the inviting clinic with an invitation token.

        A person without an account creates one here (`name` and `password` required). A person who has
        an account calls this signed in as it (`Authorization: Bearer`), without a password; unsigned, they
        get 401 `sign_in_required`.
        """
        await self._throttle.accept_invitation(client_ip(request))
        identity = getattr(request, "identity", None)
        if isinstance(identity, ActorIdentity) and identity.actor.api_key_id is not None:
            raise ProblemRaised(problem_for(ApiKeyNotAllowed()))
        signed_in_as = identity.actor.user_id if isinstance(identity, ActorIdentity) else None
        member = unwrap_or_raise(
            await self._accept(
                AcceptInvitationCommand(
                    token=body.token,
                    signed_in_as=signed_in_as,
                    password=body.password,
                    name=body.name,
                    context=request_context(request),
                )
            )
        )
        return json_response(MemberOut.of(member), 201)
