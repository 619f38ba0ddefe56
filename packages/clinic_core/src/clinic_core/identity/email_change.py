"""Changing one's email address while signed in.

The address is the login and the recovery channel, so a change takes effect only once the new address
proves it receives mail: asking (with the current password) mails a single-use link to the new address
and tells the old one that a change was asked for; opening the link makes the change.

Asking never tells whether another account has the new address: the answer, the notice to the old address
and the retiring of earlier links are the same; only the link is not sent, so the change cannot complete.
Sending nothing to the taken address, rather than a notice, is deliberate: any account holder could
otherwise have us mail any address we know of, and its owner has nothing to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.account_mail import home_tenant
from clinic_core.identity.account_security import (
    AccountToken,
    InvalidAccountToken,
    TokenPurpose,
    address_key,
)
from clinic_core.identity.model import AuthSession, RevocationReason
from clinic_core.identity.passwords import normalise_password
from clinic_core.identity.ports import PasswordHasher
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Conflict, InvalidInput, NotFound
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import UserId
from clinic_core.shared.tokens import digest
from clinic_core.shared.values import Email


@dataclass(frozen=True, kw_only=True)
class EmailChangeRequested(DomainEvent):
    """Send ``token`` to ``email`` (the NEW address) as the link that confirms the change.

    Like the other account token events, the outbox row carries the raw token until delivery: it lives
    24 hours and works once.
    """

    topic = "identity.email_change_requested"
    user_id: UserId
    email: str
    name: str
    tenant_name: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class EmailChangeNotice(DomainEvent):
    """Tell ``email`` (the CURRENT address) that a change to ``new_email`` was asked for, with no link:
    if the owner did not ask, someone has their password and a session, and they should act (reset the
    password, end the sessions) before the link is opened. Sent whether or not the change can complete."""

    topic = "identity.email_change_notice"
    user_id: UserId
    email: str
    new_email: str
    name: str
    tenant_name: str


class EmailInUse(Conflict):
    """The new address got an account of its own between the request and the confirmation.

    Saying so is no enumeration: only whoever reads the new address's mail holds the link, and they can
    learn the same by asking for a password reset of that address.
    """

    code: ClassVar[str] = "email_in_use"

    @property
    def detail(self) -> str:
        return "another account uses this address now; the email was not changed"


@dataclass(frozen=True, slots=True)
class RequestEmailChangeCommand:
    actor: Actor
    current_password: str
    new_email: str
    end_other_sessions: bool = True
    """End every other session (not this one) once the change is confirmed."""
    context: RequestContext = NO_CONTEXT


class RequestEmailChange:
    """Mail a confirmation link to the new address (older change links stop working) and a notice to the
    current one. The email stays as it is until the link is opened."""

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(self, cmd: RequestEmailChangeCommand) -> Result[None, InvalidInput | NotFound]:
        actor = cmd.actor
        async with self._uow(Scope(user_id=actor.user_id), read_only=True) as uow:
            user = await uow.users.get(actor.user_id)
        if user is None:
            return Failure(NotFound("user", str(actor.user_id)))
        if not await self._hasher.verify(normalise_password(cmd.current_password), user.password_hash):
            return Failure(
                InvalidInput.of("current_password", "wrong_password", "the current password is wrong")
            )
        parsed = Email.parse(cmd.new_email, field="new_email")
        if isinstance(parsed, Failure):
            return parsed
        new_email = parsed.unwrap()
        if new_email == user.email:
            return Failure(InvalidInput.of("new_email", "unchanged", "this is the account's address already"))

        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            user = await uow.users.get(actor.user_id)
            tenant = await uow.tenants.get(actor.tenant_id)
            if user is None or tenant is None:
                return Failure(NotFound("user", str(actor.user_id)))
            taken = await uow.users.get_by_email(new_email) is not None
            # Retired in both cases: a link mailed earlier to an address the caller controls must not
            # keep or lose its power depending on whether the new address is taken.
            await uow.account_tokens.retire(user.id, TokenPurpose.CHANGE_EMAIL, now)
            if not taken:
                token, secret = AccountToken.issue(user.id, new_email, TokenPurpose.CHANGE_EMAIL, now)
                token.end_other_sessions = cmd.end_other_sessions
                token.session_id = actor.session_id
                token.events.append(
                    EmailChangeRequested(
                        tenant_id=tenant.id,
                        occurred_at=now,
                        user_id=user.id,
                        email=new_email.value,
                        name=user.name.value,
                        tenant_name=tenant.name,
                        token=secret,
                        expires_at=token.expires_at,
                    )
                )
                await uow.account_tokens.add(token)
            user.events.append(
                EmailChangeNotice(
                    tenant_id=tenant.id,
                    occurred_at=now,
                    user_id=user.id,
                    email=user.email.value,
                    new_email=new_email.value,
                    name=user.name.value,
                    tenant_name=tenant.name,
                )
            )
            await uow.users.save(user)  # unchanged: hands the notice to the outbox
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.EMAIL_CHANGE_REQUESTED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    actor_user_id=user.id,
                    target=AuditTarget("user", str(user.id)),
                    end_other_sessions=cmd.end_other_sessions,
                )
            )
            await uow.commit()
        return Success(None)


@dataclass(frozen=True, slots=True)
class ConfirmEmailChangeCommand:
    token: str
    context: RequestContext = NO_CONTEXT


class ConfirmEmailChange:
    """Open the link mailed to the new address: it becomes the account's (verified) email, and the login.

    The token works once (compare-and-set). If another account has the address by now, nothing changes
    and the answer says so (``EmailInUse``); the unique constraint on users' emails settles a race with a
    sign-up the check could not see. Failed sign-ins counted under the old address are forgotten (no
    account has it any more, and a later owner of it must not inherit them); those under the new one are
    kept (clearing them would give whoever made them a fresh budget against this account). If the request
    asked for it, every session but the one that made the request ends.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: ConfirmEmailChangeCommand) -> Result[int, InvalidAccountToken | EmailInUse]:
        """Returns how many sessions it ended."""
        now = self._clock.now()
        async with self._uow(Scope()) as uow:
            token = await uow.account_tokens.get_by_hash(digest(cmd.token))
            if token is None or not token.is_usable(TokenPurpose.CHANGE_EMAIL, now):
                return Failure(InvalidAccountToken())
            user = await uow.users.get(token.user_id)
            if user is None or user.email == token.email:
                return Failure(InvalidAccountToken())
            owner = await uow.users.get_by_email(token.email)
            if owner is not None:
                return Failure(EmailInUse())
            if not await uow.account_tokens.spend(token.id, now):
                return Failure(InvalidAccountToken())  # spent by a racing request a moment ago
            await uow.bind(Scope(user_id=user.id))
            old_email = user.email
            user.email = token.email
            user.email_verified_at = now
            try:
                await uow.users.save(user)
                ended = await self._end_sessions(uow, token, now)
                await uow.sign_in_failures.clear(address_key(old_email.value))
                await self._audit(uow, user.id, ended, now, cmd.context)
                await uow.commit()
            except UniqueViolation:
                return Failure(EmailInUse())  # the unit of work rolls back: nothing was changed
        return Success(len(ended))

    @staticmethod
    async def _end_sessions(uow: UnitOfWork, token: AccountToken, now: datetime) -> list[AuthSession]:
        if not token.end_other_sessions:
            return []
        ended = [s for s in await uow.sessions.active_of(token.user_id, now) if s.id != token.session_id]
        for session in ended:
            session.revoke(now, RevocationReason.EMAIL_CHANGED)
            await uow.sessions.save(session)
        return ended

    @staticmethod
    async def _audit(
        uow: UnitOfWork, user_id: UserId, ended: list[AuthSession], now: datetime, context: RequestContext
    ) -> None:
        """In the account's home tenant, like a password reset: the link is opened without a clinic."""
        tenant = await home_tenant(uow, user_id)
        if tenant is None:
            return
        await uow.bind(Scope(tenant_id=tenant.id))
        target = AuditTarget("user", str(user_id))
        await uow.audit.add(
            AuditEvent.record(
                AuditAction.EMAIL_CHANGED,
                tenant_id=tenant.id,
                at=now,
                context=context,
                actor_user_id=user_id,
                target=target,
                ended_sessions=len(ended),
            )
        )
        if ended:
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.SESSION_REVOKED,
                    tenant_id=tenant.id,
                    at=now,
                    context=context,
                    actor_user_id=user_id,
                    target=target,
                    reason=RevocationReason.EMAIL_CHANGED.value,
                    sessions=len(ended),
                )
            )
