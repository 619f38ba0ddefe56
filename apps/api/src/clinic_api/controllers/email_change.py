"""Changing my email address: ask with my password, confirm with the link mailed to the new address."""

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
from clinic_api.schemas import Accepted, ChangeEmailRequest, ConfirmEmailChangeRequest
from clinic_core.application.actor import Actor
from clinic_core.identity.email_change import (
    ConfirmEmailChange,
    ConfirmEmailChangeCommand,
    RequestEmailChange,
    RequestEmailChangeCommand,
)

EMAIL_CHANGE_REQUESTED = Accepted(
    detail="a link to confirm the change is on its way to the new address; it works once, for 24 hours."
    " Until it is opened, the email stays as it is"
)


class EmailChange(APIController):
    def __init__(
        self, request_change: RequestEmailChange, confirm: ConfirmEmailChange, throttle: Throttle
    ) -> None:
        self._request_change, self._confirm, self._throttle = request_change, confirm, throttle

    @classmethod
    def route(cls) -> str:
        return "/v1/auth"

    @requires_person()
    @documented(202, Accepted, problems=(401, 404, 422, 429, 503))
    @post("/change-email")
    async def change_email(self, request: Request, actor: Actor, body: ChangeEmailRequest) -> Response:
        """Change my email address. Needs my current password (a wrong one is a 422 on `current_password`);
        the new address gets a link that makes the change, and the current one a notice. The answer is the
        same whether or not another account uses the new address (then no link is sent). Once the change
        is confirmed my other sessions end, unless `end_other_sessions` is false."""
        await self._throttle.password_check(client_ip(request), str(actor.user_id))
        unwrap_or_raise(
            await self._request_change(
                RequestEmailChangeCommand(
                    actor=actor,
                    current_password=body.current_password,
                    new_email=body.new_email,
                    end_other_sessions=body.end_other_sessions,
                    context=request_context(request),
                )
            )
        )
        return json_response(EMAIL_CHANGE_REQUESTED, 202)

    @allow_anonymous()
    @documented(204, problems=(400, 409, 422, 429, 503))
    @post("/confirm-email-change")
    async def confirm_email_change(self, request: Request, body: ConfirmEmailChangeRequest) -> Response:
        """Make the change with the token of the link mailed to the new address: it becomes my (verified)
        email and my login. The token works once, for 24 hours; an unusable one is a 400 `invalid_token`.
        If another account took the address meanwhile, `409 email_in_use` and nothing changes."""
        await self._throttle.account_token(client_ip(request))
        unwrap_or_raise(
            await self._confirm(ConfirmEmailChangeCommand(token=body.token, context=request_context(request)))
        )
        return Response(204)
