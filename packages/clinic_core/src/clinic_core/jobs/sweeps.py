"""Sweeps: recurring work that visits every active tenant, each in transactions of its own.

A tenant's pass works in bounded batches, one transaction each, on rows whose state says they are due: a
run repeated, or run beside another, finds nothing left to do for what the other did, and no run relies on
an earlier one having happened. A tenant whose pass fails (its database hiccuped) does not stop the others;
the run then fails as a whole once every tenant was visited, so that the queue retries it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from clinic_core.jobs.ports import TenantDirectory
from clinic_core.jobs.recurring import RecurringWork
from clinic_core.shared.ids import TenantId

log = logging.getLogger(__name__)

TenantPass = Callable[[TenantId], Awaitable[Mapping[str, int]]]
"""One tenant's part of a sweep; returns what it did, counted."""


class SweepIncomplete(Exception):
    """Some tenants' passes failed; the others were done. Raised so that the run is retried."""


def every_tenant(name: str, tenants: TenantDirectory, tenant_pass: TenantPass) -> RecurringWork:
    """The recurring work that runs ``tenant_pass`` for each active tenant and sums their counts."""

    async def work() -> dict[str, Any]:
        totals: Counter[str] = Counter()
        failed: list[TenantId] = []
        visited = await tenants.active_tenant_ids()
        for tenant_id in visited:
            try:
                totals.update(await tenant_pass(tenant_id))
            except Exception:
                log.exception("sweep %s failed for tenant %s", name, tenant_id)
                failed.append(tenant_id)
        if failed:
            raise SweepIncomplete(
                f"{name}: {len(failed)} of {len(visited)} tenants failed (the others did {dict(totals)})"
            )
        return {"tenants": len(visited), **totals}

    return work
