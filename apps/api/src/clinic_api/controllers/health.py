from __future__ import annotations

import asyncio
import logging

from blacksheep import Content, Request, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import ContentInfo, ResponseInfo

from clinic_api.logging_setup import request_id_var
from clinic_api.openapi import documented
from clinic_api.problems import PROBLEM_BASE_URL, PROBLEM_CONTENT_TYPE, ProblemDetails
from clinic_api.responses import json_response
from clinic_api.routing import get
from clinic_api.schemas import HealthOut
from clinic_api.services import AppServices, ReadinessCheck

logger = logging.getLogger(__name__)

OK = "ok"


class NotReadyProblem(ProblemDetails):
    checks: dict[str, str]
    """Each check's outcome: ``ok``, ``timeout`` or ``failed: <exception type>``."""


async def outcome(check: ReadinessCheck, timeout_seconds: float) -> str:
    """How one check went. Only the exception's type leaves the process: its message may hold a DSN."""
    try:
        await asyncio.wait_for(check.check(), timeout_seconds)
    except TimeoutError:
        logger.warning("readiness check %s timed out after %ss", check.name, timeout_seconds)
        return "timeout"
    except Exception as failure:
        logger.warning("readiness check %s failed", check.name, exc_info=failure)
        return f"failed: {type(failure).__name__}"
    return OK


NOT_READY = ResponseInfo(
    "A dependency failed or timed out.",
    content=[ContentInfo(NotReadyProblem, content_type=PROBLEM_CONTENT_TYPE.decode())],
)


class Health(APIController):
    def __init__(self, services: AppServices) -> None:
        self._checks = services.readiness
        self._timeout = services.readiness_timeout_seconds

    @classmethod
    def route(cls) -> str:
        return "/health"

    @allow_anonymous()
    @documented(200, HealthOut)
    @get("/live")
    async def live(self) -> Response:
        """The process is up. Says nothing about its dependencies (see /health/ready)."""
        return json_response(HealthOut(status=OK))

    @allow_anonymous()
    @documented(200, HealthOut, description="Every dependency answered in time.", others={503: NOT_READY})
    @get("/ready")
    async def ready(self, request: Request) -> Response:
        """Whether this instance can serve traffic: every readiness check, each with a timeout, at once."""
        outcomes = await asyncio.gather(*(outcome(check, self._timeout) for check in self._checks))
        checks = {check.name: result for check, result in zip(self._checks, outcomes, strict=True)}
        failing = sorted(name for name, result in checks.items() if result != OK)
        if not failing:
            return json_response(HealthOut(status=OK, checks=checks))
        problem = NotReadyProblem(
            type=PROBLEM_BASE_URL + "not_ready",
            title="Service unavailable",
            status=503,
            detail=f"failing checks: {', '.join(failing)}",
            instance=request.path,
            code="not_ready",
            request_id=request_id_var.get(),
            checks=checks,
        )
        return Response(
            503,
            [(b"Retry-After", b"5")],
            Content(PROBLEM_CONTENT_TYPE, problem.model_dump_json(exclude_none=True).encode()),
        )
