"""Custom roles, member roles and API keys on the in-memory fakes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Result, Success

from clinic_core.access.api_keys import (
    ApiKeyIssued,
    AuthenticateApiKey,
    AuthenticateApiKeyCommand,
    CreateApiKey,
    CreateApiKeyCommand,
    GetApiKey,
    ListApiKeys,
    RevokeApiKey,
    RevokeApiKeyCommand,
)
from clinic_core.access.model import (
    API_KEY_MAX_LIFETIME,
    API_KEY_USER,
    InvalidApiKey,
    LastOwner,
    OwnerOnly,
    PermissionEscalation,
    RoleInUse,
    RoleNameTaken,
    ip_allowed,
    key_prefix_of,
    parse_cidrs,
)
from clinic_core.access.roles import (
    CreateRole,
    CreateRoleCommand,
    DeleteRole,
    DeleteRoleCommand,
    GetRole,
    ListRoles,
    RoleInput,
    SetMemberRoles,
    SetMemberRolesCommand,
    UpdateRole,
    UpdateRoleCommand,
)
from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditEvent
from clinic_core.identity.sessions import CheckSession, LogIn, LogInCommand
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import ApiKeyId, MembershipId, RoleId, UserId, new_uuid
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    InviteMember,
    InviteMemberCommand,
)
from clinic_core.tenancy.model import Membership
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Permission, Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
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

    async def member(self, *roles: Role, email: str | None = None) -> Membership:
        """A member of the clinic with ``roles``, added straight to the store."""
        user_id = UserId(new_uuid())
        membership = Membership(
            tenant_id=self.clinic.tenant.id,
            id=MembershipId(new_uuid()),
            user_id=user_id,
            roles=frozenset(roles),
            unit_ids=frozenset(),
            created_at=self.clock.now(),
        )
        async with self.uow(Scope(tenant_id=self.clinic.tenant.id)) as uow:
            await uow.memberships.add(membership)
            await uow.commit()
        return membership

    async def create_role(self, actor: Actor, name: str, *permissions: Permission) -> RoleId:
        role = await CreateRole(self.uow, self.clock)(
            CreateRoleCommand(actor, RoleInput(name, frozenset(p.value for p in permissions)))
        )
        return role.unwrap().id

    async def set_roles(
        self, actor: Actor, membership: Membership, roles: set[Role], custom: set[RoleId] | None = None
    ) -> object:
        return await SetMemberRoles(self.uow, self.clock)(
            SetMemberRolesCommand(
                actor, membership.id, frozenset(r.value for r in roles), frozenset(custom or ())
            )
        )

    def audit(self, action: AuditAction) -> list[AuditEvent]:
        return [e for e in self.uow.store.tables.audit_events.values() if e.action is action]


def field_code(result: object) -> str:
    """The code of the first field error of a failed result."""
    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    return error.errors[0].code


def actor_of(membership: Membership) -> Actor:
    return Actor(
        user_id=membership.user_id,
        tenant_id=membership.tenant_id,
        roles=membership.roles,
        unit_ids=frozenset(),
    )


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


# --- custom roles ------------------------------------------------------------------------------------------


async def test_roles_are_created_listed_read_edited_and_deleted(world: World) -> None:
    role_id = await world.create_role(world.owner, "  Financeiro ", P.BILLING_READ, P.BILLING_WRITE)
    catalogue = (await ListRoles(world.uow)(world.owner)).unwrap()
    assert [b.role for b in catalogue.built_in] == list(Role)
    assert catalogue.built_in[1].permissions == ROLE_PERMISSIONS[Role.ADMIN]
    assert [(r.name, r.permissions) for r in catalogue.custom] == [
        ("Financeiro", frozenset({P.BILLING_READ, P.BILLING_WRITE}))
    ]

    world.clock.advance(timedelta(minutes=1))
    updated = await UpdateRole(world.uow, world.clock)(
        UpdateRoleCommand(world.owner, role_id, RoleInput("Caixa", frozenset({"billing:read"}), "só leitura"))
    )
    assert isinstance(updated, Success)
    role = (await GetRole(world.uow)(world.owner, role_id)).unwrap()
    assert (role.name, role.description, role.permissions) == (
        "Caixa",
        "só leitura",
        frozenset({P.BILLING_READ}),
    )
    assert role.updated_at == T0 + timedelta(minutes=1)

    assert isinstance(
        await DeleteRole(world.uow, world.clock)(DeleteRoleCommand(world.owner, role_id)), Success
    )
    assert await GetRole(world.uow)(world.owner, role_id) == Failure(NotFound("role", str(role_id)))
    (updated_event,) = world.audit(AuditAction.ROLE_UPDATED)
    assert updated_event.details == {"name": "Caixa", "added": "", "removed": "billing:write"}
    assert len(world.audit(AuditAction.ROLE_CREATED)) == len(world.audit(AuditAction.ROLE_DELETED)) == 1


async def test_role_names_are_unique_whatever_the_case_and_not_built_in(world: World) -> None:
    await world.create_role(world.owner, "Financeiro", P.BILLING_READ)
    create = CreateRole(world.uow, world.clock)
    again = await create(CreateRoleCommand(world.owner, RoleInput("FINANCEIRO", frozenset({"billing:read"}))))
    assert again == Failure(RoleNameTaken())
    built_in = await create(CreateRoleCommand(world.owner, RoleInput("Admin", frozenset({"units:read"}))))
    assert field_code(built_in) == "reserved_name"
    unknown = await create(CreateRoleCommand(world.owner, RoleInput("X", frozenset({"units:delete"}))))
    assert field_code(unknown) == "unknown_permission"


async def test_nobody_creates_or_edits_a_role_beyond_their_own_permissions(world: World) -> None:
    admin = actor_of(await world.member(Role.ADMIN))
    refused = await CreateRole(world.uow, world.clock)(
        CreateRoleCommand(admin, RoleInput("Dono", frozenset({"tenant:write", "units:read"})))
    )
    assert refused == Failure(PermissionEscalation(permission="tenant:write"))
    owners_role = await world.create_role(world.owner, "Gerência", P.TENANT_WRITE, P.UNITS_READ)
    stripping = await UpdateRole(world.uow, world.clock)(
        UpdateRoleCommand(admin, owners_role, RoleInput("Gerência", frozenset({"units:read"})))
    )
    assert stripping == Failure(PermissionEscalation(permission="tenant:write"))
    receptionist = actor_of(await world.member(Role.RECEPTIONIST))
    denied = await CreateRole(world.uow, world.clock)(
        CreateRoleCommand(receptionist, RoleInput("X", frozenset({"units:read"})))
    )
    assert denied == Failure(Forbidden(permission="members:write"))


async def test_a_role_still_held_cannot_be_deleted(world: World) -> None:
    role_id = await world.create_role(world.owner, "Financeiro", P.BILLING_READ)
    member = await world.member(Role.RECEPTIONIST)
    assert isinstance(await world.set_roles(world.owner, member, {Role.RECEPTIONIST}, {role_id}), Success)
    delete = DeleteRole(world.uow, world.clock)
    assert await delete(DeleteRoleCommand(world.owner, role_id)) == Failure(RoleInUse())
    await world.set_roles(world.owner, member, {Role.RECEPTIONIST})
    assert isinstance(await delete(DeleteRoleCommand(world.owner, role_id)), Success)


async def test_another_tenants_roles_and_members_are_not_found(world: World) -> None:
    theirs = await world.create_role(actor_of(world.other.membership), "Deles", P.UNITS_READ)
    assert await GetRole(world.uow)(world.owner, theirs) == Failure(NotFound("role", str(theirs)))
    edit = await UpdateRole(world.uow, world.clock)(
        UpdateRoleCommand(world.owner, theirs, RoleInput("Nossa", frozenset({"units:read"})))
    )
    assert edit == Failure(NotFound("role", str(theirs)))
    gone = await DeleteRole(world.uow, world.clock)(DeleteRoleCommand(world.owner, theirs))
    assert gone == Failure(NotFound("role", str(theirs)))
    member = await world.member(Role.CLIENT)
    borrowed = await world.set_roles(world.owner, member, {Role.CLIENT}, {theirs})
    assert field_code(borrowed) == "unknown_role"
    other_member = world.other.membership
    assert await world.set_roles(world.owner, other_member, {Role.CLIENT}) == Failure(
        NotFound("member", str(other_member.id))
    )


# --- member roles ------------------------------------------------------------------------------------------


async def test_only_an_owner_makes_or_unmakes_an_owner(world: World) -> None:
    admin = actor_of(await world.member(Role.ADMIN))
    member = await world.member(Role.RECEPTIONIST)
    assert await world.set_roles(admin, member, {Role.OWNER}) == Failure(
        OwnerOnly(permission="members:grant-owner")
    )
    assert await world.set_roles(admin, world.clinic.membership, {Role.ADMIN}) == Failure(
        OwnerOnly(permission="members:grant-owner")
    )
    assert isinstance(await world.set_roles(world.owner, member, {Role.OWNER}), Success)


async def test_inviting_grants_no_more_than_the_inviter_holds(world: World) -> None:
    recruiter_role = await world.create_role(
        world.owner, "Recrutamento", P.MEMBERS_WRITE, *ROLE_PERMISSIONS[Role.CLIENT]
    )
    member = await world.member(Role.CLIENT)
    await world.set_roles(world.owner, member, set(), {recruiter_role})
    recruiter = actor_of(member).with_access(
        frozenset(), frozenset(), granted=ROLE_PERMISSIONS[Role.CLIENT] | {P.MEMBERS_WRITE}
    )
    invite = InviteMember(world.uow, world.clock)
    professional = await invite(
        InviteMemberCommand(recruiter, "pro@example.com", frozenset({"professional"}))
    )
    assert isinstance(professional, Failure)
    assert isinstance(professional.failure(), PermissionEscalation)
    assert "clinical:write" in professional.failure().permission
    client = await invite(InviteMemberCommand(recruiter, "cli@example.com", frozenset({"client"})))
    assert isinstance(client, Success)


async def test_the_last_owner_stays_one(world: World) -> None:
    ana = world.clinic.membership
    assert await world.set_roles(world.owner, ana, {Role.ADMIN}) == Failure(LastOwner())
    second = await world.member(Role.OWNER)
    assert isinstance(await world.set_roles(world.owner, ana, {Role.ADMIN}), Success)
    assert await world.set_roles(actor_of(second), second, {Role.ADMIN}) == Failure(LastOwner())


async def test_member_roles_change_only_by_permissions_the_changer_holds(world: World) -> None:
    admin = actor_of(await world.member(Role.ADMIN))
    powerful = await world.create_role(world.owner, "Configuração", P.TENANT_WRITE)
    member = await world.member(Role.RECEPTIONIST)
    granting = await world.set_roles(admin, member, {Role.RECEPTIONIST}, {powerful})
    assert granting == Failure(PermissionEscalation(permission="tenant:write"))
    assert isinstance(await world.set_roles(world.owner, member, {Role.RECEPTIONIST}, {powerful}), Success)
    withdrawing = await world.set_roles(admin, member, {Role.RECEPTIONIST})
    assert withdrawing == Failure(PermissionEscalation(permission="tenant:write"))
    manager = actor_of(await world.member(Role.MANAGER))
    assert await world.set_roles(manager, member, {Role.RECEPTIONIST}) == Failure(
        Forbidden(permission="members:write")
    )
    (changed,) = world.audit(AuditAction.MEMBER_ROLES_CHANGED)
    assert changed.details["custom_role_ids"] == str(powerful)


async def test_a_role_edit_changes_what_an_open_session_may_do(world: World) -> None:
    """CheckSession reads the custom roles on each call: the same session gains and loses permissions."""
    hasher, issuer = FakePasswordHasher(), FakeAccessTokenIssuer(world.clock)
    role_id = await world.create_role(world.owner, "Financeiro", P.BILLING_READ)
    invited = (
        await InviteMember(world.uow, world.clock)(
            InviteMemberCommand(world.owner, "bia@example.com", frozenset({"client"}))
        )
    ).unwrap()
    joined = (
        await AcceptInvitation(world.uow, hasher, world.clock)(
            AcceptInvitationCommand(invited.token, signed_in_as=world.other.owner.id)
        )
    ).unwrap()
    await world.set_roles(world.owner, joined.membership, {Role.CLIENT}, {role_id})
    tokens = (
        await tokens_only(LogIn(world.uow, hasher, issuer, world.clock))(
            LogInCommand("bia@example.com", PASSWORD, tenant_slug=world.clinic.tenant.slug.value)
        )
    ).unwrap()
    claims = issuer.verify(tokens.access_token)
    assert claims is not None
    session = Actor.from_claims(claims)
    assert session.roles == {Role.CLIENT}  # the token names built-in roles only
    check = CheckSession(world.uow, world.clock)
    assert (await check(session)).permissions == ROLE_PERMISSIONS[Role.CLIENT] | {P.BILLING_READ}

    await UpdateRole(world.uow, world.clock)(
        UpdateRoleCommand(world.owner, role_id, RoleInput("Financeiro", frozenset({"audit:read"})))
    )
    standing = await check(session)
    assert standing.permissions == ROLE_PERMISSIONS[Role.CLIENT] | {P.AUDIT_READ}
    acting = session.with_access(standing.roles, standing.unit_ids, granted=standing.permissions)
    assert acting.authorize(P.AUDIT_READ) == Success(None)
    assert acting.authorize(P.BILLING_READ) == Failure(Forbidden(permission="billing:read"))

    await world.set_roles(world.owner, joined.membership, {Role.CLIENT})
    assert (await check(session)).permissions == ROLE_PERMISSIONS[Role.CLIENT]


# --- API keys ----------------------------------------------------------------------------------------------


async def issue(world: World, actor: Actor, *scopes: Permission, **extra: object) -> ApiKeyIssued:
    result = await CreateApiKey(world.uow, world.clock)(
        CreateApiKeyCommand(actor, "ERP", frozenset(s.value for s in scopes), **extra)  # type: ignore[arg-type]
    )
    return result.unwrap()


async def authenticate(
    world: World, key: str, ip: str | None = "203.0.113.9"
) -> Result[Actor, InvalidApiKey]:
    held = await AuthenticateApiKey(world.uow, world.clock)(AuthenticateApiKeyCommand(key, ip))
    return held.map(lambda holder: holder.actor)


async def test_a_key_acts_for_its_tenant_with_its_scopes_only(world: World) -> None:
    issued = await issue(world, world.owner, P.UNITS_READ, P.APPOINTMENTS_READ)
    actor = (await authenticate(world, issued.key)).unwrap()
    assert actor.tenant_id == world.clinic.tenant.id
    assert actor.permissions == {P.UNITS_READ, P.APPOINTMENTS_READ}
    assert actor.roles == frozenset()
    assert actor.user_id == API_KEY_USER
    assert actor.api_key_id == issued.api_key.id
    assert actor.authorize(P.UNITS_WRITE) == Failure(Forbidden(permission="units:write"))


async def test_scopes_are_a_subset_of_the_creators_permissions(world: World) -> None:
    admin = actor_of(await world.member(Role.ADMIN))
    create = CreateApiKey(world.uow, world.clock)
    refused = await create(CreateApiKeyCommand(admin, "X", frozenset({"tenant:write", "units:read"})))
    assert refused == Failure(PermissionEscalation(permission="tenant:write"))
    empty = await create(CreateApiKeyCommand(admin, "X", frozenset()))
    assert field_code(empty) == "required"
    manager = actor_of(await world.member(Role.MANAGER))
    assert await create(CreateApiKeyCommand(manager, "X", frozenset({"units:read"}))) == Failure(
        Forbidden(permission="api_keys:write")
    )
    as_key = (await authenticate(world, (await issue(world, world.owner, P.API_KEYS_WRITE)).key)).unwrap()
    minted = await create(CreateApiKeyCommand(as_key, "X", frozenset({"api_keys:write"})))
    assert isinstance(minted, Failure)
    assert minted.failure().code == "api_key_not_allowed"


async def test_every_key_expires_within_a_year(world: World) -> None:
    default = await issue(world, world.owner, P.UNITS_READ)
    assert default.api_key.expires_at == T0 + API_KEY_MAX_LIFETIME
    create = CreateApiKey(world.uow, world.clock)
    for expires_at in (T0, T0 - timedelta(days=1), T0 + API_KEY_MAX_LIFETIME + timedelta(seconds=1)):
        refused = await create(
            CreateApiKeyCommand(world.owner, "X", frozenset({"units:read"}), expires_at=expires_at)
        )
        assert field_code(refused) == "invalid_expiry"
    soon = await issue(world, world.owner, P.UNITS_READ, expires_at=T0 + timedelta(hours=1))
    assert isinstance(await authenticate(world, soon.key), Success)
    world.clock.advance(timedelta(hours=1))
    assert await authenticate(world, soon.key) == Failure(InvalidApiKey())
    assert isinstance(await authenticate(world, default.key), Success)


async def test_a_revoked_key_stops_at_once_and_revoking_again_changes_nothing(world: World) -> None:
    issued = await issue(world, world.owner, P.UNITS_READ)
    revoke = RevokeApiKey(world.uow, world.clock)
    assert isinstance(await revoke(RevokeApiKeyCommand(world.owner, issued.api_key.id)), Success)
    assert await authenticate(world, issued.key) == Failure(InvalidApiKey())
    world.clock.advance(timedelta(minutes=5))
    again = (await revoke(RevokeApiKeyCommand(world.owner, issued.api_key.id))).unwrap()
    assert again.revoked_at == T0
    assert len(world.audit(AuditAction.API_KEY_REVOKED)) == 1
    theirs = await issue(world, actor_of(world.other.membership), P.UNITS_READ)
    assert await revoke(RevokeApiKeyCommand(world.owner, theirs.api_key.id)) == Failure(
        NotFound("api_key", str(theirs.api_key.id))
    )
    assert isinstance(await authenticate(world, theirs.key), Success)


async def test_wrong_and_malformed_keys_are_refused_alike(world: World) -> None:
    issued = await issue(world, world.owner, P.UNITS_READ)
    prefix = issued.api_key.prefix
    for key in (
        f"clinic_{prefix}_{'A' * 43}",
        f"clinic_{prefix}_short",
        f"other_{prefix}_{'A' * 43}",
        issued.key + "x",
        issued.key.upper(),
        "",
    ):
        assert await authenticate(world, key) == Failure(InvalidApiKey()), key


async def test_a_suspended_clinics_keys_stop(world: World) -> None:
    issued = await issue(world, world.owner, P.UNITS_READ)
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id)) as uow:
        tenant = await uow.tenants.get(world.clinic.tenant.id)
        assert tenant is not None
        tenant.suspend()
        await uow.tenants.save(tenant)
        await uow.commit()
    assert await authenticate(world, issued.key) == Failure(InvalidApiKey())


async def test_the_allowlist_admits_its_networks_only(world: World) -> None:
    issued = await issue(
        world, world.owner, P.UNITS_READ, allowed_cidrs=("203.0.113.0/24", "2001:db8::/32", "198.51.100.7")
    )
    assert issued.api_key.allowed_cidrs == ("203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32")
    for ip in ("203.0.113.9", "2001:db8::1", "2001:db8:ffff::5", "198.51.100.7", "::ffff:203.0.113.50"):
        assert isinstance(await authenticate(world, issued.key, ip), Success), ip
    outside: tuple[str | None, ...] = (
        "203.0.114.1",
        "2001:db9::1",
        "198.51.100.8",
        "::1",
        "unknown",
        "",
        None,
    )
    for address in outside:
        assert await authenticate(world, issued.key, address) == Failure(InvalidApiKey()), address
    anywhere = await issue(world, world.owner, P.UNITS_READ)
    assert isinstance(await authenticate(world, anywhere.key, None), Success)


def test_networks_are_parsed_and_normalised() -> None:
    assert parse_cidrs(["10.1.2.3/8", "10.0.0.0/8", " 2001:DB8::/32 "]) == Success(
        ("10.0.0.0/8", "2001:db8::/32")
    )
    for bad in (["10.0.0.0/33"], ["example.com"], ["10.0.0.0/8"] * 21 + ["10.0.0.1"]):
        assert isinstance(parse_cidrs(bad), Failure), bad
    assert ip_allowed("10.9.9.9", ("10.0.0.0/8",))
    assert not ip_allowed("10.9.9.9", ("2001:db8::/32",))
    assert ip_allowed("fe80::1", ())


def test_a_key_has_a_recognisable_shape() -> None:
    assert key_prefix_of("clinic_ab12cd34_" + "x" * 43) == "ab12cd34"
    for key in ("clinic_AB12CD34_" + "x" * 43, "clinic_ab12cd3_" + "x" * 43, "clinic_ab12cd34_x", "x" * 300):
        assert key_prefix_of(key) is None, key


async def test_only_a_digest_of_the_key_is_stored(world: World) -> None:
    issued = await issue(world, world.owner, P.UNITS_READ)
    stored = world.uow.store.tables.api_keys[issued.api_key.id]
    assert stored.secret_hash == hashlib.sha256(issued.key.encode()).hexdigest()
    assert issued.key.split("_", 2)[2] not in repr(world.uow.store.tables)
    listed = (await ListApiKeys(world.uow)(world.owner)).unwrap()
    assert [k.id for k in listed] == [issued.api_key.id]
    fetched = (await GetApiKey(world.uow)(world.owner, issued.api_key.id)).unwrap()
    assert fetched.prefix == issued.api_key.prefix
    missing = ApiKeyId(new_uuid())
    assert await GetApiKey(world.uow)(world.owner, missing) == Failure(NotFound("api_key", str(missing)))


async def test_last_use_is_written_at_most_once_a_minute(world: World) -> None:
    issued = await issue(world, world.owner, P.UNITS_READ)
    await authenticate(world, issued.key)
    assert world.uow.store.tables.api_keys[issued.api_key.id].last_used_at == T0
    world.clock.advance(timedelta(seconds=59))
    await authenticate(world, issued.key)
    assert world.uow.store.tables.api_keys[issued.api_key.id].last_used_at == T0
    world.clock.advance(timedelta(seconds=1))
    await authenticate(world, issued.key)
    assert world.uow.store.tables.api_keys[issued.api_key.id].last_used_at == T0 + timedelta(minutes=1)
