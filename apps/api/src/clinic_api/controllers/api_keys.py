from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, post
from clinic_api.schemas import ApiKeyCreated, ApiKeyList, ApiKeyOut, ApiKeyRequest
from clinic_core.access.api_keys import (
    CreateApiKey,
    CreateApiKeyCommand,
    GetApiKey,
    ListApiKeys,
    RevokeApiKey,
    RevokeApiKeyCommand,
)
from clinic_core.application.actor import Actor
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import ApiKeyId, parse_uuid
from clinic_core.tenancy.permissions import Permission


def _key_id(raw: str) -> ApiKeyId:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound("api_key")))
    return ApiKeyId(parsed)


class ApiKeys(APIController):
    """Keys for the clinic's integrations: its ERP, a booking widget on its website."""

    def __init__(
        self, list_keys: ListApiKeys, get_key: GetApiKey, create_key: CreateApiKey, revoke_key: RevokeApiKey
    ) -> None:
        self._list, self._get, self._create, self._revoke = list_keys, get_key, create_key, revoke_key

    @classmethod
    def route(cls) -> str:
        return "/v1/api-keys"

    @requires(Permission.API_KEYS_READ)
    @documented(200, ApiKeyList, problems=(401, 403))
    @get("/")
    async def list_keys(self, actor: Actor) -> Response:
        """The clinic's API keys, newest first, revoked ones included. Never the keys themselves."""
        keys = unwrap_or_raise(await self._list(actor))
        return json_response(ApiKeyList(items=[ApiKeyOut.of(k) for k in keys]))

    @requires(Permission.API_KEYS_WRITE, people_only=True)
    @documented(
        201,
        ApiKeyCreated,
        problems=(401, 403, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new key's description.")},
    )
    @post("/")
    async def create_key(self, request: Request, actor: Actor, body: ApiKeyRequest) -> Response:
        """Create an API key. The response holds the key, shown this once.

        Its `scopes` must be permissions you hold (403 `permission_escalation`); it expires at `expires_at`
        (at most, and by default, 365 days ahead); with `allowed_cidrs` it works only from those networks.
        An API key cannot create another one.
        """
        issued = unwrap_or_raise(
            await self._create(
                CreateApiKeyCommand(
                    actor=actor,
                    name=body.name,
                    scopes=frozenset(body.scopes),
                    expires_at=body.expires_at,
                    allowed_cidrs=tuple(body.allowed_cidrs),
                    context=request_context(request),
                )
            )
        )
        key = issued.api_key
        return json_response(ApiKeyCreated.issued(issued), 201, [("Location", f"/v1/api-keys/{key.id}")])

    @requires(Permission.API_KEYS_READ)
    @documented(200, ApiKeyOut, problems=(401, 403, 404))
    @get("/{api_key_id}")
    async def get_key(self, actor: Actor, api_key_id: str) -> Response:
        """One API key of the clinic (not the key itself). Another clinic's key is 404.

        @param api_key_id: the key's id (a UUID), as listed by GET /v1/api-keys.
        """
        return json_response(ApiKeyOut.of(unwrap_or_raise(await self._get(actor, _key_id(api_key_id)))))

    @requires(Permission.API_KEYS_WRITE)
    @documented(204, problems=(401, 403, 404))
    @delete("/{api_key_id}")
    async def revoke_key(self, request: Request, actor: Actor, api_key_id: str) -> Response:
        """Revoke an API key for good: the next request with it is 401. Revoking it again is a no-op.

        @param api_key_id: the key's id (a UUID).
        """
        unwrap_or_raise(
            await self._revoke(
                RevokeApiKeyCommand(actor, _key_id(api_key_id), context=request_context(request))
            )
        )
        return Response(204)
