"""SQL side of the jobs: handler receipts (per tenant, in a unit of work), and the outbox as the relay
reads it across tenants (its own short transactions; on PostgreSQL through the functions of migration
0017, so that the application role stays under row-level security)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from clinic_core.jobs.model import SECRET_PAYLOAD_KEY, OutboxMessage, Outcome
from clinic_core.jobs.ports import OutboxBacklog
from clinic_core.shared.ids import TenantId
from clinic_core.tenancy.model import TenantStatus
from clinic_infra.db import tables
from clinic_infra.db.job_tables import job_receipts
from clinic_infra.db.repositories import _Repository
from clinic_infra.db.types import UtcDateTime


class SqlJobReceipts(_Repository):
    def __init__(self, db: Any, *, postgres: bool) -> None:
        super().__init__(db)
        self._postgres = postgres
        self._insert = pg_insert if postgres else sqlite_insert

    async def claim(self, message_id: UUID, handler: str, at: datetime) -> bool:
        statement = (
            self._insert(job_receipts)
            .values(
                tenant_id=self._db.tenant_id(),
                message_id=message_id,
                handler=handler,
                handled_at=at,
                outcome="claimed",
            )
            .on_conflict_do_nothing()
            .returning(job_receipts.c.message_id)
        )
        return (await self._db.execute(statement)).first() is not None

    async def settle(self, message_id: UUID, handler: str, outcome: Outcome) -> None:
        await self._db.execute(
            update(job_receipts)
            .where(
                job_receipts.c.tenant_id == self._db.tenant_id(),
                job_receipts.c.message_id == message_id,
                job_receipts.c.handler == handler,
            )
            .values(outcome=outcome.value)
        )

    async def secret_of(self, message_id: UUID) -> str | None:
        payload = (
            await self._db.execute(
                select(tables.outbox.c.payload).where(
                    tables.outbox.c.tenant_id == self._db.tenant_id(),
                    tables.outbox.c.id == message_id,
                    tables.outbox.c.handled_at.is_(None),
                )
            )
        ).scalar_one_or_none()
        secret = payload.get(SECRET_PAYLOAD_KEY) if isinstance(payload, dict) else None
        return str(secret) if secret is not None else None

    async def message_handled(self, message_id: UUID, at: datetime) -> None:
        # The account token a message carried to its email has no reason to stay once it was sent.
        payload = tables.outbox.c.payload
        scrubbed = (
            payload.op("-")(literal(SECRET_PAYLOAD_KEY))
            if self._postgres
            else func.json_remove(payload, f"$.{SECRET_PAYLOAD_KEY}")
        )
        await self._db.execute(
            update(tables.outbox)
            .where(
                tables.outbox.c.tenant_id == self._db.tenant_id(),
                tables.outbox.c.id == message_id,
                tables.outbox.c.handled_at.is_(None),
            )
            .values(handled_at=at, payload=scrubbed)
        )


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        tenant_id=TenantId(row.tenant_id),
        topic=row.topic,
        payload=dict(row.payload),
        occurred_at=row.occurred_at,
    )


class _SqlOutboxBatch:
    def __init__(self, connection: AsyncConnection, messages: list[OutboxMessage], *, postgres: bool) -> None:
        self._connection = connection
        self.messages: Sequence[OutboxMessage] = messages
        self._postgres = postgres

    async def published(self, ids: Sequence[UUID], at: datetime) -> None:
        if not ids:
            return
        if self._postgres:
            await self._connection.execute(
                text("SELECT clinic_outbox_published(:ids, :at)").bindparams(
                    bindparam("at", type_=UtcDateTime)
                ),
                {"ids": list(ids), "at": at},
            )
            return
        outbox = tables.outbox
        await self._connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(list(ids)), outbox.c.handled_at.is_(None))
            .values(published_at=at, attempts=outbox.c.attempts + 1)
        )


class SqlOutboxSource:
    """Every tenant's outbox. On SQLite a pass holds the write lock (``BEGIN IMMEDIATE``) for its length,
    which serialises relays the way ``SKIP LOCKED`` lets PostgreSQL run them side by side."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def claim(self, *, limit: int, redispatch_before: datetime) -> AsyncIterator[_SqlOutboxBatch]:
        async with self._engine.begin() as connection:
            if self._postgres:
                rows = await connection.execute(
                    text("SELECT * FROM clinic_outbox_claim(:lim, :before)").bindparams(
                        bindparam("before", type_=UtcDateTime)
                    ),
                    {"lim": limit, "before": redispatch_before},
                )
            else:
                outbox = tables.outbox
                rows = await connection.execute(
                    select(
                        outbox.c.tenant_id,
                        outbox.c.id,
                        outbox.c.topic,
                        outbox.c.payload,
                        outbox.c.occurred_at,
                    )
                    .where(
                        outbox.c.handled_at.is_(None),
                        (outbox.c.published_at.is_(None)) | (outbox.c.published_at < redispatch_before),
                    )
                    .order_by(outbox.c.occurred_at, outbox.c.id)
                    .limit(limit)
                )
            yield _SqlOutboxBatch(connection, [_message(r) for r in rows], postgres=self._postgres)

    async def backlog(self) -> OutboxBacklog:
        async with self._engine.connect() as connection:
            if self._postgres:
                row = (await connection.execute(text("SELECT * FROM clinic_outbox_backlog()"))).one()
            else:
                outbox = tables.outbox
                row = (
                    await connection.execute(
                        select(
                            func.count().label("pending"),
                            func.count(outbox.c.id)
                            .filter(outbox.c.published_at.is_(None))
                            .label("unpublished"),
                            func.min(outbox.c.occurred_at).label("oldest"),
                        ).where(outbox.c.handled_at.is_(None))
                    )
                ).one()
        oldest = row.oldest
        if isinstance(oldest, str):  # SQLite's min() loses the column type
            oldest = datetime.fromisoformat(oldest)
        return OutboxBacklog(pending=int(row.pending), unpublished=int(row.unpublished), oldest=oldest)


class SqlTenantDirectory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def active_tenant_ids(self) -> Sequence[TenantId]:
        async with self._engine.connect() as connection:
            if self._postgres:
                rows = await connection.execute(text("SELECT clinic_active_tenant_ids() AS id"))
            else:
                rows = await connection.execute(
                    select(tables.tenants.c.id)
                    .where(tables.tenants.c.status == TenantStatus.ACTIVE.value)
                    .order_by(tables.tenants.c.id)
                )
            return [TenantId(UUID(str(r.id))) for r in rows]
