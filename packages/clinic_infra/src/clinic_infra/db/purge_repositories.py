"""SQL side of the purge: batched deletes, ``DELETE ... WHERE id IN (SELECT ... LIMIT n)``, oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, delete, or_, select

from clinic_infra.db import tables as t
from clinic_infra.db.job_tables import job_receipts

if TYPE_CHECKING:
    from clinic_infra.db.unit_of_work import SqlSession


class SqlExpiredRecords:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def _purge(self, table: Table, condition: ColumnElement[bool], oldest: Any, limit: int) -> int:
        batch = select(table.c.id).where(condition).order_by(oldest).limit(limit)
        result = await self._db.execute(delete(table).where(table.c.id.in_(batch)))
        return int(result.rowcount)

    async def purge_account_tokens(self, before: datetime, limit: int) -> int:
        tokens = t.account_tokens
        spent = or_(tokens.c.expires_at < before, tokens.c.used_at < before)
        return await self._purge(tokens, spent, tokens.c.expires_at, limit)

    async def purge_mfa_challenges(self, before: datetime, limit: int) -> int:
        challenges = t.mfa_challenges
        spent = or_(challenges.c.expires_at < before, challenges.c.used_at < before)
        return await self._purge(challenges, spent, challenges.c.expires_at, limit)

    async def purge_sessions(self, before: datetime, limit: int) -> int:
        sessions = t.auth_sessions
        # Their refresh tokens go with them: ON DELETE CASCADE.
        return await self._purge(sessions, sessions.c.expires_at < before, sessions.c.expires_at, limit)

    async def purge_refresh_tokens(self, before: datetime, limit: int) -> int:
        tokens = t.refresh_tokens
        return await self._purge(tokens, tokens.c.expires_at < before, tokens.c.expires_at, limit)

    async def purge_handled_outbox(self, before: datetime, limit: int) -> int:
        outbox, tenant = t.outbox, self._db.tenant_id()
        ids = list(
            (
                await self._db.execute(
                    select(outbox.c.id)
                    .where(outbox.c.tenant_id == tenant, outbox.c.handled_at < before)
                    .order_by(outbox.c.handled_at)
                    .limit(limit)
                )
            ).scalars()
        )
        if not ids:
            return 0
        await self._db.execute(
            delete(job_receipts).where(job_receipts.c.tenant_id == tenant, job_receipts.c.message_id.in_(ids))
        )
        result = await self._db.execute(
            delete(outbox).where(outbox.c.tenant_id == tenant, outbox.c.id.in_(ids))
        )
        return int(result.rowcount)
