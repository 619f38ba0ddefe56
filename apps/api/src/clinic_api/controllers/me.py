from __future__ import annotations

from blacksheep import Response
from blacksheep.server.controllers import APIController

from clinic_api.access import requires_person
from clinic_api.openapi import documented
from clinic_api.problems import unwrap_or_raise
from clinic_api.responses import json_response
from clinic_api.routing import get
from clinic_api.schemas import MeOut
from clinic_core.application.actor import Actor
from clinic_core.identity.me import GetMe


class Me(APIController):
    def __init__(self, get_me: GetMe) -> None:
        self._get_me = get_me

    @classmethod
    def route(cls) -> str:
        return "/v1/me"

    @requires_person()
    @documented(200, MeOut, problems=(401, 404))
    @get("/")
    async def who_am_i(self, actor: Actor) -> Response:
        """The signed-in user, the clinic of this session, and every clinic they can switch to."""
        return json_response(MeOut.of(unwrap_or_raise(await self._get_me(actor))))
