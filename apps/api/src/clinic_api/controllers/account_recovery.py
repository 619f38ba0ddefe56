"""Email verification and password reset: the links we mail, and asking for them."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController

from clinic_api.access import requires_person
from clinic_api.openapi import documented
from clinic_api.problems import unwrap_or_raise
from clinic_api.rate_limiting import Throttle
from clinic_api.responses import client_ip, json_response, request_context
from clinic_api.routing import post
from clinic_api.schemas import Accepted, ForgotPasswordRequest, ResetPasswordRequest, VerifyEmailRequest
from clinic_core.application.actor import Actor
from clinic_core.identity.recovery import (
    ForgotPassword,
    ForgotPasswordCommand,
    ResetPassword,
    ResetPasswordCommand,
)
from clinic_core.identity.verification import ResendVerification, VerifyEmail, VerifyEmailCommand

RESET_REQUESTED = Accepted(
    detail="if an account uses this address, a link to reset its password is on its way; it works once,"
    " for 30 minutes"
)
VERIFICATION_SENT = Accepted(detail="a new verification link is on its way; it works once, for 24 hours")


class AccountRecovery(APIController):
    def __init__(
        self,
        verify_email: VerifyEmail,
        resend_verification: ResendVerification,
        forgot_password: ForgotPassword,
        reset_password: ResetPassword,
        throttle: Throttle,
    ) -> None:
        self._verify_email, self._resend_verification = verify_email, resend_verification
        self._forgot_password, self._reset_password = forgot_password, reset_password
        self._throttle = throttle

    @classmethod
    def route(cls) -> str:
        return "/v1/auth"

    @allow_anonymous()
    @documented(204, problems=(400, 422, 429, 503))
    @post("/verify-email")
    async def verify_email(self, request: Request, body: VerifyEmailRequest) -> Response:
        """Verify the account's email address with the token of the link we mailed. Each token works once,
        for 24 hours; an unusable one is a 400 `invalid_token`, whatever the reason."""
        await self._throttle.account_token(client_ip(request))
        unwrap_or_raise(
            await self._verify_email(VerifyEmailCommand(token=body.token, context=request_context(request)))
        )
        return Response(204)

    @requires_person()
    @documented(202, Accepted, problems=(401, 404, 409, 429, 503))
    @post("/resend-verification")
    async def resend_verification(self, actor: Actor) -> Response:
        """Mail me a new verification link (the older ones stop working). 409 when already verified."""
        await self._throttle.resend_verification(str(actor.user_id))
        unwrap_or_raise(await self._resend_verification(actor))
        return json_response(VERIFICATION_SENT, 202)

    @allow_anonymous()
    @documented(202, Accepted, problems=(422, 429, 503))
    @post("/forgot-password")
    async def forgot_password(self, request: Request, body: ForgotPasswordRequest) -> Response:
        """Ask for a password reset link. The answer is the same whether or not an account uses the
        address; at most 3 links an hour are mailed to one address."""
        await self._throttle.forgot_password(client_ip(request))
        unwrap_or_raise(await self._forgot_password(ForgotPasswordCommand(email=body.email)))
        return json_response(RESET_REQUESTED, 202)

    @allow_anonymous()
    @documented(204, problems=(400, 422, 429, 503))
    @post("/reset-password")
    async def reset_password(self, request: Request, body: ResetPasswordRequest) -> Response:
        """Set a new password with the token of a reset link. It works once, for 30 minutes; every session
        of the account ends, the email counts as verified, and a sign-in lockout is lifted. A weak
        password is a 422 on `new_password` and leaves the token usable."""
        await self._throttle.account_token(client_ip(request))
        unwrap_or_raise(
            await self._reset_password(
                ResetPasswordCommand(
                    token=body.token, new_password=body.new_password, context=request_context(request)
                )
            )
        )
        return Response(204)
