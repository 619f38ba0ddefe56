"""Signing in and out, refreshing, and switching the active tenant of a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from returns.result import Failure, Result, Success

from clinic_core.access.roles import effective_permissions
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.account_security import EmailNotVerified
from clinic_core.identity.issuing import fingerprint_hash, issue_tokens
from clinic_core.identity.model import (
    DEFAULT_SESSION_POLICY,
    AuthSession,
    DeviceMismatch,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    RevocationReason,
    SessionPolicy,
    TokenPair,
    User,
)
from clinic_core.identity.passwords import normalise_password
from clinic_core.identity.ports import AccessTokenIssuer, PasswordHasher
from clinic_core.identity.signing_in import (
    SignInOutcome,
    issue_challenge,
    second_factor_needed,
    start_session,
)
from clinic_core.identity.throttling import (
    DEFAULT_THROTTLE_POLICY,
    SignInThrottle,
    SignInThrottled,
    SignInThrottlePolicy,
)
from clinic_core.identity.verification import may_sign_in, withheld_permissions
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Conflict
from clinic_core.shared.ids import TenantId, UnitId
from clinic_core.shared.tokens import digest
from clinic_core.shared.values import Slug
from clinic_core.tenancy.model import Membership, NoAccessToTenant, Plan, Tenant, TenantSuspended
from clinic_core.tenancy.permissions import Permission, Role


def _choose(
    memberships: list[tuple[Tenant, Membership]], tenant_slug: str | None, tenant_id: TenantId | None
) -> Result[tuple[Tenant, Membership], NoAccessToTenant | TenantSuspended]:
    """The membership asked for, or else the user's first active one (memberships come oldest first)."""
    if tenant_slug is None and tenant_id is None:
        active = [pair for pair in memberships if pair[0].is_active]
        if active:
            return Success(active[0])
        return Failure(TenantSuspended() if memberships else NoAccessToTenant())
    for tenant, membership in memberships:
        if tenant.slug.value == tenant_slug or tenant.id == tenant_id:
            return Success((tenant, membership)) if tenant.is_active else Failure(TenantSuspended())
    return Failure(NoAccessToTenant())


choose_membership = _choose
"""The same choice for the second step of a sign-in (``identity.mfa_sign_in``)."""


@dataclass(frozen=True, slots=True)
class LogInCommand:
    email: str
    password: str
    tenant_slug: str | None = None
    device_label: str | None = None
    """What the user calls this device; shown in their list of sessions."""
    device_fingerprint: str | None = None
    """An opaque value the client keeps per device (a random id in its storage); the session is bound to
    its hash, and every refresh must present it again."""
    context: RequestContext = NO_CONTEXT


class LogIn:
    """Password sign-in. Opens a new session in the chosen tenant (or the user's first active one).

    Two steps: ``_authenticate`` decides whether the password proves the account, ``_sign_in`` opens the
    session for a proven user, or answers with a challenge when a second factor must follow
    (``identity.mfa_sign_in`` completes it). Guessing is slowed down by ``throttle_policy`` (see
    ``throttling``).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        issuer: AccessTokenIssuer,
        clock: Clock,
        *,
        sessions: SessionPolicy = DEFAULT_SESSION_POLICY,
        throttle_policy: SignInThrottlePolicy = DEFAULT_THROTTLE_POLICY,
    ) -> None:
        self._uow, self._hasher, self._issuer, self._clock = uow, hasher, issuer, clock
        self._sessions = sessions
        self._throttle = SignInThrottle(uow, clock, throttle_policy)

    async def __call__(
        self, cmd: LogInCommand
    ) -> Result[
        SignInOutcome,
        InvalidCredentials | SignInThrottled | NoAccessToTenant | TenantSuspended | EmailNotVerified,
    ]:
        authenticated = await self._authenticate(cmd)
        if isinstance(authenticated, Failure):
            return authenticated
        return await self._sign_in(authenticated.unwrap(), cmd)

    async def _authenticate(self, cmd: LogInCommand) -> Result[User, InvalidCredentials | SignInThrottled]:
        admitted = await self._throttle.admit(cmd.email, cmd.device_fingerprint, cmd.context)
        if isinstance(admitted, Failure):
            return admitted
        attempt = admitted.unwrap()
        if attempt.user is None:
            await self._hasher.burn(cmd.password)  # the same time as a wrong password: no account oracle
            return Failure(InvalidCredentials())
        if not await self._hasher.verify(normalise_password(cmd.password), attempt.user.password_hash):
            await self._throttle.failed(attempt, cmd.context)
            return Failure(InvalidCredentials())
        await self._throttle.succeeded(attempt)
        return Success(attempt.user)

    async def _sign_in(
        self, user: User, cmd: LogInCommand
    ) -> Result[SignInOutcome, NoAccessToTenant | TenantSuspended | EmailNotVerified]:
        """Tokens, or a challenge when the account has a second factor or the clinic requires one."""
        slug = Slug.parse(cmd.tenant_slug).value_or(None) if cmd.tenant_slug else None
        if cmd.tenant_slug and slug is None:
            return Failure(NoAccessToTenant())
        now = self._clock.now()
        device = {
            "device_label": cmd.device_label,
            "fingerprint_hash": fingerprint_hash(cmd.device_fingerprint),
        }
        async with self._uow(Scope(user_id=user.id)) as uow:
            chosen = _choose(await uow.directory.memberships_of(user.id), slug.value if slug else None, None)
            if isinstance(chosen, Failure):
                return chosen
            tenant, membership = chosen.unwrap()
            if not may_sign_in(user, tenant):
                return Failure(EmailNotVerified())
            purpose = second_factor_needed(user, tenant, membership)
            outcome: SignInOutcome
            if purpose is not None:
                outcome = await issue_challenge(uow, membership, purpose, now, context=cmd.context, **device)
            else:
                outcome = await start_session(
                    uow,
                    self._issuer,
                    tenant,
                    membership,
                    now,
                    policy=self._sessions,
                    context=cmd.context,
                    **device,
                )
            await uow.commit()
        return Success(outcome)


@dataclass(frozen=True, slots=True)
class RefreshCommand:
    refresh_token: str
    device_fingerprint: str | None = None
    """The value the client sent when it signed in, if it sent one then: the session is bound to it."""
    context: RequestContext = NO_CONTEXT


async def _redeem(
    uow: UnitOfWork, refresh_token: str, now: datetime, fingerprint: str | None, context: RequestContext
) -> Result[AuthSession, InvalidRefreshToken | RefreshTokenReused | DeviceMismatch]:
    """Spend a refresh token: the session it belongs to, if the token was live and came from its device.

    Presenting a token that was already spent is theft or a replay, and presenting it from another device
    than the one that signed in is theft: either way the whole session is revoked, and the revocation is
    committed even though the caller fails. The spend itself is a compare-and-set, so of two requests
    racing with one token, one wins and the other counts as a replay.
    """
    token = await uow.refresh_tokens.get_by_hash(digest(refresh_token))
    session = await uow.sessions.get(token.session_id) if token else None
    if token is None or session is None or not session.is_active(now):
        return Failure(InvalidRefreshToken())
    if session.fingerprint_hash is not None and fingerprint_hash(fingerprint) != session.fingerprint_hash:
        await _revoke_for_theft(uow, session, now, RevocationReason.DEVICE_MISMATCH, context)
        return Failure(DeviceMismatch())
    if token.rotated_at is not None or not await uow.refresh_tokens.mark_rotated(token.id, now):
        await _revoke_for_theft(uow, session, now, RevocationReason.REFRESH_TOKEN_REUSED, context)
        return Failure(RefreshTokenReused())
    if token.expires_at <= now:
        return Failure(InvalidRefreshToken())
    return Success(session)


async def _revoke_for_theft(
    uow: UnitOfWork, session: AuthSession, now: datetime, reason: RevocationReason, context: RequestContext
) -> None:
    session.revoke(now, reason)
    await uow.sessions.save(session)
    await uow.bind(Scope(tenant_id=session.tenant_id))
    action = (
        AuditAction.DEVICE_MISMATCH
        if reason is RevocationReason.DEVICE_MISMATCH
        else AuditAction.REFRESH_TOKEN_REUSED
    )
    await uow.audit.add(
        AuditEvent.record(
            action,
            tenant_id=session.tenant_id,
            at=now,
            context=context,
            target=AuditTarget("session", str(session.id)),
            user_id=str(session.user_id),
        )
    )
    await uow.commit()


class RefreshSession:
    """Rotate a refresh token: a new pair for the same session, with the membership's current roles."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        issuer: AccessTokenIssuer,
        clock: Clock,
        *,
        sessions: SessionPolicy = DEFAULT_SESSION_POLICY,
    ) -> None:
        self._uow, self._issuer, self._clock, self._sessions = uow, issuer, clock, sessions

    async def __call__(
        self, cmd: RefreshCommand
    ) -> Result[
        TokenPair,
        InvalidRefreshToken | RefreshTokenReused | DeviceMismatch | TenantSuspended | EmailNotVerified,
    ]:
        now = self._clock.now()
        async with self._uow(Scope()) as uow:
            redeemed = await _redeem(uow, cmd.refresh_token, now, cmd.device_fingerprint, cmd.context)
            if isinstance(redeemed, Failure):
                return redeemed
            session = redeemed.unwrap()
            await uow.bind(Scope(tenant_id=session.tenant_id, user_id=session.user_id))
            tenant = await uow.tenants.get(session.tenant_id)
            membership = await uow.memberships.get_for_user(session.user_id)
            if tenant is None or membership is None:
                session.revoke(now, RevocationReason.MEMBERSHIP_ENDED)
                await uow.sessions.save(session)
                await uow.commit()
                return Failure(InvalidRefreshToken())
            if not tenant.is_active:
                return Failure(TenantSuspended())
            user = await uow.users.get(session.user_id)
            if user is None or not may_sign_in(user, tenant):
                return Failure(EmailNotVerified())  # the token is not spent: verifying lets it work again
            session.touch(now, self._sessions)
            await uow.sessions.save(session)
            tokens = await issue_tokens(uow, self._issuer, session, membership, now)
            await uow.commit()
        return Success(tokens)


class LogOut:
    """End the session the refresh token belongs to. Unknown tokens succeed too: logout is idempotent."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: RefreshCommand) -> Result[None, InvalidRefreshToken]:
        now = self._clock.now()
        async with self._uow(Scope()) as uow:
            token = await uow.refresh_tokens.get_by_hash(digest(cmd.refresh_token))
            session = await uow.sessions.get(token.session_id) if token else None
            if session is not None and session.revoked_at is None:
                session.revoke(now, RevocationReason.LOGOUT)
                await uow.sessions.save(session)
                await uow.commit()
        return Success(None)


@dataclass(frozen=True, slots=True)
class SwitchTenantCommand:
    actor: Actor
    refresh_token: str
    """The session's live refresh token: an access token alone must not be enough to extend a session."""
    tenant_slug: str | None = None
    tenant_id: TenantId | None = None
    device_fingerprint: str | None = None
    context: RequestContext = NO_CONTEXT


class AlreadyInTenant(Conflict):
    code = "already_in_tenant"

    @property
    def detail(self) -> str:
        return "the session is already in that clinic"


class SwitchTenant:
    """Move the caller's session to another of their tenants: a refresh that changes the tenant.

    It spends the presented refresh token like a refresh does (a spent one revokes the session) and
    issues a pair for the new tenant; access tokens of the old tenant stop being accepted.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        issuer: AccessTokenIssuer,
        clock: Clock,
        *,
        sessions: SessionPolicy = DEFAULT_SESSION_POLICY,
    ) -> None:
        self._uow, self._issuer, self._clock, self._sessions = uow, issuer, clock, sessions

    async def __call__(
        self, cmd: SwitchTenantCommand
    ) -> Result[
        TokenPair,
        NoAccessToTenant
        | TenantSuspended
        | InvalidRefreshToken
        | RefreshTokenReused
        | DeviceMismatch
        | AlreadyInTenant
        | EmailNotVerified,
    ]:
        if cmd.tenant_slug is None and cmd.tenant_id is None:
            return Failure(NoAccessToTenant())
        now = self._clock.now()
        user_id = cmd.actor.user_id
        async with self._uow(Scope(user_id=user_id)) as uow:
            chosen = _choose(await uow.directory.memberships_of(user_id), cmd.tenant_slug, cmd.tenant_id)
            if isinstance(chosen, Failure):
                return chosen
            tenant, membership = chosen.unwrap()
            if tenant.id == cmd.actor.tenant_id:
                return Failure(AlreadyInTenant())
            user = await uow.users.get(user_id)
            if user is None or not may_sign_in(user, tenant):
                return Failure(EmailNotVerified())
            redeemed = await _redeem(uow, cmd.refresh_token, now, cmd.device_fingerprint, cmd.context)
            if isinstance(redeemed, Failure):
                return redeemed
            session = redeemed.unwrap()
            if session.id != cmd.actor.session_id or session.user_id != user_id:
                return Failure(InvalidRefreshToken())  # another session's token: roll its spend back
            await uow.bind(Scope(tenant_id=tenant.id, user_id=user_id))
            session.tenant_id = tenant.id
            session.touch(now, self._sessions)
            await uow.sessions.save(session)
            tokens = await issue_tokens(uow, self._issuer, session, membership, now)
            await uow.commit()
        return Success(tokens)


@dataclass(frozen=True, slots=True)
class SessionStanding:
    """What an access token's claims are checked against on each request."""

    active: bool
    roles: frozenset[Role] = frozenset()
    unit_ids: frozenset[UnitId] = frozenset()
    permissions: frozenset[Permission] = frozenset()
    """What the member may do now: their built-in roles' permissions and their custom roles'."""
    email_verified: bool = False
    withheld: frozenset[Permission] = frozenset()
    """Permissions the tenant withholds until the user's email is verified (out of ``permissions``)."""
    plan: Plan | None = None
    """The tenant's plan, which sets its share of the API's request budget."""


class CheckSession:
    """Is the session behind an access token still good for this tenant, and with which roles?

    Access tokens are self-contained for 15 minutes; this is what makes logout, a replayed refresh token,
    a tenant switch, a suspended tenant or a removed membership take effect before they expire. The
    standing carries the member's effective permissions, custom roles included (tokens name built-in
    roles only), so a role edited or taken away applies to sessions already open. Hosts cache the answer
    briefly.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor) -> SessionStanding:
        if actor.session_id is None:
            return SessionStanding(active=False)
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            session = await uow.sessions.get(actor.session_id)
            tenant = await uow.tenants.get(actor.tenant_id)
            membership = await uow.memberships.get_for_user(actor.user_id)
            user = await uow.users.get(actor.user_id)
            granted = await effective_permissions(uow, membership) if membership else frozenset()
        good = (
            session is not None
            and session.is_active(self._clock.now())
            and session.user_id == actor.user_id
            and session.tenant_id == actor.tenant_id
            and tenant is not None
            and tenant.is_active
            and membership is not None
            and user is not None
            and may_sign_in(user, tenant)
        )
        if not good or membership is None or user is None or tenant is None:
            return SessionStanding(active=False)
        return SessionStanding(
            active=True,
            roles=membership.roles,
            unit_ids=membership.unit_ids,
            permissions=granted,
            email_verified=user.email_verified,
            withheld=withheld_permissions(user, tenant),
            plan=tenant.plan,
        )
