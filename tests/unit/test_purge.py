"""The purge on the in-memory adapters: what is past its retention goes, what is still valid stays."""

from __future__ import annotations

from datetime import UTC, datetime

from clinic_core.testing import InMemoryUnitOfWorkFactory
from clinic_core.testing.jobs import InMemoryTenantDirectory
from tests.purge_scenario import check_what_is_left, purge, seed
from tests.sweep_world import a_sweep_clinic

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_the_purge_keeps_what_is_still_valid() -> None:
    uow = InMemoryUnitOfWorkFactory()
    clinic = await a_sweep_clinic(uow)
    outbox = await seed(clinic, NOW)
    tenants = InMemoryTenantDirectory(uow.store)
    counts = await purge(clinic, tenants, NOW)
    assert counts == {
        "account_tokens": 2,
        "mfa_challenges": 2,
        "sessions": 1,
        "refresh_tokens": 0,
        "tenants": 1,
        "idempotency_keys": 1,
        "outbox_rows": 1,
    }
    await check_what_is_left(clinic, outbox)
    assert [k for k in uow.store.tables.job_receipts if str(k[1]) == outbox[0]] == [], "receipts too"
    again = await purge(clinic, tenants, NOW)
    assert sum(v for k, v in again.items() if k != "tenants") == 0, "nothing left to purge"
