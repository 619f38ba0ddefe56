"""SQLite: writers are serialised, readers are not held behind them."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import ReadOnlyUnitOfWork, Scope
from clinic_core.shared.clock import SystemClock
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand, ListUnits
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up


async def test_a_reader_is_not_held_behind_an_open_write_transaction(sqlite_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(sqlite_engine)
    clinic = await sign_up(uow)
    owner = Actor(clinic.owner.id, clinic.tenant.id, clinic.membership.roles, frozenset())
    async with uow(Scope(tenant_id=clinic.tenant.id)) as writer:
        await writer.units.get(clinic.unit.id)  # BEGIN IMMEDIATE: the write lock is held from here
        # With the write lock taken, an IMMEDIATE reader would wait out the busy timeout (15 s).
        page = await asyncio.wait_for(ListUnits(uow)(owner, PageRequest()), timeout=5)
        assert [u.id for u in page.unwrap().items] == [clinic.unit.id]


async def test_writers_queue_and_all_succeed(sqlite_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(sqlite_engine)
    clinic = await sign_up(uow)
    owner = Actor(clinic.owner.id, clinic.tenant.id, clinic.membership.roles, frozenset())
    create = CreateUnit(uow, SystemClock())
    results = await asyncio.gather(
        *(
            create(CreateUnitCommand(actor=owner, name=f"Unidade {n}", timezone="America/Recife"))
            for n in range(12)
        )
    )
    assert all(r.unwrap().name.startswith("Unidade") for r in results)
    assert len((await ListUnits(uow)(owner, PageRequest())).unwrap().items) == 13


async def test_a_read_only_unit_of_work_refuses_to_commit(sqlite_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(sqlite_engine)
    async with uow(Scope(), read_only=True) as reader:
        with pytest.raises(ReadOnlyUnitOfWork):
            await reader.commit()
