"""The purge: the ``purge-expired`` sweep deletes what nothing will read again.

- account tokens and second-factor challenges a day after they expired or were used (a link opened late
  still finds its token, and says it expired rather than that it never existed);
- sign-in sessions (with their refresh tokens) and stray refresh tokens a margin after their absolute
  lifetime ended: a session kept that long still tells a known device from a new one;
- ``Idempotency-Key`` records past their time to live (``clinic_core.application.idempotency``);
- outbox rows every handler finished more than the retention period ago, with their handler receipts.

The global tables (users' tokens, challenges and sessions) are purged in transactions without a tenant;
the outbox, receipts and idempotency records are under row-level security, so each tenant is purged in
transactions of its own. Every kind is deleted in batches of bounded size, oldest first, and a run stops
after a bounded number of batches: the next run carries on. Append-only tables (audit trail, access log,
appointment history, consents) are never purged here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.jobs.ports import TenantDirectory
from clinic_core.jobs.sweeps import every_tenant
from clinic_core.shared.clock import Clock
from clinic_core.shared.ids import TenantId


@dataclass(frozen=True, slots=True)
class Retention:
    spent_tokens: timedelta = timedelta(days=1)
    """How long expired or used account tokens and second-factor challenges are kept."""
    ended_sessions: timedelta = timedelta(days=30)
    """How long a session (and its refresh tokens) is kept after its absolute lifetime ended."""
    handled_outbox: timedelta = timedelta(days=30)
    """How long an outbox row is kept after every handler finished it (``CLINIC_OUTBOX_RETENTION_DAYS``)."""
    batch_size: int = 500
    max_batches: int = 100
    """Per kind of record and run; what is left waits for the next run."""


Purge = Callable[[UnitOfWork], Awaitable[int]]


class PurgeExpired:
    """The ``purge-expired`` run: the global records, then every active tenant's."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        tenants: TenantDirectory,
        clock: Clock,
        retention: Retention | None = None,
    ) -> None:
        self._uow, self._tenants, self._clock = uow, tenants, clock
        self._retention = retention or Retention()

    async def __call__(self) -> dict[str, Any]:
        now, keep = self._clock.now(), self._retention
        spent, ended = now - keep.spent_tokens, now - keep.ended_sessions
        size = keep.batch_size
        counts: dict[str, Any] = {
            "account_tokens": await self._in_batches(
                Scope(), lambda uow: uow.expired_records.purge_account_tokens(spent, size)
            ),
            "mfa_challenges": await self._in_batches(
                Scope(), lambda uow: uow.expired_records.purge_mfa_challenges(spent, size)
            ),
            "sessions": await self._in_batches(
                Scope(), lambda uow: uow.expired_records.purge_sessions(ended, size)
            ),
            "refresh_tokens": await self._in_batches(
                Scope(), lambda uow: uow.expired_records.purge_refresh_tokens(ended, size)
            ),
        }
        counts.update(await every_tenant("purge-expired", self._tenants, self.tenant_pass)())
        return counts

    async def tenant_pass(self, tenant_id: TenantId) -> dict[str, int]:
        now, keep, scope = self._clock.now(), self._retention, Scope(tenant_id=tenant_id)
        handled = now - keep.handled_outbox
        async with self._uow(scope) as uow:
            # A day's keys at most: they live 24 hours.
            keys = await uow.idempotency_keys.purge_expired(now)
            await uow.commit()
        outbox = await self._in_batches(
            scope, lambda uow: uow.expired_records.purge_handled_outbox(handled, keep.batch_size)
        )
        return {"idempotency_keys": keys, "outbox_rows": outbox}

    async def _in_batches(self, scope: Scope, purge: Purge) -> int:
        """Run ``purge`` in transactions of its own until it deletes less than a batch, at most
        ``max_batches`` times; the total deleted."""
        total = 0
        for _ in range(self._retention.max_batches):
            async with self._uow(scope) as uow:
                deleted = await purge(uow)
                await uow.commit()
            total += deleted
            if deleted < self._retention.batch_size:
                break
        return total
