"""Email verification: proving an account receives mail at its address, and what a clinic lets an account
that has not proved it do (``SecurityPolicy.unverified_email_access``)."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.account_mail import home_tenant, mail_token
from clinic_core.identity.account_security import EmailAlreadyVerified, InvalidAccountToken, TokenPurpose
from clinic_core.identity.model import User
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import NotFound
from clinic_core.shared.tokens import digest
from clinic_core.tenancy.model import Tenant, UnverifiedEmailAccess
from clinic_core.tenancy.permissions import Permission

PATIENT_DATA = frozenset(p for p in Permission if p.value.partition(":")[0] in {"patients", "clinical"})
"""What ``NO_PATIENT_DATA`` withholds: every ``patients:*`` and ``clinical:*`` permission."""


def may_sign_in(user: User, tenant: Tenant) -> bool:
    """False when the tenant refuses members whose email is not verified (``NONE``) and this is one."""
    return user.email_verified or tenant.security.unverified_email_access is not UnverifiedEmailAccess.NONE


def withheld_permissions(user: User, tenant: Tenant) -> frozenset[Permission]:
    """The permissions the tenant withholds from this user until their email is verified."""
    if user.email_verified or tenant.security.unverified_email_access is UnverifiedEmailAccess.FULL:
        return frozenset()
    return PATIENT_DATA


@dataclass(frozen=True, slots=True)
class VerifyEmailCommand:
    token: str
    context: RequestContext = NO_CONTEXT


class VerifyEmail:
    """Open the link of a verification email: the account's address is verified. The token works once."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: VerifyEmailCommand) -> Result[None, InvalidAccountToken]:
        now = self._clock.now()
        async with self._uow(Scope()) as uow:
            token = await uow.account_tokens.get_by_hash(digest(cmd.token))
            if token is None or not token.is_usable(TokenPurpose.VERIFY_EMAIL, now):
                return Failure(InvalidAccountToken())
            user = await uow.users.get(token.user_id)
            if user is None or user.email != token.email:
                return Failure(InvalidAccountToken())
            if not await uow.account_tokens.spend(token.id, now):
                return Failure(InvalidAccountToken())  # spent by a racing request a moment ago
            await uow.bind(Scope(user_id=user.id))
            if user.email_verified_at is None:
                user.email_verified_at = now
                await uow.users.save(user)
            tenant = await home_tenant(uow, user.id)
            if tenant is not None:
                await uow.bind(Scope(tenant_id=tenant.id))
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.EMAIL_VERIFIED,
                        tenant_id=tenant.id,
                        at=now,
                        context=cmd.context,
                        actor_user_id=user.id,
                        target=AuditTarget("user", str(user.id)),
                    )
                )
            await uow.commit()
        return Success(None)


class ResendVerification:
    """Mail a new verification link to the signed-in account (the older ones stop working)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor) -> Result[None, NotFound | EmailAlreadyVerified]:
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            user = await uow.users.get(actor.user_id)
            tenant = await uow.tenants.get(actor.tenant_id)
            if user is None or tenant is None:
                return Failure(NotFound("user", str(actor.user_id)))
            if user.email_verified:
                return Failure(EmailAlreadyVerified())
            await mail_token(uow, user, tenant, TokenPurpose.VERIFY_EMAIL, now)
            await uow.commit()
        return Success(None)
