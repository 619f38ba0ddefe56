"""Fakes of the job machinery over an ``InMemoryStore``: the outbox as the relay reads it, a queue that
records what it was handed, and the tenants a sweep visits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

from clinic_core.jobs.model import OutboxMessage
from clinic_core.jobs.ports import OutboxBacklog, QueueUnavailable
from clinic_core.shared.ids import TenantId
from clinic_core.testing.memory import InMemoryStore, OutboxRecord


def outbox_message(row: OutboxRecord) -> OutboxMessage:
    if row.occurred_at is None:
        raise ValueError("an outbox row without its time")
    return OutboxMessage(row.id, row.tenant_id, row.topic, dict(row.payload), row.occurred_at)


class _Batch:
    def __init__(self, store: InMemoryStore, messages: list[OutboxMessage]) -> None:
        self._store = store
        self.messages: Sequence[OutboxMessage] = messages
        self._published: dict[UUID, datetime] = {}

    async def published(self, ids: Sequence[UUID], at: datetime) -> None:
        self._published.update(dict.fromkeys(ids, at))

    def apply(self) -> None:
        for row in self._store.tables.outbox:
            if row.id in self._published and row.handled_at is None:
                row.published_at = self._published[row.id]


class InMemoryOutboxSource:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @asynccontextmanager
    async def claim(self, *, limit: int, redispatch_before: datetime) -> AsyncIterator[_Batch]:
        async with self._store.lock:
            rows = [
                r
                for r in self._store.tables.outbox
                if r.handled_at is None and (r.published_at is None or r.published_at < redispatch_before)
            ]
            rows.sort(key=lambda r: (r.occurred_at or datetime.min.replace(tzinfo=UTC), r.id))
            batch = _Batch(self._store, [outbox_message(r) for r in rows[:limit]])
            yield batch
            batch.apply()  # only when the pass ended without an error, like a commit

    async def backlog(self) -> OutboxBacklog:
        pending = [r for r in self._store.tables.outbox if r.handled_at is None]
        times = [r.occurred_at for r in pending if r.occurred_at is not None]
        return OutboxBacklog(
            pending=len(pending),
            unpublished=sum(1 for r in pending if r.published_at is None),
            oldest=min(times) if times else None,
        )


class RecordingJobQueue:
    """Keeps what it is handed, once per message id, like a queue refusing a job id it holds. ``down``
    makes it refuse everything, like an unreachable Redis."""

    def __init__(self) -> None:
        self.jobs: dict[UUID, OutboxMessage] = {}
        self.handed: list[UUID] = []
        self.down = False

    async def dispatch(self, messages: Sequence[OutboxMessage]) -> None:
        if self.down:
            raise QueueUnavailable("the queue is down")
        for message in messages:
            self.handed.append(message.id)
            self.jobs.setdefault(message.id, message)


class InMemoryTenantDirectory:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def active_tenant_ids(self) -> Sequence[TenantId]:
        return sorted((t.id for t in self._store.tables.tenants.values() if t.is_active), key=str)
