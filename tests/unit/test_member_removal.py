"""Removing a member from a clinic, on the in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from returns.result import Failure, Success

from clinic_core.access.model import API_KEY_USER, LastOwner, OwnerOnly, PermissionEscalation
from clinic_core.access.roles import CreateRole, CreateRoleCommand, RoleInput
from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.model import RevocationReason
from clinic_core.identity.sessions import CheckSession, LogIn, LogInCommand
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, NotFound
from clinic_core.shared.ids import ApiKeyId, MembershipId, RoleId, UnitId, UserId, new_uuid
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    GetMember,
    InviteMember,
    InviteMemberCommand,
)
from clinic_core.tenancy.model import Membership
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Permission, Role
from clinic_core.tenancy.removal import RemoveMember, RemoveMemberCommand
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    InMemoryUnitOfWorkFactory,
    tokens_only,
)

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
P = Permission


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    clinic: SignedUp
    other: SignedUp

    @property
    def owner(self) -> Actor:
        return actor_of(self.clinic.membership)

    async def member(
        self, *roles: Role, units: frozenset[UnitId] = frozenset(), custom: frozenset[RoleId] = frozenset()
    ) -> Membership:
        """A member of the clinic, added straight to the store."""
        membership = Membership(
            tenant_id=self.clinic.tenant.id,
            id=MembershipId(new_uuid()),
            user_id=UserId(new_uuid()),
            roles=frozenset(roles),
            unit_ids=units,
            created_at=self.clock.now(),
            custom_role_ids=custom,
        )
        async with self.uow(Scope(tenant_id=self.clinic.tenant.id)) as uow:
            await uow.memberships.add(membership)
            await uow.commit()
        return membership

    async def role(self, name: str, *permissions: Permission) -> RoleId:
        created = await CreateRole(self.uow, self.clock)(
            CreateRoleCommand(self.owner, RoleInput(name, frozenset(p.value for p in permissions)))
        )
        return created.unwrap().id

    async def remove(self, actor: Actor, membership_id: MembershipId) -> object:
        return await RemoveMember(self.uow, self.clock)(RemoveMemberCommand(actor, membership_id))

    def audit(self, action: AuditAction) -> list[AuditEvent]:
        return [e for e in self.uow.store.tables.audit_events.values() if e.action is action]


def actor_of(membership: Membership, granted: frozenset[Permission] | None = None) -> Actor:
    return Actor(
        user_id=membership.user_id,
        tenant_id=membership.tenant_id,
        roles=membership.roles,
        unit_ids=membership.unit_ids,
        granted=granted,
    )


def manager_who_manages_staff(membership: Membership) -> Actor:
    """A manager whose clinic gave them members:write through a role of its own."""
    return actor_of(membership, ROLE_PERMISSIONS[Role.MANAGER] | {P.MEMBERS_WRITE})


@pytest.fixture
async def world() -> World:
    uow, clock = InMemoryUnitOfWorkFactory(), FixedClock(T0)

    async def sign_up(email: str, name: str) -> SignedUp:
        cmd = SignUpCommand(name, "Centro", "America/Sao_Paulo", "Ana Souza", email, PASSWORD)
        return (await SignUp(uow, FakePasswordHasher(), clock)(cmd)).unwrap()

    return World(
        uow,
        clock,
        await sign_up("ana@example.com", "Clínica A"),
        await sign_up("bia@example.com", "Clínica B"),
    )


async def test_removal_ends_the_membership_and_its_sessions_here_only(world: World) -> None:
    """Bia owns clinic B and works in clinic A. Leaving A ends her A session; her B session stands."""
    hasher, issuer = FakePasswordHasher(), FakeAccessTokenIssuer(world.clock)
    invited = (
        await InviteMember(world.uow, world.clock)(
            InviteMemberCommand(world.owner, "bia@example.com", frozenset({"receptionist"}))
        )
    ).unwrap()
    joined = (
        await AcceptInvitation(world.uow, hasher, world.clock)(
            AcceptInvitationCommand(invited.token, signed_in_as=world.other.owner.id)
        )
    ).unwrap()
    log_in = tokens_only(LogIn(world.uow, hasher, issuer, world.clock))

    async def session_in(clinic: SignedUp) -> Actor:
        tokens = (
            await log_in(LogInCommand("bia@example.com", PASSWORD, tenant_slug=clinic.tenant.slug.value))
        ).unwrap()
        claims = issuer.verify(tokens.access_token)
        assert claims is not None
        return Actor.from_claims(claims)

    in_a, in_b = await session_in(world.clinic), await session_in(world.other)
    check = CheckSession(world.uow, world.clock)
    assert (await check(in_a)).active
    assert (await check(in_b)).active

    context = RequestContext(ip="203.0.113.7", user_agent="pytest", request_id="req-1")
    removed = await RemoveMember(world.uow, world.clock)(
        RemoveMemberCommand(world.owner, joined.membership.id, context=context)
    )

    assert removed == Success(None)
    assert not (await check(in_a)).active
    assert (await check(in_b)).active
    tables = world.uow.store.tables
    assert in_a.session_id is not None
    assert in_b.session_id is not None
    assert tables.sessions[in_a.session_id].revoked_reason is RevocationReason.MEMBERSHIP_ENDED
    assert tables.sessions[in_b.session_id].revoked_at is None
    assert world.other.owner.id in tables.users  # the account stays
    assert await GetMember(world.uow)(world.owner, joined.membership.id) == Failure(
        NotFound("member", str(joined.membership.id))
    )
    (event,) = world.audit(AuditAction.MEMBER_REMOVED)
    assert event.tenant_id == world.clinic.tenant.id
    assert event.target == AuditTarget("membership", str(joined.membership.id))
    assert event.actor_user_id == world.clinic.owner.id
    assert event.details["user_id"] == str(world.other.owner.id)
    assert event.details["roles"] == "receptionist"
    assert (event.ip, event.request_id) == ("203.0.113.7", "req-1")
    (outbox,) = [r for r in world.uow.store.outbox if r.topic == "tenancy.member_removed"]
    assert outbox.tenant_id == world.clinic.tenant.id
    assert outbox.payload["membership_id"] == str(joined.membership.id)
    assert outbox.payload["user_id"] == str(world.other.owner.id)

    assert await world.remove(world.owner, joined.membership.id) == Failure(
        NotFound("member", str(joined.membership.id))
    )
    assert len(world.audit(AuditAction.MEMBER_REMOVED)) == 1


async def test_custom_roles_and_units_go_with_the_membership_and_the_role_stays(world: World) -> None:
    role_id = await world.role("Financeiro", P.BILLING_READ)
    member = await world.member(
        Role.RECEPTIONIST, units=frozenset({world.clinic.unit.id}), custom=frozenset({role_id})
    )
    assert await world.remove(world.owner, member.id) == Success(None)
    tables = world.uow.store.tables
    assert member.id not in tables.memberships
    assert role_id in tables.roles
    (event,) = world.audit(AuditAction.MEMBER_REMOVED)
    assert event.details["custom_role_ids"] == str(role_id)


async def test_the_last_owner_cannot_be_removed(world: World) -> None:
    ana = world.clinic.membership
    assert await world.remove(world.owner, ana.id) == Failure(LastOwner())
    second = await world.member(Role.OWNER)
    assert await world.remove(actor_of(second), ana.id) == Success(None)
    assert await world.remove(actor_of(second), second.id) == Failure(LastOwner())
    assert world.uow.store.outbox[-1].topic == "tenancy.member_removed"


async def test_only_an_owner_removes_an_owner(world: World) -> None:
    second = await world.member(Role.OWNER)
    admin = actor_of(await world.member(Role.ADMIN))
    manager = manager_who_manages_staff(await world.member(Role.MANAGER))
    for actor in (admin, manager):
        assert await world.remove(actor, second.id) == Failure(OwnerOnly(permission="members:remove-owner"))
    assert second.id in world.uow.store.tables.memberships
    assert world.audit(AuditAction.MEMBER_REMOVED) == []


async def test_nobody_removes_a_member_who_can_do_more_than_they_can(world: World) -> None:
    manager = manager_who_manages_staff(await world.member(Role.MANAGER))
    admin_member = await world.member(Role.ADMIN)
    escalating = await world.remove(manager, admin_member.id)
    assert isinstance(escalating, Failure)
    assert isinstance(escalating.failure(), PermissionEscalation)
    assert "audit:read" in escalating.failure().detail

    # A custom role counts too: a receptionist holding "tenant:write" is beyond an admin.
    settings = await world.role("Configuração", P.TENANT_WRITE)
    receptionist = await world.member(Role.RECEPTIONIST, custom=frozenset({settings}))
    admin = actor_of(admin_member)
    assert await world.remove(admin, receptionist.id) == Failure(
        PermissionEscalation(permission="tenant:write")
    )
    plain = await world.member(Role.RECEPTIONIST)
    assert await world.remove(manager, plain.id) == Success(None)


async def test_removing_needs_members_write(world: World) -> None:
    receptionist = await world.member(Role.RECEPTIONIST)
    manager = actor_of(await world.member(Role.MANAGER))
    assert await world.remove(manager, receptionist.id) == Failure(Forbidden(permission="members:write"))


async def test_a_unit_restricted_actor_removes_only_members_within_their_units(world: World) -> None:
    centre = world.clinic.unit.id
    north = (
        (await CreateUnit(world.uow, world.clock)(CreateUnitCommand(world.owner, "Norte", "America/Manaus")))
        .unwrap()
        .id
    )
    manager = manager_who_manages_staff(await world.member(Role.MANAGER, units=frozenset({centre})))
    outside = [
        await world.member(Role.RECEPTIONIST, units=frozenset({north})),
        await world.member(Role.RECEPTIONIST, units=frozenset({centre, north})),  # seen, but not all theirs
        await world.member(Role.RECEPTIONIST),  # every unit
    ]
    for member in outside:
        assert await world.remove(manager, member.id) == Failure(NotFound("member", str(member.id)))
    inside = await world.member(Role.RECEPTIONIST, units=frozenset({centre}))
    assert await world.remove(manager, inside.id) == Success(None)
    assert all(m.id in world.uow.store.tables.memberships for m in outside)


async def test_another_clinics_member_and_unknown_ids_are_not_found(world: World) -> None:
    theirs = world.other.membership.id
    assert await world.remove(world.owner, theirs) == Failure(NotFound("member", str(theirs)))
    unknown = MembershipId(new_uuid())
    assert await world.remove(world.owner, unknown) == Failure(NotFound("member", str(unknown)))
    assert theirs in world.uow.store.tables.memberships


async def test_an_api_key_removing_a_member_is_recorded_as_the_key(world: World) -> None:
    key_id = ApiKeyId(new_uuid())
    key = Actor(
        user_id=API_KEY_USER,
        tenant_id=world.clinic.tenant.id,
        roles=frozenset(),
        unit_ids=frozenset(),
        granted=frozenset({P.MEMBERS_WRITE, *ROLE_PERMISSIONS[Role.RECEPTIONIST]}),
        api_key_id=key_id,
    )
    receptionist = await world.member(Role.RECEPTIONIST)
    assert await world.remove(key, receptionist.id) == Success(None)
    (event,) = world.audit(AuditAction.MEMBER_REMOVED)
    assert (event.actor_user_id, event.actor_api_key_id) == (None, key_id)
