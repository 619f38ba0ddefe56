"""Ports of the job machinery: the outbox as the relay reads it, the queue it feeds, handler receipts."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.shared.ids import TenantId


class OutboxBatch(Protocol):
    """Rows claimed by one relay pass. Other relays skip them until the pass ends (commits or not)."""

    @property
    def messages(self) -> Sequence[OutboxMessage]: ...

    async def published(self, ids: Sequence[UUID], at: datetime) -> None:
        """Record that these rows reached the queue. Committed when the pass ends without an error."""
        ...


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    pending: int
    """Rows no handler has finished with yet."""
    unpublished: int
    """Of those, rows not yet handed to the queue."""
    oldest: datetime | None
    """When the oldest pending row was recorded."""


class OutboxSource(Protocol):
    """Every tenant's outbox, as the relay sees it. This is the one place that reads across tenants."""

    def claim(self, *, limit: int, redispatch_before: datetime) -> AbstractAsyncContextManager[OutboxBatch]:
        """Lock up to ``limit`` rows that need dispatching, oldest first: rows never published, and rows
        published before ``redispatch_before`` that no handler finished (their job was lost, say with a
        Redis that kept nothing on disk). Locked rows of a concurrent pass are skipped, not waited for."""
        ...

    async def backlog(self) -> OutboxBacklog: ...


class QueueUnavailable(Exception):
    """The job queue could not be reached (Redis down): rows stay in the outbox for the next pass."""


class JobQueue(Protocol):
    async def dispatch(self, messages: Sequence[OutboxMessage]) -> None:
        """Hand each message to the queue as one job whose id is the message's id. A message whose job
        already exists is not queued again. Raises ``QueueUnavailable`` when nothing could be handed over;
        messages handed over before the failure may be handed over again next time (that is absorbed)."""
        ...


class JobReceipts(Protocol):
    """The scope's tenant's record of which handler finished which outbox message."""

    async def claim(self, message_id: UUID, handler: str, at: datetime) -> bool:
        """Take the receipt for ``(message_id, handler)`` in this transaction. False when it is taken
        already: the handler's effect happened. A concurrent claim of the same receipt waits for this
        transaction and then finds it taken (or free again, if this one rolled back)."""
        ...

    async def settle(self, message_id: UUID, handler: str, outcome: Outcome) -> None:
        """Record what the handler did, on the receipt claimed in this transaction."""
        ...

    async def secret_of(self, message_id: UUID) -> str | None:
        """The secret the outbox row's payload carries (``SECRET_PAYLOAD_KEY``), None once it was handled."""
        ...

    async def message_handled(self, message_id: UUID, at: datetime) -> None:
        """Mark the outbox row as finished by every handler: the relay will not dispatch it again."""
        ...


class TenantDirectory(Protocol):
    """Which tenants exist, for recurring work that visits each of them."""

    async def active_tenant_ids(self) -> Sequence[TenantId]: ...


class ExpiredRecords(Protocol):
    """What the purge deletes: records past any use. Each call deletes at most ``limit`` rows, oldest
    first, in the caller's transaction, and says how many it deleted."""

    async def purge_account_tokens(self, before: datetime, limit: int) -> int:
        """Account tokens (every user's) that expired, or were used, before ``before``."""
        ...

    async def purge_mfa_challenges(self, before: datetime, limit: int) -> int:
        """Second-factor challenges (every user's) that expired, or were used, before ``before``."""
        ...

    async def purge_sessions(self, before: datetime, limit: int) -> int:
        """Sign-in sessions (every user's) whose absolute lifetime ended before ``before``, with their
        refresh tokens."""
        ...

    async def purge_refresh_tokens(self, before: datetime, limit: int) -> int:
        """Refresh tokens (of sessions still kept) that expired before ``before``."""
        ...

    async def purge_handled_outbox(self, before: datetime, limit: int) -> int:
        """The scope's tenant's outbox rows every handler finished before ``before``, with their receipts."""
        ...
