"""Reading the ``cursor`` and ``limit`` query parameters of list endpoints."""

from __future__ import annotations

from clinic_api.bindings import QueryParam
from clinic_api.problems import unwrap_or_raise
from clinic_core.application.pagination import PageRequest


def page_request(cursor: QueryParam[str] | None, limit: QueryParam[int] | None) -> PageRequest:
    return unwrap_or_raise(
        PageRequest.parse(cursor.value if cursor else None, limit.value if limit else None)
    )
