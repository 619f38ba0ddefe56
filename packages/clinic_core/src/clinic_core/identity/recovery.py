"""Forgotten passwords: ask for a reset link by email, then set a new password with it.

Asking never tells whether an account has the address: the answer is the same, and both cases do the same
shape of database work (look the address up, count and log the request under the address's digest), so
the time taken does not tell either. What differs is only the known account's token and outbox rows,
written in the same transaction and small next to the round trips both cases make.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from returns.result import Failure, Result, Success

from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.account_mail import home_tenant, mail_token
from clinic_core.identity.account_security import InvalidAccountToken, TokenPurpose, address_key
from clinic_core.identity.credentials import personal_words
from clinic_core.identity.model import RevocationReason
from clinic_core.identity.passwords import check_password, min_password_length
from clinic_core.identity.ports import PasswordHasher
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import InvalidInput
from clinic_core.shared.ids import UserId, new_uuid
from clinic_core.shared.tokens import digest
from clinic_core.shared.values import Email

RESET_REQUESTS_PER_HOUR = 3
"""Reset emails sent to one address per hour; further requests are logged and answered, but send nothing
(a form that mails whoever you like must not become a way to flood someone's inbox)."""


@dataclass(frozen=True, slots=True)
class ForgotPasswordCommand:
    email: str


class ForgotPassword:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, *, per_hour: int = RESET_REQUESTS_PER_HOUR
    ) -> None:
        self._uow, self._clock, self._per_hour = uow, clock, per_hour

    async def __call__(self, cmd: ForgotPasswordCommand) -> Result[None, InvalidInput]:
        """Success whether or not an account has the address. Only a malformed address is refused: that
        says nothing about accounts, and tells a person who mistyped it."""
        email = Email.parse(cmd.email)
        if isinstance(email, Failure):
            return email
        email_hash = address_key(email.unwrap().value)
        now = self._clock.now()
        async with self._uow(Scope()) as uow:
            user = await uow.users.get_by_email(email.unwrap())
            subject = user.id if user else UserId(new_uuid())  # an unknown address: the same lookups
            await uow.bind(Scope(user_id=subject))
            tenant = await home_tenant(uow, subject)
            recent = await uow.reset_requests.count_since(email_hash, now - timedelta(hours=1))
            await uow.reset_requests.add(email_hash, now)
            if user is not None and tenant is not None and recent < self._per_hour:
                await mail_token(uow, user, tenant, TokenPurpose.RESET_PASSWORD, now)
            await uow.commit()
        return Success(None)


@dataclass(frozen=True, slots=True)
class ResetPasswordCommand:
    token: str
    new_password: str
    context: RequestContext = NO_CONTEXT


class ResetPassword:
    """Set a new password with a reset link's token.

    The link proves the address, so the email becomes verified; every session of the account ends (whoever
    knew the old password is out), the sign-in lockout of the account is lifted, and any other reset link
    stops working. The new password meets the same policy as a changed one. An unusable token (unknown,
    expired, used, superseded) gets one answer that does not say which.
    """

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(self, cmd: ResetPasswordCommand) -> Result[int, InvalidAccountToken | InvalidInput]:
        """Returns how many sessions it ended."""
        now = self._clock.now()
        words: tuple[str, ...] = ()
        async with self._uow(Scope(), read_only=True) as uow:
            token = await uow.account_tokens.get_by_hash(digest(cmd.token))
            user = await uow.users.get(token.user_id) if token else None
            if user is not None:
                await uow.bind(Scope(user_id=user.id))
                words = await personal_words(uow, user)
        if token is None or user is None or not token.is_usable(TokenPurpose.RESET_PASSWORD, now):
            return Failure(InvalidAccountToken())
        if user.email != token.email:
            return Failure(InvalidAccountToken())
        # A weak password is refused before the token is spent: the person fixes it and tries again.
        new = check_password(
            cmd.new_password, context=words, field="new_password", min_length=min_password_length(user)
        )
        if isinstance(new, Failure):
            return new
        new_hash = await self._hasher.hash(new.unwrap())  # slow: outside the transaction

        async with self._uow(Scope(user_id=user.id)) as uow:
            if not await uow.account_tokens.spend(token.id, now):
                return Failure(InvalidAccountToken())
            user = await uow.users.get(token.user_id)
            if user is None:
                return Failure(InvalidAccountToken())
            user.password_hash = new_hash
            user.email_verified_at = user.email_verified_at or now
            await uow.users.save(user)
            sessions = await uow.sessions.active_of(user.id, now)
            for session in sessions:
                session.revoke(now, RevocationReason.PASSWORD_RESET)
                await uow.sessions.save(session)
            await uow.account_tokens.retire(user.id, TokenPurpose.RESET_PASSWORD, now)
            await uow.sign_in_failures.clear(address_key(user.email.value))
            tenant = await home_tenant(uow, user.id)
            if tenant is not None:
                await uow.bind(Scope(tenant_id=tenant.id))
                target = AuditTarget("user", str(user.id))
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.PASSWORD_RESET,
                        tenant_id=tenant.id,
                        at=now,
                        context=cmd.context,
                        actor_user_id=user.id,
                        target=target,
                    )
                )
                if sessions:
                    # One event for all of them, in the account's home tenant: the sessions' ids and
                    # addresses in other tenants are not this tenant's business.
                    await uow.audit.add(
                        AuditEvent.record(
                            AuditAction.SESSION_REVOKED,
                            tenant_id=tenant.id,
                            at=now,
                            context=cmd.context,
                            actor_user_id=user.id,
                            target=target,
                            reason=RevocationReason.PASSWORD_RESET.value,
                            sessions=len(sessions),
                        )
                    )
            await uow.commit()
        return Success(len(sessions))
