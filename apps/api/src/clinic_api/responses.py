"""Successful JSON responses, serialised by pydantic (UUIDs, datetimes) rather than by hand."""

from __future__ import annotations

from collections.abc import Iterable

from blacksheep import Content, Request, Response
from pydantic import BaseModel


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
