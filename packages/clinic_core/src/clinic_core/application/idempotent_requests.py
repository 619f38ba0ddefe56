"""The runner of idempotent requests (the rules are in ``clinic_core.application.idempotency``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from returns.result import Failure, Result, Success

from clinic_core.application.idempotency import (
    IDEMPOTENCY_TTL,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IdempotencyRecord,
    StoredResponse,
)
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.shared.clock import Clock
from clinic_core.shared.ids import TenantId


class Idempotency:
    """Runs a write at most once per (tenant, key)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        ttl: timedelta = IDEMPOTENCY_TTL,
        wait: timedelta = timedelta(seconds=10),
        poll: timedelta = timedelta(milliseconds=50),
    ) -> None:
        self._uow, self._clock = uow, clock
        self._ttl, self._wait, self._poll = ttl, wait, poll

    async def run(
        self,
        tenant_id: TenantId,
        key: str,
        fingerprint: str,
        execute: Callable[[], Awaitable[StoredResponse]],
    ) -> Result[StoredResponse, IdempotencyKeyReused | IdempotencyKeyInUse]:
        deadline = asyncio.get_running_loop().time() + self._wait.total_seconds()
        while True:
            seen = await self._claim(tenant_id, key, fingerprint)
            if seen is None:
                break  # ours: execute below
            if seen.request_hash != fingerprint:
                return Failure(IdempotencyKeyReused())
            if seen.status is not None:
                return Success(StoredResponse(seen.status, seen.body or "", replayed=True))
            if asyncio.get_running_loop().time() >= deadline:
                return Failure(IdempotencyKeyInUse())
            await asyncio.sleep(self._poll.total_seconds())
        try:
            response = await execute()
        except BaseException:
            await self._release(tenant_id, key)
            raise
        if response.status >= 500:  # an outage, not an answer: let the retry execute
            await self._release(tenant_id, key)
            return Success(response)
        async with self._uow(Scope(tenant_id=tenant_id)) as uow:
            await uow.idempotency_keys.complete(key, response.status, response.body)
            await uow.commit()
        return Success(response)

    async def _claim(self, tenant_id: TenantId, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """None when the key is now ours; else the record that holds it."""
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=tenant_id)) as uow:
            keys = uow.idempotency_keys
            found = await keys.get(key)
            if found is not None and found.expires_at > now:
                return found
            try:
                if found is not None:
                    await keys.release(key)
                await keys.claim(
                    IdempotencyRecord(
                        tenant_id=tenant_id,
                        key=key,
                        request_hash=fingerprint,
                        created_at=now,
                        expires_at=now + self._ttl,
                    )
                )
                await uow.commit()
            except UniqueViolation:
                pass  # claimed a moment ago by a concurrent request: read what it holds
            else:
                return None
        async with self._uow(Scope(tenant_id=tenant_id), read_only=True) as uow:
            found = await uow.idempotency_keys.get(key)
        if found is None:  # released in between: try again
            return await self._claim(tenant_id, key, fingerprint)
        return found

    async def _release(self, tenant_id: TenantId, key: str) -> None:
        async with self._uow(Scope(tenant_id=tenant_id)) as uow:
            await uow.idempotency_keys.release(key)
            await uow.commit()
