"""The audit trail on PostgreSQL (as the app role) and SQLite: filters, newest-first pages, the tenant
boundary, and on PostgreSQL a table the application can append to but never rewrite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.context import RequestContext
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditEvent, AuditQuery, AuditTarget
from clinic_core.shared.ids import TenantId, UserId
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)


async def _record(uow: SqlUnitOfWorkFactory, tenant_id: TenantId, user_id: UserId) -> list[AuditEvent]:
    context = RequestContext(ip="2001:db8::7", user_agent="Clinic/1.0", request_id="req-42")
    events = [
        AuditEvent.record(
            action,
            tenant_id=tenant_id,
            at=T0 + timedelta(minutes=i),
            context=context,
            actor_user_id=user_id if i % 2 == 0 else None,
            target=AuditTarget("session", f"s-{i}"),
            attempt=i,
            remembered=True,
            note=None,
        )
        for i, action in enumerate(
            [AuditAction.SIGN_IN_FAILED, AuditAction.SIGN_IN_SUCCEEDED, AuditAction.SESSION_REVOKED] * 2
        )
    ]
    async with uow(Scope(tenant_id=tenant_id)) as work:
        for event in events:
            await work.audit.add(event)
        await work.commit()
    return events


async def test_events_round_trip_newest_first_with_filters(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    written = await _record(sql_uow, clinic.tenant.id, clinic.owner.id)
    async with sql_uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as uow:
        everything = await uow.audit.page(PageRequest(limit=200), AuditQuery())
        ours = [e for e in everything.items if e.target and e.target.id.startswith("s-")]
        assert [e.id for e in ours] == [e.id for e in reversed(written)]
        assert ours[-1] == written[0]  # every field survives the trip, details' types included

        first = await uow.audit.page(
            PageRequest(limit=2),
            AuditQuery(actions=frozenset({AuditAction.SIGN_IN_FAILED, AuditAction.SESSION_REVOKED})),
        )
        second = await uow.audit.page(
            PageRequest(after=first.next_after, limit=2),
            AuditQuery(actions=frozenset({AuditAction.SIGN_IN_FAILED, AuditAction.SESSION_REVOKED})),
        )
        assert [e.target.id for e in first.items + second.items if e.target] == ["s-5", "s-3", "s-2", "s-0"]
        assert second.next_after is None

        by_person = await uow.audit.page(PageRequest(), AuditQuery(actor_user_id=clinic.owner.id))
        assert {e.target.id for e in by_person.items if e.target and e.target.id.startswith("s-")} == {
            "s-0",
            "s-2",
            "s-4",
        }
        window = await uow.audit.page(
            PageRequest(), AuditQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
        )
        assert [e.target.id for e in window.items if e.target] == ["s-2", "s-1"]


async def test_another_clinics_trail_is_out_of_reach(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic_a, clinic_b = await sign_up(sql_uow, "Clínica A"), await sign_up(sql_uow, "Clínica B")
    await _record(sql_uow, clinic_a.tenant.id, clinic_a.owner.id)
    async with sql_uow(Scope(tenant_id=clinic_b.tenant.id), read_only=True) as uow:
        page = await uow.audit.page(PageRequest(limit=200), AuditQuery())
    assert all(e.tenant_id == clinic_b.tenant.id for e in page.items)
    assert not [e for e in page.items if e.target and e.target.id.startswith("s-")]


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"])
async def test_the_app_role_cannot_rewrite_the_trail(pg_app_engine: AsyncEngine, statement: str) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic = await sign_up(uow)
    await _record(uow, clinic.tenant.id, clinic.owner.id)
    async with pg_app_engine.connect() as connection:
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(clinic.tenant.id)}
        )
        with pytest.raises(ProgrammingError, match="permission denied"):
            await connection.execute(text(statement))
