"""Custom roles, member roles and API keys on the real SQL adapters (PostgreSQL as the app role, SQLite),
and row-level security over their tables."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Success
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.access.api_keys import (
    AuthenticateApiKey,
    AuthenticateApiKeyCommand,
    CreateApiKey,
    CreateApiKeyCommand,
    RevokeApiKey,
    RevokeApiKeyCommand,
)
from clinic_core.access.model import ApiKey, CustomRole, InvalidApiKey, LastOwner
from clinic_core.access.roles import (
    CreateRole,
    CreateRoleCommand,
    DeleteRole,
    DeleteRoleCommand,
    RoleInput,
    SetMemberRoles,
    SetMemberRolesCommand,
)
from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope, UniqueViolation
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.identity.sessions import CheckSession, LogIn, LogInCommand
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import ApiKeyId, MembershipId, RoleId, new_uuid
from clinic_core.tenancy.model import Membership
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Permission, Role
from clinic_core.tenancy.signup import SignedUp
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher, tokens_only
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, sign_up

P = Permission


def owner_of(clinic: SignedUp) -> Actor:
    return Actor(
        user_id=clinic.owner.id,
        tenant_id=clinic.tenant.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
    )


def role_of(clinic: SignedUp, name: str, *permissions: Permission) -> CustomRole:
    now = datetime.now(UTC)
    return CustomRole(
        tenant_id=clinic.tenant.id,
        id=RoleId(new_uuid()),
        name=name,
        description="",
        permissions=frozenset(permissions),
        created_at=now,
        updated_at=now,
    )


def key_of(clinic: SignedUp, prefix: str) -> ApiKey:
    now = datetime.now(UTC)
    return ApiKey(
        tenant_id=clinic.tenant.id,
        id=ApiKeyId(new_uuid()),
        name="ERP",
        prefix=prefix,
        secret_hash="0" * 64,
        scopes=frozenset({P.UNITS_READ, P.PATIENTS_READ}),
        allowed_cidrs=("10.0.0.0/8", "2001:db8::/32"),
        expires_at=now + timedelta(days=30),
        created_by=clinic.owner.id,
        created_at=now,
    )


def _prefix() -> str:
    return new_uuid().hex[-8:]


async def test_roles_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    scope = Scope(tenant_id=clinic.tenant.id)
    billing, audit = role_of(clinic, "Financeiro", P.BILLING_READ), role_of(clinic, "auditoria", P.AUDIT_READ)
    async with sql_uow(scope) as uow:
        await uow.roles.add(billing)
        await uow.roles.add(audit)
        await uow.commit()
    async with sql_uow(scope) as uow:
        with pytest.raises(UniqueViolation) as taken:
            await uow.roles.add(role_of(clinic, " FINANCEIRO ", P.UNITS_READ))
        assert taken.value.constraint == "uq_roles_tenant_id_name_key"
    async with sql_uow(scope) as uow:
        found = await uow.roles.get(billing.id)
        assert found is not None
        assert (found.name, found.permissions, found.created_at) == (
            "Financeiro",
            frozenset({P.BILLING_READ}),
            billing.created_at,
        )
        assert (await uow.roles.get_by_name("financeiro  ")).id == billing.id  # type: ignore[union-attr]
        assert [r.name for r in await uow.roles.list()] == ["auditoria", "Financeiro"]
        assert set(await uow.roles.get_many(frozenset({billing.id, RoleId(new_uuid())}))) == {billing.id}
        found.name, found.permissions = "Caixa", frozenset({P.BILLING_READ, P.BILLING_WRITE})
        await uow.roles.save(found)
        await uow.roles.remove(audit.id)
        await uow.commit()
    async with sql_uow(scope, read_only=True) as uow:
        saved = await uow.roles.get(billing.id)
        assert saved is not None
        assert (saved.name, saved.permissions) == ("Caixa", frozenset({P.BILLING_READ, P.BILLING_WRITE}))
        assert await uow.roles.get(audit.id) is None
        assert not await uow.roles.in_use(billing.id)


async def test_member_roles_round_trip_and_keep_a_role_in_use(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    scope = Scope(tenant_id=clinic.tenant.id)
    billing = role_of(clinic, "Financeiro", P.BILLING_READ)
    async with sql_uow(scope) as uow:
        await uow.roles.add(billing)
        membership = await uow.memberships.get(clinic.membership.id)
        assert membership is not None
        membership.roles = frozenset({Role.OWNER, Role.ADMIN})
        membership.custom_role_ids = frozenset({billing.id})
        await uow.memberships.save_roles(membership)
        await uow.commit()
    async with sql_uow(scope, read_only=True) as uow:
        by_id = await uow.memberships.get(clinic.membership.id)
        by_user = await uow.memberships.get_for_user(clinic.owner.id)
        listed = (await uow.memberships.list(PageRequest(limit=10))).items
        assert by_id is not None
        assert by_user is not None
        for membership in (by_id, by_user, listed[0]):
            assert membership.roles == {Role.OWNER, Role.ADMIN}
            assert membership.custom_role_ids == {billing.id}
        assert await uow.roles.in_use(billing.id)
    async with sql_uow(scope) as uow:  # ids_with_role locks: not in a read-only transaction
        assert await uow.memberships.ids_with_role(Role.OWNER) == {clinic.membership.id}
        assert await uow.memberships.ids_with_role(Role.MANAGER) == frozenset()
    deleted = await DeleteRole(sql_uow, SystemClock())(DeleteRoleCommand(owner_of(clinic), billing.id))
    assert isinstance(deleted, Failure)
    assert deleted.failure().code == "role_in_use"


async def test_the_last_owner_is_kept_on_sql(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    set_roles = SetMemberRoles(sql_uow, SystemClock())
    demote = SetMemberRolesCommand(owner_of(clinic), clinic.membership.id, frozenset({"admin"}))
    assert await set_roles(demote) == Failure(LastOwner())
    second = Membership(
        tenant_id=clinic.tenant.id,
        id=MembershipId(new_uuid()),
        user_id=(await sign_up(sql_uow)).owner.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
        created_at=datetime.now(UTC),
    )
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        await uow.memberships.add(second)
        await uow.commit()
    assert isinstance(await set_roles(demote), Success)
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        assert await uow.memberships.ids_with_role(Role.OWNER) == {second.id}
        events = await uow.audit.page(
            PageRequest(limit=10), AuditQuery(actions=frozenset({AuditAction.MEMBER_ROLES_CHANGED}))
        )
        assert [e.details["roles"] for e in events.items] == ["admin"]


async def test_a_custom_roles_permissions_reach_the_session_on_sql(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic, clock = await sign_up(sql_uow), SystemClock()
    created = await CreateRole(sql_uow, clock)(
        CreateRoleCommand(owner_of(clinic), RoleInput("Auditoria", frozenset({"audit:read", "units:read"})))
    )
    role_id = created.unwrap().id
    await SetMemberRoles(sql_uow, clock)(
        SetMemberRolesCommand(
            owner_of(clinic), clinic.membership.id, frozenset({"owner"}), frozenset({role_id})
        )
    )
    issuer = FakeAccessTokenIssuer()
    tokens = (
        await tokens_only(LogIn(sql_uow, FakePasswordHasher(), issuer, clock))(
            LogInCommand(clinic.owner.email.value, PASSWORD)
        )
    ).unwrap()
    claims = issuer.verify(tokens.access_token)
    assert claims is not None
    standing = await CheckSession(sql_uow, clock)(Actor.from_claims(claims))
    assert standing.permissions == ROLE_PERMISSIONS[Role.OWNER]
    assert standing.roles == {Role.OWNER}


async def test_api_keys_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    scope = Scope(tenant_id=clinic.tenant.id)
    first, second = key_of(clinic, _prefix()), key_of(clinic, _prefix())
    async with sql_uow(scope) as uow:
        await uow.api_keys.add(first)
        await uow.api_keys.add(second)
        await uow.commit()
    async with sql_uow(Scope(), read_only=True) as uow:
        assert await uow.api_key_directory.tenant_of(first.prefix) == clinic.tenant.id
        assert await uow.api_key_directory.tenant_of("zzzzzzzz") is None
    async with sql_uow(scope) as uow:
        with pytest.raises(UniqueViolation):
            await uow.api_keys.add(key_of(clinic, first.prefix))
    now = datetime.now(UTC)
    async with sql_uow(scope) as uow:
        found = await uow.api_keys.get_by_prefix(first.prefix)
        assert found is not None
        assert (found.id, found.scopes, found.allowed_cidrs) == (first.id, first.scopes, first.allowed_cidrs)
        assert found.expires_at == first.expires_at
        assert [k.id for k in await uow.api_keys.list()] == [second.id, first.id]
        found.revoked_at = now
        await uow.api_keys.save(found)
        assert await uow.api_keys.touch(first.id, now, now - timedelta(minutes=1))
        assert not await uow.api_keys.touch(
            first.id, now + timedelta(seconds=30), now - timedelta(seconds=30)
        )
        await uow.commit()
    async with sql_uow(scope, read_only=True) as uow:
        saved = await uow.api_keys.get(first.id)
        assert saved is not None
        assert (saved.revoked_at, saved.last_used_at) == (now, now)


async def test_a_key_authenticates_until_revoked_on_sql(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic, clock = await sign_up(sql_uow), SystemClock()
    issued = (
        await CreateApiKey(sql_uow, clock)(
            CreateApiKeyCommand(
                owner_of(clinic), "Site", frozenset({"appointments:read"}), allowed_cidrs=("10.0.0.0/8",)
            )
        )
    ).unwrap()
    authenticate = AuthenticateApiKey(sql_uow, clock)
    actor = (await authenticate(AuthenticateApiKeyCommand(issued.key, "10.1.2.3"))).unwrap().actor
    assert (actor.tenant_id, actor.permissions, actor.api_key_id) == (
        clinic.tenant.id,
        frozenset({P.APPOINTMENTS_READ}),
        issued.api_key.id,
    )
    assert await authenticate(AuthenticateApiKeyCommand(issued.key, "192.168.0.1")) == Failure(
        InvalidApiKey()
    )
    await RevokeApiKey(sql_uow, clock)(RevokeApiKeyCommand(owner_of(clinic), issued.api_key.id))
    assert await authenticate(AuthenticateApiKeyCommand(issued.key, "10.1.2.3")) == Failure(InvalidApiKey())


async def test_racing_uses_of_a_key_write_its_last_use_once(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    key = key_of(clinic, _prefix())
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        await uow.api_keys.add(key)
        await uow.commit()
    now = datetime.now(UTC)

    async def touch() -> bool:
        async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
            touched = await uow.api_keys.touch(key.id, now, now - timedelta(minutes=1))
            await uow.commit()
            return touched

    assert sorted(await asyncio.gather(touch(), touch(), touch())) == [False, False, True]


async def test_another_tenants_roles_keys_and_member_roles_are_invisible(pg_app_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic_a, clinic_b = await sign_up(uow, "Clínica A"), await sign_up(uow, "Clínica B")
    for clinic in (clinic_a, clinic_b):
        role = role_of(clinic, "Financeiro", P.BILLING_READ)
        async with uow(Scope(tenant_id=clinic.tenant.id)) as work:
            await work.roles.add(role)
            await work.api_keys.add(key_of(clinic, _prefix()))
            membership = await work.memberships.get(clinic.membership.id)
            assert membership is not None
            membership.custom_role_ids = frozenset({role.id})
            await work.memberships.save_roles(membership)
            await work.commit()

    async with pg_app_engine.connect() as connection:
        for table in ("roles", "membership_roles", "api_keys"):
            assert (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table
        # The prefix index is global: it is what finds the tenant of a presented key.
        assert (await connection.execute(text("SELECT count(*) FROM api_key_prefixes"))).scalar_one() >= 2
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(clinic_a.tenant.id)}
        )
        for table in ("roles", "membership_roles", "api_keys"):
            tenants = {
                r[0] for r in await connection.execute(text(f"SELECT DISTINCT tenant_id FROM {table}"))
            }
            assert tenants == {clinic_a.tenant.id}, table
        changed = await connection.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE tenant_id = :b"), {"b": clinic_b.tenant.id}
        )
        assert changed.rowcount == 0
        with pytest.raises(ProgrammingError, match="row-level security"):
            await connection.execute(
                text("INSERT INTO api_key_prefixes (prefix, tenant_id) VALUES ('intruder', :b)"),
                {"b": clinic_b.tenant.id},
            )
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(clinic_a.tenant.id)}
        )
        moved = await connection.execute(
            text("UPDATE api_key_prefixes SET tenant_id = :a WHERE tenant_id = :b"),
            {"a": clinic_a.tenant.id, "b": clinic_b.tenant.id},
        )
        assert moved.rowcount == 0


async def test_a_member_cannot_hold_another_tenants_role(sql_uow: SqlUnitOfWorkFactory) -> None:
    """The composite foreign key: even a repository bug could not point a member at a foreign role."""
    clinic_a, clinic_b = await sign_up(sql_uow), await sign_up(sql_uow)
    theirs = role_of(clinic_b, "Deles", P.UNITS_READ)
    async with sql_uow(Scope(tenant_id=clinic_b.tenant.id)) as uow:
        await uow.roles.add(theirs)
        await uow.commit()
    async with sql_uow(Scope(tenant_id=clinic_a.tenant.id)) as uow:
        membership = await uow.memberships.get(clinic_a.membership.id)
        assert membership is not None
        membership.custom_role_ids = frozenset({theirs.id})
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            await uow.memberships.save_roles(membership)


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    second = Membership(
        tenant_id=clinic.tenant.id,
        id=MembershipId(new_uuid()),
        user_id=(await sign_up(sql_uow)).owner.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
        created_at=datetime.now(UTC),
    )
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        await uow.memberships.add(second)
        await uow.commit()
    second_owner = Actor(
        user_id=second.user_id,
        tenant_id=clinic.tenant.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
    )
    set_roles = SetMemberRoles(sql_uow, SystemClock())
    outcomes = await asyncio.gather(
        set_roles(SetMemberRolesCommand(owner_of(clinic), second.id, frozenset({"admin"}))),
        set_roles(SetMemberRolesCommand(second_owner, clinic.membership.id, frozenset({"admin"}))),
    )
    assert sorted(isinstance(o, Success) for o in outcomes) == [False, True]
    assert Failure(LastOwner()) in outcomes
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        assert len(await uow.memberships.ids_with_role(Role.OWNER)) == 1
