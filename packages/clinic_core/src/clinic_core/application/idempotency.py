"""Idempotent requests: a client that retries a write with the same ``Idempotency-Key`` gets the first
answer again instead of a second booking.

The stored record is (tenant, key) -> the hash of the request, then the response's status and body once
there is one, for 24 hours. The rules:

- the same key with the same request: the first response, replayed (the use case does not run again);
- the same key with another request (another body, path or caller): refused, ``idempotency_key_reused``
  (422), so that a client bug cannot turn one booking's key into another's answer;
- the same key while the first request still runs: the second waits for the first's answer (a few
  seconds at most) and replays it; only one of them ever executes. Past the wait: ``idempotency_key_in_use``
  (409), retry later;
- a request that fails with an exception (not an answer) releases its key: the retry executes afresh;
- after 24 hours the key is forgotten and may be used again.

The claim is committed in a transaction of its own *before* the use case runs, so that a concurrent
request with the same key sees it (a unique constraint on (tenant, key) settles who claimed first).

The runner is ``clinic_core.application.idempotent_requests.Idempotency``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import Conflict, DomainError, InvalidInput
from clinic_core.shared.ids import TenantId

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, kw_only=True)
class IdempotencyRecord:
    tenant_id: TenantId
    key: str
    request_hash: str
    created_at: datetime
    expires_at: datetime
    status: int | None = None
    """The response's HTTP status; None while the first request still runs."""
    body: str | None = None
    """The response's body (JSON text), as sent."""

    @property
    def completed(self) -> bool:
        return self.status is not None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: str
    replayed: bool = False
    """True when this is the answer of an earlier request with the same key."""


class IdempotencyKeys(Protocol):
    """The scope's tenant's idempotency records."""

    async def get(self, key: str) -> IdempotencyRecord | None: ...

    async def claim(self, record: IdempotencyRecord) -> None:
        """Add an in-progress record. Raises ``UniqueViolation("pk_idempotency_keys")`` when the key is
        held already (by a record not yet deleted, expired or not)."""
        ...

    async def complete(self, key: str, status: int, body: str) -> None:
        """Store the response of the request that claimed ``key``."""
        ...

    async def release(self, key: str) -> None:
        """Forget ``key`` (its request failed, or its record expired)."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete the records expired at ``now``; how many."""
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyKeyReused(DomainError):
    code: ClassVar[str] = "idempotency_key_reused"

    @property
    def detail(self) -> str:
        return "this Idempotency-Key was used with a different request; use a new key for a new request"


@dataclass(frozen=True, slots=True)
class IdempotencyKeyInUse(Conflict):
    code: ClassVar[str] = "idempotency_key_in_use"

    @property
    def detail(self) -> str:
        return "a request with this Idempotency-Key is still being processed; retry in a moment"


def parse_key(raw: str | None) -> Result[str | None, InvalidInput]:
    """The key from the header: absent is fine (no idempotency); else 1 to 255 visible ASCII characters."""
    if raw is None:
        return Success(None)
    key = raw.strip()
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in key):
        return Failure(
            InvalidInput.of(
                "Idempotency-Key", "invalid_idempotency_key", "1 to 255 visible ASCII characters (a UUID)"
            )
        )
    return Success(key)


def request_hash(*, method: str, path: str, caller: str, body: Any) -> str:
    """A fingerprint of a request: its method, path, who sends it and its body (JSON, keys sorted, so
    that two spellings of one body match)."""
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "caller": caller, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
