"""Every way a request can fail, rendered as a problem: domain failures, unreadable input, framework HTTP
errors, the authorization errors guardpost raises, and bugs.

BlackSheep answers each of these in its own plain-text way unless told otherwise; ``configure_error_handling``
registers one renderer for all of them, by exception type and by HTTP status. It also replaces how BlackSheep
logs them: its own log lines carry the full URL, query string included (``?cpf=...&email=...``), and the
exception's text, which can quote the input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from blacksheep import Request, Response
from blacksheep.exceptions import BadRequest, BadRequestFormat, HTTPException
from blacksheep.server import Application
from blacksheep.server.authentication import AuthenticateChallenge
from blacksheep.server.bindings import InvalidRequestBody, MissingBodyError
from guardpost import ForbiddenError, RateLimitExceededError, UnauthorizedError
from pydantic import ValidationError

from clinic_api.auth import presented_a_token, presented_an_api_key
from clinic_api.logging_setup import request_id_var
from clinic_api.metrics import route_template
from clinic_api.problems import (
    BEARER_CHALLENGE,
    Problem,
    ProblemRaised,
    invalid_fields,
    render,
)
from clinic_api.rate_limiting import LIMITER_DOWN, too_many_requests
from clinic_core.access.model import InvalidApiKey
from clinic_core.shared.errors import FieldError

logger = logging.getLogger(__name__)

INTERNAL_ERROR = Problem(
    500,
    "internal_error",
    "Internal server error",
    "an unexpected error occurred; quote the request id when you report it",
)
_CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def respond(request: Request, problem: Problem) -> Response:
    return render(problem, request, request_id_var.get())


def http_problem(status: int, detail: str | None = None) -> Problem:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status BlackSheep or a handler made up
        phrase = "Error"
    code = _CODE_OF_STATUS.get(status, re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_"))
    return Problem(status, code, phrase, detail or phrase.lower())


def field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


def validation_problem(error: ValidationError) -> Problem:
    return invalid_fields(
        [
            FieldError(
                field_path(detail["loc"]),
                "required" if detail["type"] == "missing" else detail["type"],
                detail["msg"],
            )
            for detail in error.errors(include_url=False, include_input=False)
        ]
    )


def bad_request_problem(request: Request, error: HTTPException) -> Problem:
    """What was wrong with the request, from what BlackSheep's binders raised while reading it."""
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ValidationError):
        return validation_problem(cause)
    if isinstance(error, BadRequestFormat):
        return invalid_fields([FieldError("body", "invalid_json", "the body is not valid JSON")])
    if isinstance(error, InvalidRequestBody) and request.has_body() and not request.declares_json():
        # 415, not 422: the body may be fine, it is the declared format the API does not read.
        return http_problem(415, "send the body as application/json")
    if isinstance(error, MissingBodyError | InvalidRequestBody):
        return invalid_fields([FieldError("body", "required", "a JSON body is required")])
    return http_problem(400, "the request could not be read")


API_KEY_CHALLENGE = 'ApiKey realm="clinic"'


def unauthenticated(request: Request) -> Problem:
    if presented_an_api_key(request):
        refused = InvalidApiKey()
        return Problem(401, refused.code, "Unauthenticated", refused.detail).with_headers(
            ("WWW-Authenticate", API_KEY_CHALLENGE)
        )
    challenge = BEARER_CHALLENGE + (', error="invalid_token"' if presented_a_token(request) else "")
    return Problem(
        401,
        "unauthenticated",
        "Unauthenticated",
        "a valid bearer access token is required",
    ).with_headers(("WWW-Authenticate", challenge))


async def _on_problem(app: Any, request: Request, error: ProblemRaised) -> Response:
    return respond(request, error.problem)


async def _on_bad_request(app: Any, request: Request, error: HTTPException) -> Response:
    return respond(request, bad_request_problem(request, error))


async def _on_validation_error(app: Any, request: Request, error: ValidationError) -> Response:
    return respond(request, validation_problem(error))


async def _on_http_exception(app: Any, request: Request, error: HTTPException) -> Response:
    if error.status == 500:
        return respond(request, INTERNAL_ERROR)
    return respond(request, http_problem(error.status))


async def _on_unauthorized(app: Any, request: Request, error: Exception) -> Response:
    return respond(request, unauthenticated(request))


async def _on_forbidden(app: Any, request: Request, error: ForbiddenError) -> Response:
    return respond(request, http_problem(403, "you may not do this"))


async def _on_auth_rate_limited(app: Any, request: Request, error: RateLimitExceededError) -> Response:
    return respond(request, too_many_requests(60))


def log_without_personal_data(app: Application) -> None:
    """Log failed requests by route template (``/v1/units/{unit_id}``), never by URL: a path can hold an
    id, a query string a CPF or an email. The exception's own text is left out too (a binder's message
    quotes the value it could not read); its type, and the traceback of a bug, say what went wrong."""
    logger: logging.Logger = app.logger

    async def log_handled(request: Request, exc: Exception) -> None:
        route = route_template(app.router, request)
        status: int | None = None
        kind = type(exc).__name__
        if isinstance(exc, ProblemRaised):
            status, kind = exc.problem.status, exc.problem.code
        elif isinstance(exc, HTTPException):
            status = exc.status
        logger.info(
            "%s %s failed: %s %s",
            request.method,
            route,
            status or "-",
            kind,
            extra={"http_method": request.method, "route": route, "status": status, "error": kind},
        )

    async def log_unhandled(request: Request, exc: Exception) -> None:
        route = route_template(app.router, request)
        logger.error(
            "unhandled exception in %s %s",
            request.method,
            route,
            exc_info=exc,
            extra={"http_method": request.method, "route": route, "error": type(exc).__name__},
        )

    # Instance attributes shadow BlackSheep's methods of the same name, which it calls for every failure
    # (its type stub leaves them out, hence the ignores).
    app.log_handled_exc = log_handled  # type: ignore[attr-defined]
    app.log_unhandled_exc = log_unhandled  # type: ignore[attr-defined]


async def _on_unavailable(app: Any, request: Request, error: Exception) -> Response:
    logger.warning("a dependency is unavailable: %s", type(error).__name__)
    return respond(request, LIMITER_DOWN)


def configure_error_handling(app: Application, unavailable: Iterable[type[Exception]] = ()) -> None:
    """``unavailable``: exception types that mean a server we depend on is down or unreachable (the
    composition root knows them: database and Redis errors). They answer 503 with Retry-After, not 500."""
    # A detailed error page shows a stack trace; no environment variable may turn that on here.
    app.show_error_details = False
    log_without_personal_data(app)
    handlers = app.exceptions_handlers
    # By status first: BlackSheep looks HTTP exceptions up by class (stopping before HTTPException
    # itself) and then by status, so these catch every HTTPException nobody registered a class for.
    for status in HTTPStatus:
        if status >= 400:
            handlers[int(status)] = _on_http_exception
    handlers[400] = _on_bad_request
    handlers[BadRequest] = _on_bad_request
    handlers[ValidationError] = _on_validation_error
    handlers[ProblemRaised] = _on_problem
    handlers[UnauthorizedError] = _on_unauthorized
    handlers[AuthenticateChallenge] = _on_unauthorized
    handlers[ForbiddenError] = _on_forbidden
    handlers[RateLimitExceededError] = _on_auth_rate_limited
    for exception_type in unavailable:
        handlers[exception_type] = _on_unavailable
