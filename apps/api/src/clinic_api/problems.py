"""RFC 9457 problem details: the one shape every error response of the API takes.

Domain failures reach HTTP through one table (``STATUS_OF``), looked up along the error's class hierarchy so
that a new subclass (say, another kind of ``Conflict``) is rendered by its base until it needs its own row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from blacksheep import Content, Request, Response
from pydantic import BaseModel, ConfigDict
from returns.result import Failure, Result

from clinic_core.application.idempotency import IdempotencyKeyReused
from clinic_core.attachments.model import (
    AttachmentContentMissing,
    AttachmentTooLarge,
    MediaTypeMismatch,
    UnsupportedMediaType,
)
from clinic_core.identity.account_security import InvalidAccountToken
from clinic_core.scheduling.booking import SlotTaken
from clinic_core.shared.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from clinic_core.shared.ids import parse_uuid
from clinic_core.tenancy.model import InvitationNotUsable

PROBLEM_BASE_URL = "https://clinic.dev/problems/"
PROBLEM_CONTENT_TYPE = b"application/problem+json"
BEARER_CHALLENGE = 'Bearer realm="clinic"'

T = TypeVar("T")

STATUS_OF: dict[type[DomainError], tuple[int, str]] = {
    InvalidInput: (422, "Invalid input"),
    NotFound: (404, "Not found"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    Unauthenticated: (401, "Unauthenticated"),
    # 410 Gone rather than 400: the request is well formed, but what the token pointed at is used up
    # (expired, revoked, accepted); retrying cannot help, only a new invitation can. Tokens that never
    # existed get the same answer on purpose, so the response does not tell which case it was.
    InvitationNotUsable: (410, "Invitation not usable"),
    # A verification or reset link that cannot be used (unknown, expired, used, superseded): one answer.
    InvalidAccountToken: (400, "Invalid token"),
    TooManyAttempts: (429, "Too many attempts"),
    # The key names another request: a client bug, not a state of the server (RFC draft
    # ietf-httpapi-idempotency-key-header says 422 for a reused key with another payload).
    IdempotencyKeyReused: (422, "Idempotency key reused"),
    SlotTaken: (409, "Time taken"),
    AttachmentTooLarge: (413, "Attachment too large"),
    # 415: the request is well formed, but the content is of a type this API does not take (read from the
    # bytes themselves), or not the type the client declared for it.
    UnsupportedMediaType: (415, "Unsupported attachment type"),
    MediaTypeMismatch: (415, "Media type mismatch"),
    # 503: the row is there and its bytes are not (storage unmounted or lost): an outage, not the caller's.
    AttachmentContentMissing: (503, "Attachment content unavailable"),
    # The fallback for a DomainError nobody gave a row yet; a test keeps every clinic_core error off it.
    DomainError: (400, "Request refused"),
}


class FieldProblem(BaseModel):
    field: str
    code: str
    message: str


class ConflictingInterval(BaseModel):
    """An interval that is taken, and for which of the booking's resources (never whose appointment)."""

    resource: str
    """`professional`, `room` or `patient`."""
    start: str
    end: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem. ``code`` is stable: clients branch on it, never on ``title`` or ``detail``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": f"{PROBLEM_BASE_URL}validation_failed",
                    "title": "Invalid input",
                    "status": 422,
                    "detail": "timezone: not an IANA time zone name, such as America/Sao_Paulo",
                    "instance": "/v1/units",
                    "code": "validation_failed",
                    "request_id": "5f0c6f0e-8d0b-4c55-9d38-1f1f3c1f7a10",
                    "errors": [
                        {
                            "field": "timezone",
                            "code": "invalid_timezone",
                            "message": "not an IANA time zone name, such as America/Sao_Paulo",
                        }
                    ],
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str | None = None
    errors: list[FieldProblem] | None = None
    conflicts: list[ConflictingInterval] | None = None
    """For `slot_taken`: the intervals (buffers included) the booking overlaps."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem before it meets a request: the request adds ``instance`` and the request id."""

    status: int
    code: str
    title: str
    detail: str
    errors: Sequence[FieldError] = ()
    headers: Sequence[tuple[str, str]] = ()
    conflicts: Sequence[ConflictingInterval] = ()

    def with_headers(self, *headers: tuple[str, str]) -> Problem:
        return Problem(
            self.status,
            self.code,
            self.title,
            self.detail,
            self.errors,
            (*self.headers, *headers),
            self.conflicts,
        )


def status_of(error: DomainError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    raise AssertionError("DomainError has a row, so every DomainError finds one")


def problem_for(error: DomainError) -> Problem:
    status, title = status_of(error)
    errors = error.errors if isinstance(error, InvalidInput) else ()
    conflicts = (
        tuple(
            ConflictingInterval(resource=c.resource.value, start=c.start.isoformat(), end=c.end.isoformat())
            for c in error.conflicts
        )
        if isinstance(error, SlotTaken)
        else ()
    )
    problem = Problem(status, error.code, title, error.detail, errors, (), conflicts)
    if isinstance(error, TooManyAttempts):
        problem = problem.with_headers(("Retry-After", str(max(1, error.retry_after_seconds))))
    return problem.with_headers(("WWW-Authenticate", BEARER_CHALLENGE)) if status == 401 else problem


def invalid_fields(errors: Sequence[FieldError], detail: str | None = None) -> Problem:
    invalid = InvalidInput(tuple(errors))
    status, title = STATUS_OF[InvalidInput]
    return Problem(status, invalid.code, title, detail or invalid.detail, invalid.errors)


def render(problem: Problem, request: Request, request_id: str | None) -> Response:
    body = ProblemDetails(
        type=PROBLEM_BASE_URL + problem.code,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        instance=request.path,
        code=problem.code,
        request_id=request_id,
        errors=[FieldProblem(field=e.field, code=e.code, message=e.message) for e in problem.errors] or None,
        conflicts=list(problem.conflicts) or None,
    )
    return Response(
        problem.status,
        [(name.encode(), value.encode()) for name, value in problem.headers],
        Content(PROBLEM_CONTENT_TYPE, body.model_dump_json(exclude_none=True).encode()),
    )


class ProblemRaised(Exception):
    """Ends a request with a problem. The host raises it; the error handlers render it.

    Use cases never raise: their ``Failure`` becomes this at the controller's edge (``unwrap_or_raise``).
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


def unwrap_or_raise(result: Result[T, DomainError]) -> T:
    """The use case's value, or the request ends with the problem its failure maps to."""
    if isinstance(result, Failure):
        raise ProblemRaised(problem_for(result.failure()))
    return result.unwrap()


def path_id(raw: str, resource: str) -> UUID:
    """An id in the path: one that is no UUID names nothing, so it is 404 like an unknown one."""
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound(resource)))
    return parsed
