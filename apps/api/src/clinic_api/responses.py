"""Successful JSON responses, serialised by pydantic (UUIDs, datetimes) rather than by hand."""

from __future__ import annotations

from collections.abc import Iterable

from blacksheep import Content, Request, Response
from pydantic import BaseModel

from clinic_api.logging_setup import request_id_var
from clinic_core.application.context import RequestContext

DEVICE_FINGERPRINT_HEADER = b"X-Device-Fingerprint"


def json_response(model: BaseModel, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(
        status,
        [(name.encode(), value.encode()) for name, value in headers],
        Content(b"application/json", model.model_dump_json().encode()),
    )


def client_ip(request: Request) -> str:
    """The caller's address as the server saw it (behind a proxy, after forwarded-header handling)."""
    return request.client_ip or "unknown"


def user_agent(request: Request) -> str | None:
    raw = request.get_first_header(b"User-Agent")
    return raw.decode("latin-1") if raw else None


def request_context(request: Request) -> RequestContext:
    """Where the request came from, for sessions and the audit trail."""
    return RequestContext(
        ip=client_ip(request), user_agent=user_agent(request), request_id=request_id_var.get()
    )


def device_fingerprint(request: Request) -> str | None:
    """The client's per-device value (RFC 9700 sender-constraining, lite): the session is bound to its hash."""
    raw = request.get_first_header(DEVICE_FINGERPRINT_HEADER)
    value = raw.decode("latin-1").strip()[:256] if raw else ""
    return value or None
