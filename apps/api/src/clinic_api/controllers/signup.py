from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController

from clinic_api.openapi import documented
from clinic_api.problems import unwrap_or_raise
from clinic_api.rate_limiting import Throttle
from clinic_api.responses import client_ip, json_response
from clinic_api.routing import post
from clinic_api.schemas import SignUpRequest, SignUpResponse, TenantOut, UnitOut, UserOut
from clinic_core.tenancy.signup import SignUp, SignUpCommand


class Signup(APIController):
    def __init__(self, sign_up: SignUp, throttle: Throttle) -> None:
        self._sign_up, self._throttle = sign_up, throttle

    @classmethod
    def route(cls) -> str:
        return "/v1/signup"

    @allow_anonymous()
    @documented(201, SignUpResponse, problems=(409, 422, 429, 503))
    @post("/")
    async def sign_up(self, request: Request, body: SignUpRequest) -> Response:
        """Create a clinic business: its tenant, its first unit and its owner's account.

        The owner then signs in with POST /v1/auth/login. Every invalid field is reported at once.
        """
        await self._throttle.signup(client_ip(request))
        signed_up = unwrap_or_raise(
            await self._sign_up(
                SignUpCommand(
                    tenant_name=body.tenant_name,
                    unit_name=body.unit_name,
                    timezone=body.timezone,
                    owner_name=body.owner_name,
                    email=body.email,
                    password=body.password,
                )
            )
        )
        return json_response(
            SignUpResponse(
                tenant=TenantOut.of(signed_up.tenant),
                unit=UnitOut.of(signed_up.unit),
                user=UserOut.of(signed_up.owner),
            ),
            201,
        )
