from __future__ import annotations

import json

from blacksheep import Content, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController

from clinic_api.openapi import documented
from clinic_api.routing import get
from clinic_api.services import AppServices


class WellKnown(APIController):
    def __init__(self, services: AppServices) -> None:
        self._jwks = services.jwks

    @classmethod
    def route(cls) -> str:
        return "/.well-known"

    @classmethod
    def class_name(cls) -> str:
        return "well-known"  # the OpenAPI tag

    @allow_anonymous()
    @documented(200, description="A JSON Web Key Set (RFC 7517).")
    @get("/jwks.json")
    async def jwks(self) -> Response:
        """The public keys that verify this API's access tokens, for services that check them offline.

        Cacheable for five minutes: a retired key must stay listed at least that long after it signs last.
        """
        return Response(
            200,
            [(b"Cache-Control", b"public, max-age=300")],
            Content(b"application/json", json.dumps(self._jwks()).encode()),
        )
