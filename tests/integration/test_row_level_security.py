"""Row-level security, proven on the application's own connection (a member of clinic_app)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from clinic_infra.db.engine import create_engine
from clinic_infra.db.roles import assume_role_on_connect
from clinic_infra.db.tables import TENANT_TABLES
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.health import row_level_security_bypassed
from tests.conftest import PostgresDatabase
from tests.integration.conftest import sign_up


async def _set_scope(connection: AsyncConnection, tenant_id: object, user_id: object = "") -> None:
    """As the unit of work does: the tenant, and the user (who may read their own memberships elsewhere)."""
    await connection.execute(
        text("SELECT set_config('app.tenant_id', :t, true), set_config('app.user_id', :u, true)"),
        {"t": str(tenant_id), "u": str(user_id)},
    )


async def test_the_app_role_cannot_escape_row_level_security(pg_app_engine: AsyncEngine) -> None:
    assert await row_level_security_bypassed(pg_app_engine) is None


async def test_the_superuser_is_reported_as_bypassing(pg_owner_engine: AsyncEngine) -> None:
    assert "superuser" in (await row_level_security_bypassed(pg_owner_engine) or "")


async def test_every_tenant_table_has_forced_rls(pg_owner_engine: AsyncEngine) -> None:
    async with pg_owner_engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(:names)"
                ),
                {"names": list(TENANT_TABLES)},
            )
        ).all()
    assert {r[0]: (r[1], r[2]) for r in rows} == dict.fromkeys(TENANT_TABLES, (True, True))


async def test_raw_select_without_tenant_sees_nothing_and_with_tenant_sees_only_its_rows(
    pg_app_engine: AsyncEngine, pg_owner_engine: AsyncEngine
) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic_a = await sign_up(uow, "Clínica A")
    clinic_b = await sign_up(uow, "Clínica B")

    async with pg_owner_engine.connect() as owner:  # the rows really are there
        total = (await owner.execute(text("SELECT count(*) FROM units"))).scalar_one()
    assert total >= 2

    async with pg_app_engine.connect() as connection:
        for table in TENANT_TABLES:
            count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, f"{table} leaked {count} rows with no tenant set"

    async with pg_app_engine.connect() as connection, connection.begin():
        await _set_scope(connection, clinic_a.tenant.id, clinic_a.owner.id)
        for table in TENANT_TABLES:
            tenants = {
                r[0] for r in await connection.execute(text(f"SELECT DISTINCT tenant_id FROM {table}"))
            }
            assert tenants <= {clinic_a.tenant.id}, f"{table} showed another tenant's rows"
        names = {r[0] for r in await connection.execute(text("SELECT name FROM units"))}
        assert names == {"Centro"}
        ids = {r[0] for r in await connection.execute(text("SELECT tenant_id FROM units"))}
        assert ids == {clinic_a.tenant.id}
        assert clinic_b.tenant.id not in ids


async def test_the_scope_does_not_outlive_its_transaction(pg_app_engine: AsyncEngine) -> None:
    clinic = await sign_up(SqlUnitOfWorkFactory(pg_app_engine))
    async with pg_app_engine.connect() as connection:
        async with connection.begin():
            await _set_scope(connection, clinic.tenant.id, clinic.owner.id)
            assert (await connection.execute(text("SELECT count(*) FROM units"))).scalar_one() == 1
        async with connection.begin():  # same pooled connection, next transaction: nothing
            assert (await connection.execute(text("SELECT count(*) FROM units"))).scalar_one() == 0


async def test_writing_into_another_tenant_is_refused(pg_app_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic_a, clinic_b = await sign_up(uow, "Clínica A"), await sign_up(uow, "Clínica B")
    async with pg_app_engine.connect() as connection, connection.begin():
        await _set_scope(connection, clinic_a.tenant.id, clinic_a.owner.id)
        with pytest.raises(ProgrammingError, match="row-level security"):
            await connection.execute(
                text(
                    "INSERT INTO units (tenant_id, id, name, timezone, created_at)"
                    " VALUES (:t, gen_random_uuid(), 'Intrusa', 'America/Sao_Paulo', now())"
                ),
                {"t": clinic_b.tenant.id},
            )


async def test_updates_cannot_reach_another_tenants_rows(pg_app_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic_a, clinic_b = await sign_up(uow, "Clínica A"), await sign_up(uow, "Clínica B")
    async with pg_app_engine.connect() as connection, connection.begin():
        await _set_scope(connection, clinic_a.tenant.id, clinic_a.owner.id)
        touched = await connection.execute(
            text("UPDATE units SET name = 'Hacked' WHERE tenant_id = :t"), {"t": clinic_b.tenant.id}
        )
        assert touched.rowcount == 0
        deleted = await connection.execute(
            text("DELETE FROM memberships WHERE tenant_id = :t"), {"t": clinic_b.tenant.id}
        )
        assert deleted.rowcount == 0


async def test_the_app_role_cannot_disable_rls_or_read_migrations(pg_app_engine: AsyncEngine) -> None:
    async with pg_app_engine.connect() as connection:
        with pytest.raises(ProgrammingError):
            await connection.execute(text("ALTER TABLE units DISABLE ROW LEVEL SECURITY"))
    async with pg_app_engine.connect() as connection:
        with pytest.raises(ProgrammingError):
            await connection.execute(text("SELECT * FROM alembic_version"))


async def test_a_user_in_two_tenants_reads_both_memberships_but_writes_only_in_the_current_one(
    pg_app_engine: AsyncEngine,
) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic_a = await sign_up(uow, "Clínica A")
    clinic_b = await sign_up(uow, "Clínica B")
    async with pg_app_engine.connect() as connection, connection.begin():
        await _set_scope(connection, clinic_b.tenant.id)  # B takes A's owner in, as an invitation would
        await connection.execute(
            text(
                "INSERT INTO memberships (tenant_id, id, user_id, roles, created_at)"
                " VALUES (:t, gen_random_uuid(), :u, '[\"admin\"]', now())"
            ),
            {"t": clinic_b.tenant.id, "u": clinic_a.owner.id},
        )
    async with pg_app_engine.connect() as connection, connection.begin():
        await _set_scope(connection, clinic_a.tenant.id, clinic_a.owner.id)
        tenants = {r[0] for r in await connection.execute(text("SELECT tenant_id FROM memberships"))}
        assert clinic_b.tenant.id in tenants  # their own membership in B: readable, to choose a clinic
        for statement in (
            "DELETE FROM memberships WHERE tenant_id = :b",
            "UPDATE memberships SET roles = '[\"owner\"]' WHERE tenant_id = :b",
        ):
            touched = await connection.execute(text(statement), {"b": clinic_b.tenant.id})
            assert touched.rowcount == 0, statement
        # Their own membership in B, yes; B's owner's membership in B, no.
        b_owner = await connection.execute(
            text("SELECT count(*) FROM memberships WHERE user_id = :u"), {"u": clinic_b.owner.id}
        )
        assert b_owner.scalar_one() == 0


async def test_tenants_cannot_be_deleted_or_changed_from_another_tenant(pg_app_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic_a, clinic_b = await sign_up(uow, "Clínica A"), await sign_up(uow, "Clínica B")
    async with pg_app_engine.connect() as connection, connection.begin():
        await _set_scope(connection, clinic_a.tenant.id, clinic_a.owner.id)
        changed = await connection.execute(
            text("UPDATE tenants SET status = 'suspended' WHERE id = :b"), {"b": clinic_b.tenant.id}
        )
        assert changed.rowcount == 0
    for statement in ("DELETE FROM tenants", "DELETE FROM users"):
        async with pg_app_engine.connect() as connection:
            with pytest.raises(ProgrammingError, match="permission denied"):
                await connection.execute(text(statement))


async def test_a_superuser_login_acts_as_clinic_app(postgres: PostgresDatabase) -> None:
    """The quickstart's postgres URL: SET ROLE on connect puts it under row-level security."""
    engine = create_engine(postgres.owner_url)
    assume_role_on_connect(engine, "clinic_app")
    try:
        assert await row_level_security_bypassed(engine) is None
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM units"))).scalar_one() == 0
            await connection.rollback()  # a rolled-back transaction must not undo the role
            assert (await connection.execute(text("SELECT current_user"))).scalar_one() == "clinic_app"
    finally:
        await engine.dispose()
