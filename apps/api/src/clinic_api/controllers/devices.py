from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController

from clinic_api.access import requires_person
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, post
from clinic_api.schemas import DeviceSessionList, DeviceSessionOut, RevokedSessions
from clinic_core.application.actor import Actor
from clinic_core.identity.devices import ListMySessions, RevokeMyOtherSessions, RevokeMySession
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import SessionId, parse_uuid


class DeviceSessions(APIController):
    """The caller's own sign-in sessions: one per device or browser that signed in."""

    def __init__(
        self, list_sessions: ListMySessions, revoke: RevokeMySession, revoke_others: RevokeMyOtherSessions
    ) -> None:
        self._list, self._revoke, self._revoke_others = list_sessions, revoke, revoke_others

    @classmethod
    def route(cls) -> str:
        return "/v1/auth/sessions"

    @requires_person()
    @documented(200, DeviceSessionList, problems=(401,))
    @get("/")
    async def list_sessions(self, actor: Actor) -> Response:
        """My open sessions in every clinic, most recently used first; `current` marks this one."""
        devices = unwrap_or_raise(await self._list(actor))
        return json_response(DeviceSessionList(items=[DeviceSessionOut.of(d) for d in devices]))

    @requires_person()
    @documented(204, problems=(401, 404))
    @delete("/{session_id}")
    async def revoke_session(self, request: Request, actor: Actor, session_id: str) -> Response:
        """End one of my sessions: its refresh token stops working at once, its access tokens within
        `CLINIC_SESSION_CACHE_SECONDS`. Another person's session is 404.

        @param session_id: the session's id (a UUID), from the list.
        """
        parsed = parse_uuid(session_id)
        if parsed is None:
            raise ProblemRaised(problem_for(NotFound("session")))
        unwrap_or_raise(await self._revoke(actor, SessionId(parsed), request_context(request)))
        return Response(204)

    @requires_person()
    @documented(200, RevokedSessions, problems=(401,))
    @post("/revoke-others")
    async def revoke_other_sessions(self, request: Request, actor: Actor) -> Response:
        """End every session of mine except this one (after a password change, or a lost device)."""
        revoked = unwrap_or_raise(await self._revoke_others(actor, request_context(request)))
        return json_response(RevokedSessions(revoked=revoked))
