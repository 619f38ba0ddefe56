"""Cursor pagination over time-ordered (UUIDv7) ids: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    after: UUID | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, cursor: str | None, limit: int | None) -> Result[PageRequest, InvalidInput]:
        size = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= size <= MAX_LIMIT:
            return Failure(InvalidInput.of("limit", "out_of_range", f"limit must be 1 to {MAX_LIMIT}"))
        if not cursor:
            return Success(cls(None, size))
        try:
            after = UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError):
            return Failure(InvalidInput.of("cursor", "invalid_cursor", "not a cursor this API returned"))
        return Success(cls(after, size))


@dataclass(frozen=True)  # no slots: ``Page[Unit](...)`` sets __orig_class__ on the instance
class Page(Generic[T]):
    items: list[T]
    next_after: UUID | None

    @property
    def next_cursor(self) -> str | None:
        if self.next_after is None:
            return None
        return base64.urlsafe_b64encode(self.next_after.bytes).decode().rstrip("=")
