"""Members of a tenant and how people join one: invitations with a single-use, expiring token."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.access.model import PermissionEscalation
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.account_mail import mail_token
from clinic_core.identity.account_security import TokenPurpose
from clinic_core.identity.model import User
from clinic_core.identity.passwords import check_password
from clinic_core.identity.ports import PasswordHasher
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    collect_invalid,
)
from clinic_core.shared.ids import InvitationId, MembershipId, TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.tokens import digest, matches, new_secret
from clinic_core.shared.values import Email, PersonName
from clinic_core.tenancy.model import (
    INVITATION_LIFETIME,
    Invitation,
    InvitationNotUsable,
    MemberInvited,
    MemberJoined,
    Membership,
    TenantSuspended,
)
from clinic_core.tenancy.permissions import Permission, Role, permissions_of


@dataclass(frozen=True, slots=True)
class Member:
    membership: Membership
    user: User


class AlreadyMember(Conflict):
    code = "already_member"

    @property
    def detail(self) -> str:
        return "this person is already a member of the clinic"


def _works_with(actor: Actor, membership: Membership) -> bool:
    """Staff restricted to some units see the members who reach those units, and nobody else."""
    return not actor.unit_ids or membership.all_units or bool(membership.unit_ids & actor.unit_ids)


class ListMembers:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, page: PageRequest) -> Result[Page[Member], Forbidden]:
        allowed = actor.authorize(Permission.MEMBERS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            memberships = await uow.memberships.list(page, sharing=actor.unit_filter)
            users = await uow.users.get_many({m.user_id for m in memberships.items})
        return Success(Page([Member(m, users[m.user_id]) for m in memberships.items], memberships.next_after))


class GetMember:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, membership_id: MembershipId
    ) -> Result[Member, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.MEMBERS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            membership = await uow.memberships.get(membership_id)
            user = await uow.users.get(membership.user_id) if membership else None
        if membership is None or user is None or not _works_with(actor, membership):
            return Failure(NotFound("member", str(membership_id)))
        return Success(Member(membership, user))


@dataclass(frozen=True, slots=True)
class InviteMemberCommand:
    actor: Actor
    email: str
    roles: frozenset[str]
    unit_ids: frozenset[UnitId] = frozenset()
    context: RequestContext = NO_CONTEXT


@dataclass(frozen=True, slots=True)
class InvitationIssued:
    invitation: Invitation
    token: str
    """Shown once; only its digest is stored."""


def invitation_token(tenant_id: TenantId, invitation_id: InvitationId, secret: str) -> str:
    """``<tenant+invitation ids, base64url>.<secret>``: the ids route the lookup, the secret proves it."""
    ids = base64.urlsafe_b64encode(tenant_id.bytes + invitation_id.bytes).decode().rstrip("=")
    return f"{ids}.{secret}"


def _parse_invitation_token(token: str) -> tuple[TenantId, InvitationId, str] | None:
    ids, _, secret = token.partition(".")
    try:
        raw = base64.urlsafe_b64decode(ids + "=" * (-len(ids) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 32 or not secret:
        return None
    return TenantId(UUID(bytes=raw[:16])), InvitationId(UUID(bytes=raw[16:])), secret


def _roles(raw: frozenset[str]) -> Result[frozenset[Role], InvalidInput]:
    known = {r.value for r in Role}
    unknown = sorted(r for r in raw if r not in known)
    if not raw:
        return Failure(InvalidInput.of("roles", "required", "give at least one role"))
    if unknown:
        return Failure(InvalidInput.of("roles", "unknown_role", f"unknown roles: {', '.join(unknown)}"))
    return Success(frozenset(Role(r) for r in raw))


class InviteMember:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: InviteMemberCommand
    ) -> Result[InvitationIssued, Forbidden | InvalidInput | AlreadyMember]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.MEMBERS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        email, roles = Email.parse(cmd.email), _roles(cmd.roles)
        invalid = collect_invalid(email, roles)
        if invalid is not None:
            return Failure(invalid)
        if Role.OWNER in roles.unwrap() and Role.OWNER not in actor.roles:
            return Failure(Forbidden(permission="members:grant-owner"))
        beyond = permissions_of(roles.unwrap()) - actor.grantable
        if beyond:  # a custom role may manage members without holding every permission of every role
            return Failure(PermissionEscalation(permission=", ".join(sorted(beyond))))
        if actor.unit_ids and not (cmd.unit_ids and cmd.unit_ids <= actor.unit_ids):
            return Failure(Forbidden(permission="members:grant-units"))

        now = self._clock.now()
        secret = new_secret()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            missing = cmd.unit_ids - await uow.units.existing(cmd.unit_ids)
            if missing:
                return Failure(
                    InvalidInput.of(
                        "unit_ids", "unknown_unit", f"no such units: {', '.join(sorted(map(str, missing)))}"
                    )
                )
            invitee = await uow.users.get_by_email(email.unwrap())
            if invitee is not None and await uow.memberships.get_for_user(invitee.id) is not None:
                return Failure(AlreadyMember())
            invitation = Invitation(
                tenant_id=actor.tenant_id,
                id=InvitationId(new_uuid()),
                email=email.unwrap(),
                roles=roles.unwrap(),
                unit_ids=cmd.unit_ids,
                token_hash=digest(secret),
                invited_by=actor.user_id,
                created_at=now,
                expires_at=now + INVITATION_LIFETIME,
            )
            token = invitation_token(actor.tenant_id, invitation.id, secret)
            invitation.events.append(
                MemberInvited(
                    tenant_id=actor.tenant_id,
                    occurred_at=now,
                    invitation_id=invitation.id,
                    email=invitation.email.value,
                    invited_by=actor.user_id,
                    expires_at=invitation.expires_at,
                    token=token,
                )
            )
            await uow.invitations.add(invitation)
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.MEMBER_INVITED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    actor_user_id=actor.user_id,
                    target=AuditTarget("invitation", str(invitation.id)),
                    roles=",".join(sorted(role.value for role in invitation.roles)),
                )
            )
            await uow.commit()
        return Success(InvitationIssued(invitation, token))


@dataclass(frozen=True, slots=True)
class AcceptInvitationCommand:
    token: str
    signed_in_as: UserId | None = None
    """The verified user making the request, if signed in. Required when the invited email has an account."""
    password: str | None = None
    """For a new account: its password. Never checked against an existing account's (no password oracle)."""
    name: str | None = None
    """For a new account: the person's name."""
    context: RequestContext = NO_CONTEXT


class SignInRequired(Unauthenticated):
    code = "sign_in_required"

    @property
    def detail(self) -> str:
        return "this invitation is for an existing account: sign in as it and accept again"


class InvitationForAnotherAccount(Forbidden):
    code = "invitation_for_another_account"

    @property
    def detail(self) -> str:
        return "this invitation was sent to another email address than the signed-in account's"


class AcceptInvitation:
    """Join the inviting tenant.

    A person without an account creates it here (name and password). A person who has one must be signed
    in as it: this endpoint never checks a password, so it cannot be used to guess one, and nobody can
    attach someone else's account to their clinic.
    """

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(
        self, cmd: AcceptInvitationCommand
    ) -> Result[
        Member,
        InvitationNotUsable
        | InvalidInput
        | SignInRequired
        | InvitationForAnotherAccount
        | AlreadyMember
        | TenantSuspended,
    ]:
        parsed = _parse_invitation_token(cmd.token)
        if parsed is None:
            return Failure(InvitationNotUsable())
        tenant_id, invitation_id, secret = parsed
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=tenant_id)) as uow:
            invitation = await uow.invitations.get(invitation_id)
            if (
                invitation is None
                or not matches(secret, invitation.token_hash)
                or not invitation.is_usable(now)
            ):
                return Failure(InvitationNotUsable())
            tenant = await uow.tenants.get(tenant_id)
            if tenant is None or not tenant.is_active:
                return Failure(TenantSuspended())
            user = await uow.users.get_by_email(invitation.email)
            new_account = user is None
            if user is not None and cmd.signed_in_as is None:
                return Failure(SignInRequired())
            if cmd.signed_in_as is not None and (user is None or user.id != cmd.signed_in_as):
                return Failure(InvitationForAnotherAccount())
            if user is None:
                created = await self._new_user(invitation.email, cmd, tenant.name)
                if isinstance(created, Failure):
                    return created
                user = created.unwrap()
                try:
                    await uow.users.add(user)
                except UniqueViolation:  # the same invitation, accepted twice at once: the other one won
                    return Failure(InvitationNotUsable())
            await uow.bind(Scope(tenant_id=tenant_id, user_id=user.id))
            if await uow.memberships.get_for_user(user.id) is not None:
                return Failure(AlreadyMember())
            invitation.accept(now)
            membership = Membership(
                tenant_id=tenant_id,
                id=MembershipId(new_uuid()),
                user_id=user.id,
                roles=invitation.roles,
                unit_ids=invitation.unit_ids,
                created_at=now,
            )
            membership.events.append(
                MemberJoined(
                    tenant_id=tenant_id, occurred_at=now, membership_id=membership.id, user_id=user.id
                )
            )
            try:
                await uow.invitations.save(invitation)
                await uow.memberships.add(membership)
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.MEMBER_JOINED,
                        tenant_id=tenant_id,
                        at=now,
                        context=cmd.context,
                        actor_user_id=user.id,
                        target=AuditTarget("membership", str(membership.id)),
                        invitation_id=str(invitation.id),
                    )
                )
                if new_account:
                    # The invitation's token was shown to the inviter too, so accepting it proves nothing
                    # about the mailbox: the new account verifies its address like any other.
                    await mail_token(uow, user, tenant, TokenPurpose.VERIFY_EMAIL, now)
                await uow.commit()
            except UniqueViolation:
                return Failure(AlreadyMember())  # accepted twice at once: the first one won
        return Success(Member(membership, user))

    async def _new_user(
        self, email: Email, cmd: AcceptInvitationCommand, clinic: str
    ) -> Result[User, InvalidInput]:
        name = PersonName.parse(cmd.name or "")
        password = check_password(cmd.password or "", context=(email.value, cmd.name or "", clinic))
        invalid = collect_invalid(name, password)
        if invalid is not None:
            return Failure(invalid)
        return Success(
            User(
                id=UserId(new_uuid()),
                email=email,
                name=name.unwrap(),
                password_hash=await self._hasher.hash(password.unwrap()),
                created_at=self._clock.now(),
            )
        )
