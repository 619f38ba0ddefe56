"""every_tenant: a tenant whose pass fails does not stop the others, and the run then fails to be retried."""

from __future__ import annotations

import pytest

from clinic_core.jobs.sweeps import SweepIncomplete, every_tenant
from clinic_core.shared.ids import TenantId, new_uuid


class Directory:
    def __init__(self, ids: list[TenantId]) -> None:
        self.ids = ids

    async def active_tenant_ids(self) -> list[TenantId]:
        return self.ids


async def test_a_failing_tenant_does_not_stop_the_others_and_fails_the_run() -> None:
    tenants = [TenantId(new_uuid()) for _ in range(3)]
    visited: list[TenantId] = []

    async def tenant_pass(tenant_id: TenantId) -> dict[str, int]:
        visited.append(tenant_id)
        if tenant_id == tenants[1]:
            raise ConnectionError("the database went away")
        return {"done": 2}

    with pytest.raises(SweepIncomplete, match="1 of 3 tenants failed"):
        await every_tenant("test-sweep", Directory(tenants), tenant_pass)()
    assert visited == tenants


async def test_counts_are_summed_over_the_tenants() -> None:
    async def tenant_pass(tenant_id: TenantId) -> dict[str, int]:
        return {"done": 2, "skipped": 1}

    work = every_tenant("test-sweep", Directory([TenantId(new_uuid()) for _ in range(3)]), tenant_pass)
    assert await work() == {"tenants": 3, "done": 6, "skipped": 3}
