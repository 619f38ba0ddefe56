"""Signing in and out, refreshing, and switching the active tenant of a session."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.identity.issuing import issue_tokens, open_session
from clinic_core.identity.model import (
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    RevocationReason,
    TokenPair,
)
from clinic_core.identity.passwords import normalise_password
from clinic_core.identity.ports import AccessTokenIssuer, PasswordHasher
from clinic_core.shared.clock import Clock
from clinic_core.shared.ids import TenantId
from clinic_core.shared.tokens import digest
from clinic_core.shared.values import Email, Slug
from clinic_core.tenancy.model import Membership, NoAccessToTenant, Tenant, TenantSuspended


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


@dataclass(frozen=True, slots=True)
class LogInCommand:
    email: str
    password: str
    tenant_slug: str | None = None
    user_agent: str | None = None
    ip: str | None = None


class LogIn:
    """Password sign-in. Opens a new session in the chosen tenant (or the user's first active one)."""

    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, issuer: AccessTokenIssuer, clock: Clock
    ) -> None:
        self._uow, self._hasher, self._issuer, self._clock = uow, hasher, issuer, clock

    async def __call__(
        self, cmd: LogInCommand
    ) -> Result[TokenPair, InvalidCredentials | NoAccessToTenant | TenantSuspended]:
        email = Email.parse(cmd.email)
        user = None
        if isinstance(email, Success):
            async with self._uow(Scope()) as uow:
                user = await uow.users.get_by_email(email.unwrap())
        if user is None:
            await self._hasher.burn(cmd.password)  # the same time as a wrong password: no account oracle
            return Failure(InvalidCredentials())
        if not await self._hasher.verify(normalise_password(cmd.password), user.password_hash):
            return Failure(InvalidCredentials())

        slug = Slug.parse(cmd.tenant_slug).value_or(None) if cmd.tenant_slug else None
        if cmd.tenant_slug and slug is None:
            return Failure(NoAccessToTenant())
        now = self._clock.now()
        async with self._uow(Scope(user_id=user.id)) as uow:
            chosen = _choose(await uow.directory.memberships_of(user.id), slug.value if slug else None, None)
            if isinstance(chosen, Failure):
                return chosen
            tenant, membership = chosen.unwrap()
            await uow.bind(Scope(tenant_id=tenant.id, user_id=user.id))
            session = open_session(membership, now, cmd.user_agent, cmd.ip)
            await uow.sessions.add(session)
            tokens = await issue_tokens(uow, self._issuer, session, membership, now)
            await uow.commit()
        return Success(tokens)


@dataclass(frozen=True, slots=True)
class RefreshCommand:
    refresh_token: str


class RefreshSession:
    """Rotate a refresh token. Presenting a rotated one is theft or a replay: its session is revoked."""

    def __init__(self, uow: UnitOfWorkFactory, issuer: AccessTokenIssuer, clock: Clock) -> None:
        self._uow, self._issuer, self._clock = uow, issuer, clock

    async def __call__(
        self, cmd: RefreshCommand
    ) -> Result[TokenPair, InvalidRefreshToken | RefreshTokenReused | TenantSuspended]:
        now = self._clock.now()
        async with self._uow(Scope()) as uow:
            token = await uow.refresh_tokens.get_by_hash(digest(cmd.refresh_token))
            session = await uow.sessions.get(token.session_id) if token else None
            if token is None or session is None or not session.is_active(now):
                return Failure(InvalidRefreshToken())
            if token.rotated_at is not None or not await uow.refresh_tokens.mark_rotated(token.id, now):
                session.revoke(now, RevocationReason.REFRESH_TOKEN_REUSED)
                await uow.sessions.save(session)
                await uow.commit()
                return Failure(RefreshTokenReused())
            if token.expires_at <= now:
                return Failure(InvalidRefreshToken())

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
            session.last_used_at = now
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
    tenant_slug: str | None = None
    tenant_id: TenantId | None = None


class SwitchTenant:
    """Move the caller's session to another tenant they belong to; the old refresh token stops working."""

    def __init__(self, uow: UnitOfWorkFactory, issuer: AccessTokenIssuer, clock: Clock) -> None:
        self._uow, self._issuer, self._clock = uow, issuer, clock

    async def __call__(
        self, cmd: SwitchTenantCommand
    ) -> Result[TokenPair, NoAccessToTenant | TenantSuspended | InvalidRefreshToken]:
        if cmd.tenant_slug is None and cmd.tenant_id is None:
            return Failure(NoAccessToTenant())
        now = self._clock.now()
        user_id = cmd.actor.user_id
        async with self._uow(Scope(user_id=user_id)) as uow:
            chosen = _choose(await uow.directory.memberships_of(user_id), cmd.tenant_slug, cmd.tenant_id)
            if isinstance(chosen, Failure):
                return chosen
            tenant, membership = chosen.unwrap()
            await uow.bind(Scope(tenant_id=tenant.id, user_id=user_id))
            session = await uow.sessions.get(cmd.actor.session_id) if cmd.actor.session_id else None
            if not session or session.user_id != user_id or not session.is_active(now):
                return Failure(InvalidRefreshToken())
            session.tenant_id = tenant.id
            session.last_used_at = now
            await uow.sessions.save(session)
            await uow.refresh_tokens.rotate_all(session.id, now)
            tokens = await issue_tokens(uow, self._issuer, session, membership, now)
            await uow.commit()
        return Success(tokens)
