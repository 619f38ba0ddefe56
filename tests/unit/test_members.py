"""Members: invitations, joining, listing, and moving a session between the tenants a person belongs to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.account_security import EmailVerificationRequested
from clinic_core.identity.me import GetMe
from clinic_core.identity.model import (
    AuthSession,
    InvalidRefreshToken,
    RefreshTokenReused,
    RevocationReason,
    TokenPair,
)
from clinic_core.identity.sessions import (
    AlreadyInTenant,
    LogIn,
    LogInCommand,
    LogOut,
    RefreshCommand,
    RefreshSession,
    SwitchTenant,
    SwitchTenantCommand,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import MembershipId, SessionId, TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.tokens import digest
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    AlreadyMember,
    GetMember,
    InvitationForAnotherAccount,
    InvitationIssued,
    InviteMember,
    InviteMemberCommand,
    ListMembers,
    Member,
    SignInRequired,
    invitation_token,
)
from clinic_core.tenancy.model import (
    INVITATION_LIFETIME,
    InvitationNotUsable,
    MemberInvited,
    MemberJoined,
    NoAccessToTenant,
    TenantSuspended,
)
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    InMemoryUnitOfWorkFactory,
    tokens_only,
)
from clinic_core.testing.sign_in import LogInError

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "tres pratos de trigo para tres tigres"
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    hasher: FakePasswordHasher
    issuer: FakeAccessTokenIssuer

    async def sign_up(self, email: str, tenant: str) -> SignedUp:
        cmd = SignUpCommand(tenant, "Centro", "America/Sao_Paulo", "Ana Souza", email, PASSWORD)
        return (await SignUp(self.uow, self.hasher, self.clock)(cmd)).unwrap()

    async def invite(
        self, actor: Actor, email: str, *roles: str, units: frozenset[UnitId] = frozenset()
    ) -> InvitationIssued:
        cmd = InviteMemberCommand(actor, email, frozenset(roles or {"receptionist"}), units)
        return (await self.invite_member(cmd)).unwrap()

    @property
    def invite_member(self) -> InviteMember:
        return InviteMember(self.uow, self.clock)

    @property
    def accept(self) -> AcceptInvitation:
        return AcceptInvitation(self.uow, self.hasher, self.clock)

    @property
    def log_in(self) -> Callable[[LogInCommand], Awaitable[Result[TokenPair, LogInError]]]:
        return tokens_only(LogIn(self.uow, self.hasher, self.issuer, self.clock))

    @property
    def switch(self) -> SwitchTenant:
        return SwitchTenant(self.uow, self.issuer, self.clock)

    @property
    def refresh(self) -> RefreshSession:
        return RefreshSession(self.uow, self.issuer, self.clock)

    def actor_of(self, tokens: TokenPair) -> Actor:
        """The actor the HTTP host would build from the access token."""
        claims = self.issuer.verify(tokens.access_token)
        assert claims is not None
        return Actor.from_claims(claims)

    def session_of(self, tokens: TokenPair) -> AuthSession:
        """The session the token pair belongs to, as committed."""
        session_id = self.actor_of(tokens).session_id
        assert session_id is not None
        return self.uow.store.tables.sessions[session_id]

    async def suspend(self, tenant_id: TenantId) -> None:
        async with self.uow(Scope(tenant_id=tenant_id)) as uow:
            tenant = await uow.tenants.get(tenant_id)
            assert tenant is not None
            tenant.suspend()
            await uow.tenants.save(tenant)
            await uow.commit()


@pytest.fixture
def world() -> World:
    clock = FixedClock(T0)
    return World(InMemoryUnitOfWorkFactory(), clock, FakePasswordHasher(), FakeAccessTokenIssuer(clock))


def owner(signed: SignedUp) -> Actor:
    return Actor(signed.owner.id, signed.tenant.id, frozenset({Role.OWNER}), frozenset())


def staff(signed: SignedUp, *roles: Role, units: frozenset[UnitId] = frozenset()) -> Actor:
    return Actor(UserId(new_uuid()), signed.tenant.id, frozenset(roles), units)


def secret_of(token: str) -> str:
    return token.partition(".")[2]


# --- InviteMember ----------------------------------------------------------------------------------------


async def test_owner_invites_and_only_a_digest_of_the_token_is_stored(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    before = len(world.uow.store.outbox)
    issued = await world.invite(owner(signed), " Bia@Example.com ", "receptionist", "nurse")

    stored = world.uow.store.tables.invitations[issued.invitation.id]
    assert stored.email.value == "bia@example.com"
    assert stored.roles == {Role.RECEPTIONIST, Role.NURSE}
    assert stored.expires_at == T0 + INVITATION_LIFETIME
    assert stored.token_hash == digest(secret_of(issued.token))
    assert secret_of(issued.token) not in repr(world.uow.store.tables.invitations)
    new = world.uow.store.outbox[before:]
    assert [r.topic for r in new] == [MemberInvited.topic]
    assert new[0].payload["email"] == "bia@example.com"
    assert new[0].tenant_id == signed.tenant.id


@pytest.mark.parametrize("role", [Role.MANAGER, Role.RECEPTIONIST, Role.PROFESSIONAL, Role.CLIENT])
async def test_only_member_writers_invite(world: World, role: Role) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    result = await world.invite_member(
        InviteMemberCommand(staff(signed, role), "bia@example.com", frozenset({"receptionist"}))
    )
    assert result == Failure(Forbidden(permission="members:write"))
    assert not world.uow.store.tables.invitations


async def test_an_admin_cannot_grant_owner(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    admin = staff(signed, Role.ADMIN)
    cmd = InviteMemberCommand(admin, "bia@example.com", frozenset({"owner"}))
    assert await world.invite_member(cmd) == Failure(Forbidden(permission="members:grant-owner"))
    cmd = InviteMemberCommand(admin, "bia@example.com", frozenset({"admin", "owner"}))
    assert await world.invite_member(cmd) == Failure(Forbidden(permission="members:grant-owner"))
    assert not world.uow.store.tables.invitations
    # An owner can.
    assert (await world.invite(owner(signed), "bia@example.com", "owner")).invitation.roles == {Role.OWNER}


async def test_a_unit_restricted_inviter_must_restrict_the_invitee_to_their_own_units(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    unit_a = signed.unit.id
    unit_b = (
        await CreateUnit(world.uow, world.clock)(
            CreateUnitCommand(owner(signed), "Unidade B", "America/Sao_Paulo")
        )
    ).unwrap()
    admin = staff(signed, Role.ADMIN, units=frozenset({unit_a}))

    for units in (frozenset(), frozenset({unit_b.id}), frozenset({unit_a, unit_b.id})):
        cmd = InviteMemberCommand(admin, "bia@example.com", frozenset({"receptionist"}), units)
        assert await world.invite_member(cmd) == Failure(Forbidden(permission="members:grant-units"))
    assert not world.uow.store.tables.invitations

    issued = await world.invite(admin, "bia@example.com", units=frozenset({unit_a}))
    assert issued.invitation.unit_ids == {unit_a}


async def test_unknown_unit_ids_are_refused(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    other = await world.sign_up("bia@example.com", "Clínica B")
    for unknown in (UnitId(new_uuid()), other.unit.id):  # another tenant's unit is unknown here too
        cmd = InviteMemberCommand(
            owner(signed), "caio@example.com", frozenset({"nurse"}), frozenset({unknown})
        )
        result = await world.invite_member(cmd)
        assert isinstance(result, Failure)
        error = result.failure()
        assert isinstance(error, InvalidInput)
        assert [(e.field, e.code) for e in error.errors] == [("unit_ids", "unknown_unit")]
    assert not world.uow.store.tables.invitations


async def test_invite_reports_a_bad_email_and_unknown_roles_together(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    result = await world.invite_member(
        InviteMemberCommand(owner(signed), "not-an-email", frozenset({"receptionist", "superuser"}))
    )
    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    assert {(e.field, e.code) for e in error.errors} == {
        ("email", "invalid_email"),
        ("roles", "unknown_role"),
    }
    no_roles = await world.invite_member(InviteMemberCommand(owner(signed), "bia@example.com", frozenset()))
    assert no_roles == Failure(InvalidInput.of("roles", "required", "give at least one role"))


async def test_inviting_a_member_is_a_conflict_but_a_member_elsewhere_is_welcome(world: World) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    await world.sign_up("bia@example.com", "Clínica B")
    cmd = InviteMemberCommand(owner(a), "ANA@example.com", frozenset({"admin"}))
    assert await world.invite_member(cmd) == Failure(AlreadyMember())
    assert isinstance(
        await world.invite_member(InviteMemberCommand(owner(a), "bia@example.com", cmd.roles)), Success
    )


# --- AcceptInvitation ------------------------------------------------------------------------------------


async def test_a_new_person_joins_with_a_name_and_a_password(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    issued = await world.invite(owner(signed), "bia@example.com", "nurse", units=frozenset({signed.unit.id}))
    before = len(world.uow.store.outbox)

    member = (
        await world.accept(AcceptInvitationCommand(issued.token, password=NEW_PASSWORD, name=" Bia  Lima "))
    ).unwrap()

    assert member.user.email.value == "bia@example.com"
    assert member.user.name.value == "Bia Lima"
    assert member.membership.tenant_id == signed.tenant.id
    assert member.membership.roles == {Role.NURSE}
    assert member.membership.unit_ids == {signed.unit.id}
    new = world.uow.store.outbox[before:]
    assert [(r.topic, r.payload["user_id"]) for r in new] == [
        (MemberJoined.topic, str(member.user.id)),
        (EmailVerificationRequested.topic, str(member.user.id)),
    ]
    # The new account signs in, into that tenant, restricted to that unit.
    tokens = (await world.log_in(LogInCommand("bia@example.com", NEW_PASSWORD))).unwrap()
    actor = world.actor_of(tokens)
    assert (actor.tenant_id, actor.roles, actor.unit_ids) == (
        signed.tenant.id,
        frozenset({Role.NURSE}),
        frozenset({signed.unit.id}),
    )


@pytest.mark.parametrize(
    ("name", "password", "errors"),
    [
        (None, NEW_PASSWORD, {("name", "required")}),
        ("   ", NEW_PASSWORD, {("name", "required")}),
        ("Bia Lima", "short", {("password", "too_short")}),
        ("Bia Lima", "x" * 129, {("password", "too_long")}),
        (None, "short", {("name", "required"), ("password", "too_short")}),
        ("Bia Lima", "bia.lima2026!", {("password", "too_close_to_personal_info")}),  # built on the email
        ("Bianca Lima Souza", "bianca lima souza", {("password", "too_close_to_personal_info")}),  # the name
    ],
)
async def test_a_new_person_must_pass_the_name_and_password_policy(
    world: World, name: str | None, password: str, errors: set[tuple[str, str]]
) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    issued = await world.invite(owner(signed), "bia.lima@example.com")
    users_before = set(world.uow.store.tables.users)

    result = await world.accept(AcceptInvitationCommand(issued.token, password=password, name=name))

    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    assert {(e.field, e.code) for e in error.errors} == errors
    assert set(world.uow.store.tables.users) == users_before
    # Nothing was used up: the same invitation still works with good input.
    retry = await world.accept(AcceptInvitationCommand(issued.token, password=NEW_PASSWORD, name="Bia Lima"))
    assert isinstance(retry, Success)


async def test_an_existing_account_joins_signed_in_without_a_password(world: World) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    b = await world.sign_up("bia@example.com", "Clínica B")
    issued = await world.invite(owner(a), "bia@example.com", "professional")

    member = (await world.accept(AcceptInvitationCommand(issued.token, signed_in_as=b.owner.id))).unwrap()

    assert member.user.id == b.owner.id
    assert (member.membership.tenant_id, member.membership.roles) == (
        a.tenant.id,
        frozenset({Role.PROFESSIONAL}),
    )
    assert (
        member.user.name.value == "Ana Souza"
    )  # the account is theirs: the invitation changes nothing of it
    assert len(world.uow.store.tables.users) == 2
    assert isinstance(await world.log_in(LogInCommand("bia@example.com", PASSWORD)), Success)


@pytest.mark.parametrize("password", [None, PASSWORD, NEW_PASSWORD])
async def test_an_existing_account_must_sign_in_whatever_password_it_sends(
    world: World, password: str | None
) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    await world.sign_up("bia@example.com", "Clínica B")
    issued = await world.invite(owner(a), "bia@example.com", "professional")
    outbox_before = len(world.uow.store.outbox)

    # The right password, a wrong one and none are answered alike: accepting is no password oracle.
    result = await world.accept(AcceptInvitationCommand(issued.token, password=password, name="Bia Lima"))

    assert result == Failure(SignInRequired())
    assert len(world.uow.store.tables.memberships) == 2
    assert len(world.uow.store.tables.users) == 2
    assert world.uow.store.tables.invitations[issued.invitation.id].accepted_at is None
    assert len(world.uow.store.outbox) == outbox_before


async def test_an_invitation_cannot_be_accepted_signed_in_as_another_account(world: World) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    await world.sign_up("bia@example.com", "Clínica B")
    caio = await world.sign_up("caio@example.com", "Clínica C")
    for_bia = await world.invite(owner(a), "bia@example.com")
    for_nobody_yet = await world.invite(owner(a), "duda@example.com")

    as_caio = AcceptInvitationCommand(for_bia.token, signed_in_as=caio.owner.id)
    assert await world.accept(as_caio) == Failure(InvitationForAnotherAccount())
    # An invitation for an email without an account cannot be claimed by a signed-in account either.
    claimed = AcceptInvitationCommand(
        for_nobody_yet.token, signed_in_as=caio.owner.id, password=NEW_PASSWORD, name="Duda Reis"
    )
    assert await world.accept(claimed) == Failure(InvitationForAnotherAccount())

    assert len(world.uow.store.tables.memberships) == 3
    assert not any(u.email.value == "duda@example.com" for u in world.uow.store.tables.users.values())
    assert all(i.accepted_at is None for i in world.uow.store.tables.invitations.values())


class VerifyCountingHasher(FakePasswordHasher):
    def __init__(self) -> None:
        self.verified = 0

    async def verify(self, password: str, password_hash: str) -> bool:
        self.verified += 1
        return await super().verify(password, password_hash)


async def test_accepting_an_invitation_never_checks_a_password() -> None:
    clock = FixedClock(T0)
    hasher = VerifyCountingHasher()
    world = World(InMemoryUnitOfWorkFactory(), clock, hasher, FakeAccessTokenIssuer(clock))
    a = await world.sign_up("ana@example.com", "Clínica A")
    b = await world.sign_up("bia@example.com", "Clínica B")
    for_bia = await world.invite(owner(a), "bia@example.com")
    for_caio = await world.invite(owner(a), "caio@example.com")

    for cmd in (
        AcceptInvitationCommand(for_bia.token, password=PASSWORD),
        AcceptInvitationCommand(for_bia.token, password=NEW_PASSWORD),
        AcceptInvitationCommand(for_bia.token, signed_in_as=a.owner.id, password=PASSWORD),
        AcceptInvitationCommand(for_bia.token, signed_in_as=b.owner.id, password=PASSWORD),
        AcceptInvitationCommand(for_caio.token, password=NEW_PASSWORD, name="Caio Lima"),
    ):
        await world.accept(cmd)

    assert hasher.verified == 0
    assert len(world.uow.store.tables.memberships) == 4  # Bia and Caio joined


async def test_an_invitation_is_single_use(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    issued = await world.invite(owner(signed), "bia@example.com")
    first = await world.accept(AcceptInvitationCommand(issued.token, password=NEW_PASSWORD, name="Bia Lima"))
    assert isinstance(first, Success)
    world.clock.advance(timedelta(minutes=1))
    again = await world.accept(AcceptInvitationCommand(issued.token, password=NEW_PASSWORD, name="Bia Lima"))
    assert again == Failure(InvitationNotUsable())
    assert len(world.uow.store.tables.memberships) == 2


async def test_a_suspended_tenant_admits_no_new_members(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    issued = await world.invite(owner(signed), "bia@example.com")
    await world.suspend(signed.tenant.id)
    result = await world.accept(AcceptInvitationCommand(issued.token, password=NEW_PASSWORD, name="Bia Lima"))
    assert result == Failure(TenantSuspended())
    assert len(world.uow.store.tables.memberships) == 1
    assert len(world.uow.store.tables.users) == 1


async def test_an_invitation_expires_after_seven_days(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    late = await world.invite(owner(signed), "bia@example.com")
    in_time = await world.invite(owner(signed), "caio@example.com")

    world.clock.advance(INVITATION_LIFETIME - timedelta(seconds=1))
    ok = await world.accept(AcceptInvitationCommand(in_time.token, password=NEW_PASSWORD, name="Caio Lima"))
    assert isinstance(ok, Success)
    world.clock.advance(timedelta(seconds=2))
    expired = await world.accept(AcceptInvitationCommand(late.token, password=NEW_PASSWORD, name="Bia Lima"))
    assert expired == Failure(InvitationNotUsable())
    assert not any(u.email.value == "bia@example.com" for u in world.uow.store.tables.users.values())


async def test_a_tampered_token_is_refused(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    issued = await world.invite(owner(signed), "bia@example.com")
    ids, _, secret = issued.token.partition(".")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for token in (
        f"{ids}.{flipped}",
        f"{ids}.",
        ids,
        f"{ids}.{secret}x",
        "",
        "garbage",
        "a.b",
        f"x{ids}.{secret}",
    ):
        result = await world.accept(AcceptInvitationCommand(token, password=NEW_PASSWORD, name="Bia Lima"))
        assert result == Failure(InvitationNotUsable()), token
    assert isinstance(
        await world.accept(AcceptInvitationCommand(issued.token, password=NEW_PASSWORD, name="Bia Lima")),
        Success,
    )


async def test_a_token_of_one_tenant_cannot_be_replayed_against_another(world: World) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    b = await world.sign_up("bia@example.com", "Clínica B")
    for_a = await world.invite(owner(a), "caio@example.com", "admin")
    for_b = await world.invite(owner(b), "caio@example.com", "client")

    forged = [
        # A's invitation id and secret, routed to tenant B.
        invitation_token(b.tenant.id, for_a.invitation.id, secret_of(for_a.token)),
        # B's own invitation, with A's secret.
        invitation_token(b.tenant.id, for_b.invitation.id, secret_of(for_a.token)),
        # A's secret against B's invitation id, routed to A.
        invitation_token(a.tenant.id, for_b.invitation.id, secret_of(for_a.token)),
    ]
    for token in forged:
        result = await world.accept(AcceptInvitationCommand(token, password=NEW_PASSWORD, name="Caio Lima"))
        assert result == Failure(InvitationNotUsable())
    assert len(world.uow.store.tables.memberships) == 2

    joined = (
        await world.accept(AcceptInvitationCommand(for_a.token, password=NEW_PASSWORD, name="Caio Lima"))
    ).unwrap()
    assert (joined.membership.tenant_id, joined.membership.roles) == (a.tenant.id, frozenset({Role.ADMIN}))


async def test_accepting_while_already_a_member_is_a_conflict(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    first = await world.invite(owner(signed), "bia@example.com")
    second = await world.invite(owner(signed), "bia@example.com", "manager")
    bia = (
        await world.accept(AcceptInvitationCommand(first.token, password=NEW_PASSWORD, name="Bia Lima"))
    ).unwrap()
    result = await world.accept(AcceptInvitationCommand(second.token, signed_in_as=bia.user.id))
    assert result == Failure(AlreadyMember())
    assert world.uow.store.tables.invitations[second.invitation.id].accepted_at is None


# --- ListMembers and GetMember ---------------------------------------------------------------------------


async def _join(
    world: World,
    signed: SignedUp,
    email: str,
    name: str,
    *roles: str,
    units: frozenset[UnitId] = frozenset(),
) -> Member:
    issued = await world.invite(owner(signed), email, *roles, units=units)
    return (
        await world.accept(AcceptInvitationCommand(issued.token, password=NEW_PASSWORD, name=name))
    ).unwrap()


async def test_list_members_shows_this_tenant_only(world: World) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    b = await world.sign_up("bia@example.com", "Clínica B")
    caio = await _join(world, a, "caio@example.com", "Caio Lima", "nurse")
    await _join(world, b, "duda@example.com", "Duda Reis", "nurse")

    first = (await ListMembers(world.uow)(owner(a), PageRequest(limit=1))).unwrap()
    rest = (
        await ListMembers(world.uow)(owner(a), PageRequest.parse(first.next_cursor, 10).unwrap())
    ).unwrap()
    listed = first.items + rest.items
    assert [m.user.email.value for m in listed] == ["ana@example.com", "caio@example.com"]
    assert rest.next_cursor is None
    assert listed[1].membership.id == caio.membership.id
    assert listed[1].membership.roles == {Role.NURSE}


async def test_another_tenants_member_is_not_found(world: World) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    b = await world.sign_up("bia@example.com", "Clínica B")
    theirs = b.membership.id
    assert await GetMember(world.uow)(owner(a), theirs) == Failure(NotFound("member", str(theirs)))
    unknown = MembershipId(new_uuid())
    assert await GetMember(world.uow)(owner(a), unknown) == Failure(NotFound("member", str(unknown)))
    mine = (await GetMember(world.uow)(owner(a), a.membership.id)).unwrap()
    assert mine.user.id == a.owner.id


async def test_reading_members_needs_members_read(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    for role in (Role.RECEPTIONIST, Role.CLIENT, Role.PROFESSIONAL):
        actor = staff(signed, role)
        assert await ListMembers(world.uow)(actor, PageRequest()) == Failure(
            Forbidden(permission="members:read")
        )
        result = await GetMember(world.uow)(actor, signed.membership.id)
        assert result == Failure(Forbidden(permission="members:read"))
    assert isinstance(await ListMembers(world.uow)(staff(signed, Role.MANAGER), PageRequest()), Success)


async def test_a_unit_restricted_manager_sees_only_the_members_who_reach_their_units(world: World) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    centre = signed.unit.id
    north = (
        (
            await CreateUnit(world.uow, world.clock)(
                CreateUnitCommand(owner(signed), "Unidade Norte", "America/Manaus")
            )
        )
        .unwrap()
        .id
    )
    manager = await _join(world, signed, "gil@example.com", "Gil Rocha", "manager", units=frozenset({centre}))
    in_centre = await _join(world, signed, "bia@example.com", "Bia Lima", "nurse", units=frozenset({centre}))
    in_both = await _join(
        world, signed, "caio@example.com", "Caio Lima", "nurse", units=frozenset({centre, north})
    )
    in_north = await _join(world, signed, "duda@example.com", "Duda Reis", "nurse", units=frozenset({north}))
    restricted = Actor(manager.user.id, signed.tenant.id, frozenset({Role.MANAGER}), frozenset({centre}))

    listed: list[str] = []
    page = PageRequest(limit=2)
    while True:
        found = (await ListMembers(world.uow)(restricted, page)).unwrap()
        listed += [m.user.email.value for m in found.items]
        if found.next_cursor is None:
            break
        page = PageRequest.parse(found.next_cursor, 2).unwrap()
    # The unrestricted owner, and everyone restricted to a unit shared with the manager.
    assert sorted(listed) == ["ana@example.com", "bia@example.com", "caio@example.com", "gil@example.com"]

    get = GetMember(world.uow)
    assert await get(restricted, in_north.membership.id) == Failure(
        NotFound("member", str(in_north.membership.id))
    )
    for visible in (signed.membership.id, in_centre.membership.id, in_both.membership.id):
        assert isinstance(await get(restricted, visible), Success)
    # The unrestricted owner still sees everyone.
    everyone = (await ListMembers(world.uow)(owner(signed), PageRequest())).unwrap()
    assert len(everyone.items) == 5
    assert isinstance(await get(owner(signed), in_north.membership.id), Success)


# --- two tenants: LogIn, SwitchTenant, GetMe -------------------------------------------------------------


async def _person_in_two_tenants(world: World) -> tuple[SignedUp, SignedUp]:
    """Ana owns A; she is then invited into B (owned by Bia) as a professional."""
    a = await world.sign_up("ana@example.com", "Clínica A")
    world.clock.advance(timedelta(minutes=1))
    b = await world.sign_up("bia@example.com", "Clínica B")
    issued = await world.invite(owner(b), "ana@example.com", "professional")
    (await world.accept(AcceptInvitationCommand(issued.token, signed_in_as=a.owner.id))).unwrap()
    return a, b


async def test_log_in_picks_the_tenant_asked_for(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    default = world.actor_of((await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap())
    assert default.tenant_id == a.tenant.id  # the oldest membership

    chosen = await world.log_in(LogInCommand("ana@example.com", PASSWORD, tenant_slug=b.tenant.slug.value))
    actor = world.actor_of(chosen.unwrap())
    assert (actor.tenant_id, actor.roles) == (b.tenant.id, frozenset({Role.PROFESSIONAL}))


async def test_log_in_into_a_tenant_one_does_not_belong_to(world: World) -> None:
    await world.sign_up("ana@example.com", "Clínica A")
    other = await world.sign_up("bia@example.com", "Clínica B")
    for slug in (other.tenant.slug.value, "nowhere", "Not A Slug"):
        result = await world.log_in(LogInCommand("ana@example.com", PASSWORD, tenant_slug=slug))
        assert result == Failure(NoAccessToTenant())


async def test_log_in_skips_or_refuses_a_suspended_tenant(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    await world.suspend(a.tenant.id)
    default = world.actor_of((await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap())
    assert default.tenant_id == b.tenant.id
    asked = await world.log_in(LogInCommand("ana@example.com", PASSWORD, tenant_slug=a.tenant.slug.value))
    assert asked == Failure(TenantSuspended())


async def test_switch_tenant_moves_the_session_and_spends_its_refresh_token(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    tokens = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    in_a = world.actor_of(tokens)
    assert in_a.tenant_id == a.tenant.id

    switched = (
        await world.switch(SwitchTenantCommand(in_a, tokens.refresh_token, tenant_slug=b.tenant.slug.value))
    ).unwrap()
    in_b = world.actor_of(switched)
    assert (in_b.tenant_id, in_b.roles, in_b.user_id) == (
        b.tenant.id,
        frozenset({Role.PROFESSIONAL}),
        a.owner.id,
    )
    assert in_b.session_id == in_a.session_id

    # The new refresh token keeps the session in B.
    world.clock.advance(timedelta(minutes=5))
    refreshed = (await world.refresh(RefreshCommand(switched.refresh_token))).unwrap()
    assert world.actor_of(refreshed).tenant_id == b.tenant.id
    # The refresh token the switch spent now counts as reused: the session ends.
    assert await world.refresh(RefreshCommand(tokens.refresh_token)) == Failure(RefreshTokenReused())
    assert isinstance(await world.refresh(RefreshCommand(refreshed.refresh_token)), Failure)


async def test_switch_back_by_tenant_id(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    tokens = (
        await world.log_in(LogInCommand("ana@example.com", PASSWORD, tenant_slug=b.tenant.slug.value))
    ).unwrap()
    switched = await world.switch(
        SwitchTenantCommand(world.actor_of(tokens), tokens.refresh_token, tenant_id=a.tenant.id)
    )
    actor = world.actor_of(switched.unwrap())
    assert (actor.tenant_id, actor.roles) == (a.tenant.id, frozenset({Role.OWNER}))


async def test_switch_to_a_tenant_one_does_not_belong_to(world: World) -> None:
    a = await world.sign_up("ana@example.com", "Clínica A")
    other = await world.sign_up("bia@example.com", "Clínica B")
    tokens = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    actor, refresh_token = world.actor_of(tokens), tokens.refresh_token
    for cmd in (
        SwitchTenantCommand(actor, refresh_token, tenant_slug=other.tenant.slug.value),
        SwitchTenantCommand(actor, refresh_token, tenant_id=other.tenant.id),
        SwitchTenantCommand(actor, refresh_token, tenant_slug="nowhere"),
        SwitchTenantCommand(actor, refresh_token),
    ):
        assert await world.switch(cmd) == Failure(NoAccessToTenant())
    # Nothing changed: the session is still in A and its refresh token still works.
    assert world.actor_of((await world.refresh(RefreshCommand(refresh_token))).unwrap()).tenant_id == (
        a.tenant.id
    )


async def test_switch_to_a_suspended_tenant_leaves_the_session_as_it_was(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    tokens = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    await world.suspend(b.tenant.id)
    result = await world.switch(
        SwitchTenantCommand(world.actor_of(tokens), tokens.refresh_token, tenant_id=b.tenant.id)
    )
    assert result == Failure(TenantSuspended())
    refreshed = (await world.refresh(RefreshCommand(tokens.refresh_token))).unwrap()
    assert world.actor_of(refreshed).tenant_id == a.tenant.id


async def test_switch_to_the_current_tenant_is_a_conflict_and_spends_nothing(world: World) -> None:
    a, _ = await _person_in_two_tenants(world)
    tokens = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    actor = world.actor_of(tokens)
    for cmd in (
        SwitchTenantCommand(actor, tokens.refresh_token, tenant_id=a.tenant.id),
        SwitchTenantCommand(actor, tokens.refresh_token, tenant_slug=a.tenant.slug.value),
    ):
        assert await world.switch(cmd) == Failure(AlreadyInTenant())
    assert isinstance(await world.refresh(RefreshCommand(tokens.refresh_token)), Success)


async def test_switch_with_a_spent_refresh_token_revokes_the_session(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    tokens = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    rotated = (await world.refresh(RefreshCommand(tokens.refresh_token))).unwrap()

    # An access token and a copied, already rotated refresh token: a replay, as on refresh.
    actor = world.actor_of(tokens)
    result = await world.switch(SwitchTenantCommand(actor, tokens.refresh_token, tenant_id=b.tenant.id))

    assert result == Failure(RefreshTokenReused())
    session = world.session_of(tokens)
    assert session.revoked_reason == RevocationReason.REFRESH_TOKEN_REUSED
    assert session.tenant_id == a.tenant.id
    assert await world.refresh(RefreshCommand(rotated.refresh_token)) == Failure(InvalidRefreshToken())


async def test_switch_with_another_sessions_refresh_token_changes_nothing(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    laptop = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    phone = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    bia = (await world.log_in(LogInCommand("bia@example.com", PASSWORD))).unwrap()
    on_laptop = world.actor_of(laptop)

    for someone_elses in (phone.refresh_token, bia.refresh_token):
        cmd = SwitchTenantCommand(on_laptop, someone_elses, tenant_id=b.tenant.id)
        assert await world.switch(cmd) == Failure(InvalidRefreshToken())

    assert world.session_of(laptop).tenant_id == world.session_of(phone).tenant_id == a.tenant.id
    assert all(s.revoked_at is None for s in world.uow.store.tables.sessions.values())
    # No refresh token was spent: each still refreshes its own session.
    for pair in (laptop, phone, bia):
        assert isinstance(await world.refresh(RefreshCommand(pair.refresh_token)), Success)


async def test_switch_needs_the_actors_own_live_session(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    ana_tokens = (await world.log_in(LogInCommand("ana@example.com", PASSWORD))).unwrap()
    ana = world.actor_of(ana_tokens)
    bia_tokens = (await world.log_in(LogInCommand("bia@example.com", PASSWORD))).unwrap()
    bias_session = world.actor_of(bia_tokens).session_id
    for session_id in (bias_session, SessionId(new_uuid()), None):
        forged = Actor(ana.user_id, ana.tenant_id, ana.roles, ana.unit_ids, session_id)
        result = await world.switch(
            SwitchTenantCommand(forged, ana_tokens.refresh_token, tenant_id=b.tenant.id)
        )
        assert result == Failure(InvalidRefreshToken())
    # Neither session moved, and Ana's refresh token was not spent by the refused attempts.
    assert world.session_of(bia_tokens).tenant_id == b.tenant.id
    assert world.session_of(ana_tokens).tenant_id == a.tenant.id
    ana_tokens = (await world.refresh(RefreshCommand(ana_tokens.refresh_token))).unwrap()

    # A session that was logged out cannot be switched either.
    await LogOut(world.uow, world.clock)(RefreshCommand(ana_tokens.refresh_token))
    result = await world.switch(
        SwitchTenantCommand(world.actor_of(ana_tokens), ana_tokens.refresh_token, tenant_id=b.tenant.id)
    )
    assert result == Failure(InvalidRefreshToken())


async def test_get_me_lists_every_tenant_of_the_person(world: World) -> None:
    a, b = await _person_in_two_tenants(world)
    tokens = (
        await world.log_in(LogInCommand("ana@example.com", PASSWORD, tenant_slug=b.tenant.slug.value))
    ).unwrap()
    me = (await GetMe(world.uow)(world.actor_of(tokens))).unwrap()
    assert me.user.id == a.owner.id
    assert me.tenant.id == b.tenant.id
    assert me.membership.roles == {Role.PROFESSIONAL}
    assert [(t.id, m.roles) for t, m in me.memberships] == [
        (a.tenant.id, frozenset({Role.OWNER})),
        (b.tenant.id, frozenset({Role.PROFESSIONAL})),
    ]
    # Someone else's view lists only their own tenant.
    bia = (await world.log_in(LogInCommand("bia@example.com", PASSWORD))).unwrap()
    assert [t.id for t, _ in (await GetMe(world.uow)(world.actor_of(bia))).unwrap().memberships] == [
        b.tenant.id
    ]


# --- passwords are compared in the form they were stored in ----------------------------------------------

# The same password as typed on two keyboards: precomposed "é" (NFC) and "e" + combining acute (NFD).
COMPOSED = "café com leite às três"
DECOMPOSED = "cafe\u0301 com leite a\u0300s tre\u0302s"


@pytest.mark.parametrize("signed_up_with", [COMPOSED, DECOMPOSED])
@pytest.mark.parametrize("logs_in_with", [COMPOSED, DECOMPOSED])
async def test_a_password_with_accents_works_however_it_was_typed(
    world: World, signed_up_with: str, logs_in_with: str
) -> None:
    cmd = SignUpCommand(
        "Clínica A", "Centro", "America/Sao_Paulo", "Ana Souza", "ana@example.com", signed_up_with
    )
    assert isinstance(await SignUp(world.uow, world.hasher, world.clock)(cmd), Success)
    assert isinstance(await world.log_in(LogInCommand("ana@example.com", logs_in_with)), Success)


async def test_an_account_made_from_an_invitation_takes_its_accented_password_however_typed(
    world: World,
) -> None:
    signed = await world.sign_up("ana@example.com", "Clínica A")
    issued = await world.invite(owner(signed), "bia@example.com")
    accepted = await world.accept(AcceptInvitationCommand(issued.token, password=DECOMPOSED, name="Bia Lima"))
    assert isinstance(accepted, Success)
    assert isinstance(await world.log_in(LogInCommand("bia@example.com", COMPOSED)), Success)
