from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController

from clinic_api.access import requires_person
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, problem_for, unwrap_or_raise
from clinic_api.rate_limiting import Throttle
from clinic_api.responses import client_ip, device_fingerprint, json_response, request_context
from clinic_api.routing import post
from clinic_api.schemas import (
    ChangePasswordRequest,
    LogInOut,
    LogInRequest,
    PasswordChanged,
    RefreshTokenRequest,
    SwitchTenantRequest,
    TokenPairOut,
)
from clinic_core.application.actor import Actor
from clinic_core.identity.credentials import ChangePassword, ChangePasswordCommand
from clinic_core.identity.sessions import (
    LogIn,
    LogInCommand,
    LogOut,
    RefreshCommand,
    RefreshSession,
    SwitchTenant,
    SwitchTenantCommand,
)
from clinic_core.shared.errors import InvalidInput
from clinic_core.shared.ids import TenantId


class Auth(APIController):
    def __init__(
        self,
        log_in: LogIn,
        refresh_session: RefreshSession,
        log_out: LogOut,
        switch_tenant: SwitchTenant,
        change_password: ChangePassword,
        throttle: Throttle,
    ) -> None:
        self._log_in, self._refresh, self._log_out = log_in, refresh_session, log_out
        self._switch_tenant, self._change_password, self._throttle = switch_tenant, change_password, throttle

    @classmethod
    def route(cls) -> str:
        return "/v1/auth"

    @allow_anonymous()
    @documented(200, LogInOut, problems=(401, 403, 422, 429, 503))
    @post("/login")
    async def log_in(self, request: Request, body: LogInRequest) -> Response:
        """Sign in with email and password; returns an access token and a refresh token.

        Without `tenant_slug` the session opens in the user's first active clinic. A wrong email and a
        wrong password get the same answer. An account with a second factor gets
        `{"mfa_required": true, "challenge_token": ...}` instead: send a code with it to
        `POST /v1/auth/mfa/verify`. Staff of a clinic that requires a second factor, who have none yet, get
        `{"mfa_enrolment_required": true, "enrolment_token": ...}`: enrol with
        `POST /v1/auth/mfa/required-enrolment` and its `/confirm`, which completes the sign-in.
        """
        await self._throttle.login(client_ip(request), body.email)
        outcome = unwrap_or_raise(
            await self._log_in(
                LogInCommand(
                    email=body.email,
                    password=body.password,
                    tenant_slug=body.tenant_slug,
                    device_label=body.device_label,
                    device_fingerprint=device_fingerprint(request),
                    context=request_context(request),
                )
            )
        )
        return json_response(LogInOut.of(outcome))

    @allow_anonymous()
    @documented(200, TokenPairOut, problems=(401, 403, 422, 429, 503))
    @post("/refresh")
    async def refresh(self, request: Request, body: RefreshTokenRequest) -> Response:
        """Trade a refresh token for a new token pair. Each refresh token works once.

        Presenting an already used refresh token revokes its whole session (it was copied). A session
        opened with an `X-Device-Fingerprint` header is bound to it: a refresh without the same value
        revokes the session too (`device_mismatch`).
        """
        await self._throttle.refresh(client_ip(request))
        pair = unwrap_or_raise(
            await self._refresh(
                RefreshCommand(
                    body.refresh_token,
                    device_fingerprint=device_fingerprint(request),
                    context=request_context(request),
                )
            )
        )
        return json_response(TokenPairOut.of(pair))

    @allow_anonymous()
    @documented(204, problems=(422,))
    @post("/logout")
    async def log_out(self, body: RefreshTokenRequest) -> Response:
        """End the session the refresh token belongs to. Unknown tokens succeed too."""
        unwrap_or_raise(await self._log_out(RefreshCommand(body.refresh_token)))
        return Response(204)

    @requires_person()
    @documented(200, TokenPairOut, problems=(401, 403, 409, 422))
    @post("/switch-tenant")
    async def switch_tenant(self, request: Request, actor: Actor, body: SwitchTenantRequest) -> Response:
        """Move the current session to another clinic the user belongs to; returns a new token pair.

        It spends the session's refresh token exactly as a refresh does (so it needs it, and presenting a
        spent one revokes the session); access tokens of the previous clinic stop being accepted.
        """
        if body.tenant_slug is None and body.tenant_id is None:
            raise ProblemRaised(
                problem_for(InvalidInput.of("tenant_slug", "required", "give tenant_slug or tenant_id"))
            )
        pair = unwrap_or_raise(
            await self._switch_tenant(
                SwitchTenantCommand(
                    actor=actor,
                    refresh_token=body.refresh_token,
                    tenant_slug=body.tenant_slug,
                    tenant_id=TenantId(body.tenant_id) if body.tenant_id else None,
                    device_fingerprint=device_fingerprint(request),
                    context=request_context(request),
                )
            )
        )
        return json_response(TokenPairOut.of(pair))

    @requires_person()
    @documented(200, PasswordChanged, problems=(401, 404, 422, 429, 503))
    @post("/change-password")
    async def change_password(self, request: Request, actor: Actor, body: ChangePasswordRequest) -> Response:
        """Change my password. Needs the current one; ends my other sessions unless
        `end_other_sessions` is false. A wrong current password is a 422 field error on `current_password`.
        """
        await self._throttle.password_check(client_ip(request), str(actor.user_id))
        ended = unwrap_or_raise(
            await self._change_password(
                ChangePasswordCommand(
                    actor=actor,
                    current_password=body.current_password,
                    new_password=body.new_password,
                    end_other_sessions=body.end_other_sessions,
                    context=request_context(request),
                )
            )
        )
        return json_response(PasswordChanged(ended_sessions=ended))
