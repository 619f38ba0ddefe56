from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController

from clinic_api.access import requires
from clinic_api.openapi import documented
from clinic_api.problems import unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import get, put
from clinic_api.schemas import SecurityPolicyOut, SecurityPolicyRequest
from clinic_core.application.actor import Actor
from clinic_core.tenancy.model import UnverifiedEmailAccess
from clinic_core.tenancy.permissions import Permission
from clinic_core.tenancy.security_policy import (
    GetSecurityPolicy,
    UpdateSecurityPolicy,
    UpdateSecurityPolicyCommand,
)


class TenantSecurityPolicy(APIController):
    """The current clinic's own security rules."""

    def __init__(self, get_policy: GetSecurityPolicy, update_policy: UpdateSecurityPolicy) -> None:
        self._get, self._update = get_policy, update_policy

    @classmethod
    def route(cls) -> str:
        return "/v1/tenant/security-policy"

    @requires(Permission.TENANT_READ)
    @documented(200, SecurityPolicyOut, problems=(401, 403, 404))
    @get("/")
    async def get_policy(self, actor: Actor) -> Response:
        """The clinic's security policy. Needs `tenant:read`."""
        return json_response(SecurityPolicyOut.of(unwrap_or_raise(await self._get(actor))))

    @requires(Permission.TENANT_WRITE, people_only=True)
    @documented(200, SecurityPolicyOut, problems=(401, 403, 404, 422))
    @put("/")
    async def update_policy(self, request: Request, actor: Actor, body: SecurityPolicyRequest) -> Response:
        """Change the clinic's security policy (the owner: `tenant:write`); fields left out stay.

        With `require_mfa_for_staff`, staff without a second factor are asked to enrol at their next
        sign-in; sessions already open are not ended.
        """
        access = body.unverified_email_access
        updated = unwrap_or_raise(
            await self._update(
                UpdateSecurityPolicyCommand(
                    actor=actor,
                    require_mfa_for_staff=body.require_mfa_for_staff,
                    unverified_email_access=UnverifiedEmailAccess(access) if access else None,
                    context=request_context(request),
                )
            )
        )
        return json_response(SecurityPolicyOut.of(updated))
