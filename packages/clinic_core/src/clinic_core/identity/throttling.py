"""Slowing down password guessing (OWASP ASVS 2.2.1) without letting anyone lock a real user out at will.

Every sign-in attempt is counted before its password is checked, under the account's key (the digest of
the normalised email, whether or not an account has it: an unknown email is throttled exactly like a
known one, so the answers tell nothing). Counting first makes the check atomic: racing attempts queue on
the counter, and a burst cannot slip past the limit. A correct password then clears the counter it was
counted under; a wrong one leaves it.

After ``free_failures`` failures, each attempt must wait a delay that doubles (1 s, 2 s, 4 s, ...) up to
``max_delay``; one that comes earlier is refused unchecked. With the defaults that allows fewer than 20
guesses in an hour, far under ASVS's 100, and at most 4 an hour once the delay is capped.

Anti-lockout: an attempt from a device that signed in to this account before (the client's device
fingerprint, compared with the hashes kept on the account's sessions) is counted under its own
(account, device) key. Someone hammering the account from elsewhere fills the account's counter, not
the one of the real user's own phone or front-desk PC.

The lock is lifted by time (a counter idle for ``window`` is forgotten), by a correct password under the
same key, or by a password reset (which clears every counter of the account).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from returns.result import Failure, Result, Success

from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.account_mail import home_tenant
from clinic_core.identity.account_security import SignInFailures, address_key
from clinic_core.identity.issuing import fingerprint_hash
from clinic_core.identity.model import User
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import TooManyAttempts
from clinic_core.shared.ids import TenantId, UserId, new_uuid
from clinic_core.shared.values import Email


@dataclass(frozen=True, slots=True)
class SignInThrottlePolicy:
    free_failures: int = 5
    """Failures allowed before any delay."""
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(hours=1)
    """A counter with no failure for this long is forgotten."""

    def delay_after(self, failures: int) -> timedelta | None:
        """How long the next attempt must wait after ``failures`` counted failures (None: no wait)."""
        if failures < self.free_failures:
            return None
        doublings: int = min(failures - self.free_failures, 40)  # 2**40 s is past any sensible cap
        return min(self.first_delay * (1 << doublings), self.max_delay)


DEFAULT_THROTTLE_POLICY = SignInThrottlePolicy()


class SignInThrottled(TooManyAttempts):
    """Never says whether the email has an account: unknown ones are throttled just the same."""

    code: ClassVar[str] = "sign_in_throttled"

    @property
    def detail(self) -> str:
        return f"too many failed sign-ins with this email; retry in {self.retry_after_seconds} seconds"


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt the throttle let through: counted already, to be cleared if its password is right."""

    user: User | None
    key_hash: str
    device_hash: str
    audit_tenant: TenantId | None


class SignInThrottle:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: SignInThrottlePolicy) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy

    async def admit(
        self, email: str, fingerprint: str | None, context: RequestContext
    ) -> Result[Attempt, SignInThrottled]:
        """Count the attempt, or refuse it if it comes before its delay is over. Also finds the account."""
        try:
            return await self._admit(email, fingerprint, context)
        except UniqueViolation:  # a racing first attempt created the counter: count on top of it
            return await self._admit(email, fingerprint, context)

    async def _admit(
        self, email: str, fingerprint: str | None, context: RequestContext
    ) -> Result[Attempt, SignInThrottled]:
        now = self._clock.now()
        key = address_key(email)
        parsed = Email.parse(email).value_or(None)
        async with self._uow(Scope()) as uow:
            user = await uow.users.get_by_email(parsed) if parsed else None
            subject = user.id if user else UserId(new_uuid())  # an unknown account: the same lookups
            await uow.bind(Scope(user_id=subject))
            device = ""
            hashed = fingerprint_hash(fingerprint)
            if hashed is not None and await uow.sessions.device_known(subject, hashed):
                device = hashed
            tenant = await home_tenant(uow, subject)
            audit_tenant = tenant.id if tenant and user else None
            counter = await uow.sign_in_failures.get(key, device)
            stored = counter is not None
            if counter is not None and now - counter.last_failed_at >= self._policy.window:
                counter = None  # forgotten: counting starts again on the same row
            if counter is not None and counter.locked_until is not None and counter.locked_until > now:
                retry_after = math.ceil((counter.locked_until - now).total_seconds())
                if user is not None and audit_tenant is not None:
                    await self._audit_throttled(uow, user, audit_tenant, now, context, retry_after)
                    await uow.commit()
                return Failure(SignInThrottled(retry_after_seconds=max(1, retry_after)))
            counter = counter or SignInFailures(
                key_hash=key, device_hash=device, failures=0, first_failed_at=now, last_failed_at=now
            )
            counter.failures += 1
            counter.last_failed_at = now
            delay = self._policy.delay_after(counter.failures)
            counter.locked_until = now + delay if delay is not None else None
            await (uow.sign_in_failures.save if stored else uow.sign_in_failures.add)(counter)
            await uow.commit()
        return Success(Attempt(user, key, device, audit_tenant))

    async def _audit_throttled(
        self,
        uow: UnitOfWork,
        user: User,
        tenant_id: TenantId,
        now: datetime,
        context: RequestContext,
        retry_after: int,
    ) -> None:
        await uow.bind(Scope(tenant_id=tenant_id))
        await uow.audit.add(
            AuditEvent.record(
                AuditAction.SIGN_IN_THROTTLED,
                tenant_id=tenant_id,
                at=now,
                context=context,
                target=AuditTarget("user", str(user.id)),
                retry_after_seconds=retry_after,
            )
        )

    async def failed(self, attempt: Attempt, context: RequestContext) -> None:
        """A wrong password for an existing account: leave a trace in its home tenant (it stays counted)."""
        if attempt.user is None or attempt.audit_tenant is None:
            return
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=attempt.audit_tenant, user_id=attempt.user.id)) as uow:
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.SIGN_IN_FAILED,
                    tenant_id=attempt.audit_tenant,
                    at=now,
                    context=context,
                    target=AuditTarget("user", str(attempt.user.id)),
                    known_device=bool(attempt.device_hash),
                )
            )
            await uow.commit()

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: clear the counter the attempt was counted under."""
        async with self._uow(Scope()) as uow:
            await uow.sign_in_failures.clear(attempt.key_hash, attempt.device_hash)
            await uow.commit()
