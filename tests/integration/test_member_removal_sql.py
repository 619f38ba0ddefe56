"""Removing a member on the real SQL adapters (PostgreSQL as the app role, SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from returns.result import Failure, Success
from sqlalchemy import func, select

from clinic_core.access.model import CustomRole, LastOwner
from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.identity.model import RevocationReason
from clinic_core.identity.sessions import CheckSession, LogIn, LogInCommand
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import MembershipId, RoleId, TenantId, UserId, new_uuid
from clinic_core.tenancy.model import Membership
from clinic_core.tenancy.permissions import Permission, Role
from clinic_core.tenancy.removal import RemoveMember, RemoveMemberCommand
from clinic_core.tenancy.signup import SignedUp
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher, tokens_only
from clinic_infra.db import tables
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, sign_up


def owner_actor(tenant_id: TenantId, user_id: UserId) -> Actor:
    return Actor(user_id=user_id, tenant_id=tenant_id, roles=frozenset({Role.OWNER}), unit_ids=frozenset())


async def _rows(sql_uow: SqlUnitOfWorkFactory, tenant_id: TenantId, membership_id: MembershipId) -> list[int]:
    """How many rows of memberships, membership_units and membership_roles the membership has."""
    counts = []
    async with sql_uow(Scope(tenant_id=tenant_id), read_only=True) as uow:
        connection = await uow.connection()
        for table, column in (
            (tables.memberships, tables.memberships.c.id),
            (tables.membership_units, tables.membership_units.c.membership_id),
            (tables.membership_roles, tables.membership_roles.c.membership_id),
        ):
            found = await connection.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.tenant_id == tenant_id, column == membership_id)
            )
            counts.append(found.scalar_one())
    return counts


async def test_removal_deletes_the_membership_with_its_units_and_roles(sql_uow: SqlUnitOfWorkFactory) -> None:
    """Bia owns her own clinic and works in Ana's, in one unit, with one of its roles."""
    ana, bia = await sign_up(sql_uow), await sign_up(sql_uow)
    clock, now = SystemClock(), datetime.now(UTC)
    role = CustomRole(
        tenant_id=ana.tenant.id,
        id=RoleId(new_uuid()),
        name="Financeiro",
        description="",
        permissions=frozenset({Permission.BILLING_READ}),
        created_at=now,
        updated_at=now,
    )
    membership = Membership(
        tenant_id=ana.tenant.id,
        id=MembershipId(new_uuid()),
        user_id=bia.owner.id,
        roles=frozenset({Role.RECEPTIONIST}),
        unit_ids=frozenset({ana.unit.id}),
        created_at=now,
        custom_role_ids=frozenset({role.id}),
    )
    async with sql_uow(Scope(tenant_id=ana.tenant.id)) as uow:
        await uow.roles.add(role)
        await uow.memberships.add(membership)
        await uow.memberships.save_roles(membership)
        await uow.commit()
    assert await _rows(sql_uow, ana.tenant.id, membership.id) == [1, 1, 1]

    issuer = FakeAccessTokenIssuer()
    log_in = tokens_only(LogIn(sql_uow, FakePasswordHasher(), issuer, clock))

    async def session_in(clinic: SignedUp) -> Actor:
        tokens = (
            await log_in(LogInCommand(bia.owner.email.value, PASSWORD, tenant_slug=clinic.tenant.slug.value))
        ).unwrap()
        claims = issuer.verify(tokens.access_token)
        assert claims is not None
        return Actor.from_claims(claims)

    in_ana, in_own = await session_in(ana), await session_in(bia)

    removed = await RemoveMember(sql_uow, clock)(
        RemoveMemberCommand(owner_actor(ana.tenant.id, ana.owner.id), membership.id)
    )

    assert removed == Success(None)
    assert await _rows(sql_uow, ana.tenant.id, membership.id) == [0, 0, 0]
    check = CheckSession(sql_uow, clock)
    assert not (await check(in_ana)).active
    assert (await check(in_own)).active
    async with sql_uow(Scope(tenant_id=ana.tenant.id)) as uow:
        assert in_ana.session_id is not None
        session = await uow.sessions.get(in_ana.session_id)
        assert session is not None
        assert session.revoked_reason is RevocationReason.MEMBERSHIP_ENDED
        assert await uow.users.get(bia.owner.id) is not None
        assert await uow.roles.get(role.id) is not None
        events = await uow.audit.page(
            PageRequest(limit=10), AuditQuery(actions=frozenset({AuditAction.MEMBER_REMOVED}))
        )
        assert [(e.details["user_id"], e.actor_user_id) for e in events.items] == [
            (str(bia.owner.id), ana.owner.id)
        ]
        connection = await uow.connection()
        payloads = (
            await connection.execute(
                select(tables.outbox.c.payload).where(
                    tables.outbox.c.tenant_id == ana.tenant.id,
                    tables.outbox.c.topic == "tenancy.member_removed",
                )
            )
        ).all()
        assert [p[0]["membership_id"] for p in payloads] == [str(membership.id)]

    again = await RemoveMember(sql_uow, clock)(
        RemoveMemberCommand(owner_actor(ana.tenant.id, ana.owner.id), membership.id)
    )
    assert again == Failure(NotFound("member", str(membership.id)))


async def test_two_owners_removing_each_other_at_once_leave_one_owner(sql_uow: SqlUnitOfWorkFactory) -> None:
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
    remove = RemoveMember(sql_uow, SystemClock())

    outcomes = await asyncio.gather(
        remove(RemoveMemberCommand(owner_actor(clinic.tenant.id, clinic.owner.id), second.id)),
        remove(RemoveMemberCommand(owner_actor(clinic.tenant.id, second.user_id), clinic.membership.id)),
    )

    assert sorted(isinstance(o, Success) for o in outcomes) == [False, True]
    assert Failure(LastOwner()) in outcomes
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        owners = await uow.memberships.ids_with_role(Role.OWNER)
        assert len(owners) == 1
        (survivor,) = owners
        assert await uow.memberships.get(survivor) is not None
