"""The second factor: enrol, confirm, new recovery codes, disable; and the code step of a sign-in."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController

from clinic_api.access import requires_person
from clinic_api.openapi import documented
from clinic_api.problems import unwrap_or_raise
from clinic_api.qr import svg_data_uri
from clinic_api.rate_limiting import Throttle
from clinic_api.responses import client_ip, json_response, request_context
from clinic_api.routing import get, post
from clinic_api.schemas import (
    EnrolledSignInOut,
    EnrolmentTokenRequest,
    MfaChangeRequest,
    MfaCodeRequest,
    MfaEnrolmentOut,
    MfaPasswordRequest,
    MfaStatusOut,
    MfaVerifyRequest,
    RecoveryCodesOut,
    RequiredEnrolmentConfirmRequest,
    TokenPairOut,
)
from clinic_core.application.actor import Actor
from clinic_core.identity.mfa import (
    ChangeMfaCommand,
    ConfirmMfaEnrolment,
    ConfirmMfaEnrolmentCommand,
    DisableMfa,
    GetMfaStatus,
    RegenerateRecoveryCodes,
    StartMfaEnrolment,
    StartMfaEnrolmentCommand,
)
from clinic_core.identity.mfa_sign_in import (
    CompleteEnrolmentCommand,
    CompleteRequiredEnrolment,
    EnrolmentTokenCommand,
    StartRequiredEnrolment,
    VerifyMfa,
    VerifyMfaCommand,
)
from clinic_core.identity.second_factor import MfaEnrolment


def _enrolment(enrolment: MfaEnrolment) -> Response:
    return json_response(MfaEnrolmentOut.of(enrolment, svg_data_uri(enrolment.otpauth_uri)))


class Mfa(APIController):
    def __init__(
        self,
        status: GetMfaStatus,
        start: StartMfaEnrolment,
        confirm: ConfirmMfaEnrolment,
        regenerate: RegenerateRecoveryCodes,
        disable: DisableMfa,
        verify: VerifyMfa,
        start_required: StartRequiredEnrolment,
        complete_required: CompleteRequiredEnrolment,
        throttle: Throttle,
    ) -> None:
        self._status, self._start, self._confirm = status, start, confirm
        self._regenerate, self._disable, self._verify = regenerate, disable, verify
        self._start_required, self._complete_required = start_required, complete_required
        self._throttle = throttle

    @classmethod
    def route(cls) -> str:
        return "/v1/auth/mfa"

    @requires_person()
    @documented(200, MfaStatusOut, problems=(401, 404))
    @get("/")
    async def status(self, actor: Actor) -> Response:
        """Whether my account has a second factor, and how many recovery codes are left."""
        return json_response(MfaStatusOut.of(unwrap_or_raise(await self._status(actor))))

    @requires_person()
    @documented(200, MfaEnrolmentOut, problems=(401, 404, 409, 422, 429, 503))
    @post("/enrolment")
    async def start_enrolment(self, request: Request, actor: Actor, body: MfaPasswordRequest) -> Response:
        """Start setting up an authenticator app: a new secret, its `otpauth://` URI and a QR code of it.

        Needs my current password. A second factor already set up is `409 mfa_already_enabled`. Nothing
        changes at sign-in until `POST /v1/auth/mfa/enrolment/confirm` confirms it with a first code.
        """
        await self._throttle.password_check(client_ip(request), str(actor.user_id))
        started = unwrap_or_raise(await self._start(StartMfaEnrolmentCommand(actor, body.password)))
        return _enrolment(started)

    @requires_person()
    @documented(200, RecoveryCodesOut, problems=(401, 409, 422, 429, 503))
    @post("/enrolment/confirm")
    async def confirm_enrolment(self, request: Request, actor: Actor, body: MfaCodeRequest) -> Response:
        """Confirm the enrolment with the app's current code: the second factor is on from now, and the
        answer holds ten recovery codes, shown this once. A wrong code is `422` on the field `code`. My
        other sessions end unless `end_other_sessions` is false (`ended_sessions` says how many)."""
        await self._throttle.mfa_verify(client_ip(request))
        codes = unwrap_or_raise(
            await self._confirm(
                ConfirmMfaEnrolmentCommand(
                    actor, body.code, request_context(request), end_other_sessions=body.end_other_sessions
                )
            )
        )
        return json_response(
            RecoveryCodesOut(recovery_codes=codes.codes, ended_sessions=codes.ended_sessions)
        )

    @requires_person()
    @documented(200, RecoveryCodesOut, problems=(401, 404, 409, 422, 429, 503))
    @post("/recovery-codes")
    async def regenerate_recovery_codes(
        self, request: Request, actor: Actor, body: MfaChangeRequest
    ) -> Response:
        """Ten new recovery codes; the earlier ones stop working. Needs my password and a code (from the
        app, or a recovery code). My other sessions end unless `end_other_sessions` is false."""
        await self._throttle.password_check(client_ip(request), str(actor.user_id))
        codes = unwrap_or_raise(
            await self._regenerate(
                ChangeMfaCommand(
                    actor,
                    body.password,
                    body.code,
                    request_context(request),
                    end_other_sessions=body.end_other_sessions,
                )
            )
        )
        return json_response(
            RecoveryCodesOut(recovery_codes=codes.codes, ended_sessions=codes.ended_sessions)
        )

    @requires_person()
    @documented(204, problems=(401, 404, 409, 422, 429, 503))
    @post("/disable")
    async def disable(self, request: Request, actor: Actor, body: MfaChangeRequest) -> Response:
        """Turn my second factor off. Needs my password and a code (from the app, or a recovery code).
        A clinic that requires a second factor will ask me to enrol again at my next sign-in. My other
        sessions end unless `end_other_sessions` is false."""
        await self._throttle.password_check(client_ip(request), str(actor.user_id))
        unwrap_or_raise(
            await self._disable(
                ChangeMfaCommand(
                    actor,
                    body.password,
                    body.code,
                    request_context(request),
                    end_other_sessions=body.end_other_sessions,
                )
            )
        )
        return Response(204)

    @allow_anonymous()
    @documented(200, TokenPairOut, problems=(401, 403, 422, 429, 503))
    @post("/verify")
    async def verify(self, request: Request, body: MfaVerifyRequest) -> Response:
        """The second step of a sign-in: the login's `challenge_token` with a `code` from the app (or a
        `recovery_code`) opens the session and returns its token pair.

        A wrong, expired or already used code is `401 invalid_mfa_code`; after five codes, or five minutes,
        or once used, the challenge is `401 invalid_mfa_challenge`: sign in again.
        """
        await self._throttle.mfa_verify(client_ip(request))
        pair = unwrap_or_raise(
            await self._verify(
                VerifyMfaCommand(
                    challenge_token=body.challenge_token,
                    code=body.code,
                    recovery_code=body.recovery_code,
                    context=request_context(request),
                )
            )
        )
        return json_response(TokenPairOut.of(pair))

    @allow_anonymous()
    @documented(200, MfaEnrolmentOut, problems=(401, 409, 422, 429, 503))
    @post("/required-enrolment")
    async def start_required_enrolment(self, request: Request, body: EnrolmentTokenRequest) -> Response:
        """For staff of a clinic that requires a second factor: the login's `enrolment_token` gets a new
        secret, its `otpauth://` URI and a QR code."""
        await self._throttle.mfa_verify(client_ip(request))
        started = unwrap_or_raise(await self._start_required(EnrolmentTokenCommand(body.enrolment_token)))
        return _enrolment(started)

    @allow_anonymous()
    @documented(200, EnrolledSignInOut, problems=(401, 403, 409, 422, 429, 503))
    @post("/required-enrolment/confirm")
    async def confirm_required_enrolment(
        self, request: Request, body: RequiredEnrolmentConfirmRequest
    ) -> Response:
        """Confirm the enrolment with the app's first code: the second factor is on and the sign-in is
        complete. The answer is the token pair with the ten recovery codes, shown this once."""
        await self._throttle.mfa_verify(client_ip(request))
        enrolled = unwrap_or_raise(
            await self._complete_required(
                CompleteEnrolmentCommand(body.enrolment_token, body.code, request_context(request))
            )
        )
        return json_response(EnrolledSignInOut.of_enrolled(enrolled))
