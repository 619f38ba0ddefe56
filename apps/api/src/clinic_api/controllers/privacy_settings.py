"""The clinic's privacy settings (LGPD): how long clinical records are kept after their last entry."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController

from clinic_api.access import requires
from clinic_api.openapi import documented
from clinic_api.privacy_schemas import PrivacySettingsOut, PrivacySettingsRequest
from clinic_api.problems import unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import get, put
from clinic_core.application.actor import Actor
from clinic_core.privacy.settings import (
    GetPrivacySettings,
    UpdatePrivacySettings,
    UpdatePrivacySettingsCommand,
)
from clinic_core.tenancy.permissions import Permission


class TenantPrivacySettings(APIController):
    """The current clinic's privacy settings."""

    def __init__(self, get_settings: GetPrivacySettings, update_settings: UpdatePrivacySettings) -> None:
        self._get, self._update = get_settings, update_settings

    @classmethod
    def route(cls) -> str:
        return "/v1/tenant/privacy-settings"

    @requires(Permission.TENANT_READ)
    @documented(200, PrivacySettingsOut, problems=(401, 403))
    @get("/")
    async def get_privacy_settings(self, actor: Actor) -> Response:
        """The clinic's privacy settings (retention). Needs `tenant:read`."""
        return json_response(PrivacySettingsOut.of(unwrap_or_raise(await self._get(actor))))

    @requires(Permission.TENANT_WRITE, people_only=True)
    @documented(200, PrivacySettingsOut, problems=(401, 403, 422))
    @put("/")
    async def update_privacy_settings(
        self, request: Request, actor: Actor, body: PrivacySettingsRequest
    ) -> Response:
        """Change the clinic's privacy settings (the owner: `tenant:write`); fields left out stay.

        `clinical_record_retention_years` (5 to 100, default 20) applies to anonymisations from then on.
        """
        command = UpdatePrivacySettingsCommand(
            actor=actor,
            clinical_record_retention_years=body.clinical_record_retention_years,
            context=request_context(request),
        )
        return json_response(PrivacySettingsOut.of(unwrap_or_raise(await self._update(command))))
