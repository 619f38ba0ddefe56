"""What keeps an account recoverable and hard to guess into: single-use account tokens (verify an email,
reset a password) and the record of failed sign-ins that slows guessing down.

Plain records, no use cases: those are in ``verification``, ``recovery`` and ``throttling``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from clinic_core.shared.errors import Conflict, DomainError, Forbidden
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import SessionId, UserId, new_uuid
from clinic_core.shared.tokens import digest, new_secret
from clinic_core.shared.values import Email


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    CHANGE_EMAIL = "change_email"


TOKEN_LIFETIME = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=24),
    TokenPurpose.RESET_PASSWORD: timedelta(minutes=30),
    TokenPurpose.CHANGE_EMAIL: timedelta(hours=24),
}


@dataclass(frozen=True, kw_only=True)
class EmailVerificationRequested(DomainEvent):
    """Send ``token`` to ``email`` as a verification link, in the name of the tenant ``tenant_name``.

    The outbox row carries the raw token until the worker delivers the message: it is short-lived (24 h)
    and works once, and the outbox is no more exposed than the users table it could otherwise be reset
    from. The worker should drop the payload once the message is sent.
    """

    topic = "identity.email_verification_requested"
    user_id: UserId
    email: str
    name: str
    tenant_name: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PasswordResetRequested(DomainEvent):
    """Send ``token`` to ``email`` as a password reset link, in the name of the tenant ``tenant_name``.

    Like ``EmailVerificationRequested``, the outbox row carries the raw token until delivery: it lives
    30 minutes and works once.
    """

    topic = "identity.password_reset_requested"
    user_id: UserId
    email: str
    name: str
    tenant_name: str
    token: str
    expires_at: datetime


@dataclass(eq=False, kw_only=True)
class AccountToken:
    """A single-use secret mailed to the account's address. Only its digest is stored."""

    id: UUID
    user_id: UserId
    purpose: TokenPurpose
    token_hash: str
    email: Email
    """The address the token was sent to: a token proves that address, not whichever the account has now."""
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    end_other_sessions: bool = False
    """For ``CHANGE_EMAIL``: end the account's other sessions when the change is confirmed."""
    session_id: SessionId | None = None
    """For ``CHANGE_EMAIL``: the session that asked for the change, the one ``end_other_sessions`` keeps."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def issue(
        cls, user_id: UserId, email: Email, purpose: TokenPurpose, now: datetime
    ) -> tuple[AccountToken, str]:
        """A new token and its secret (the secret is never stored, only sent)."""
        secret = new_secret()
        token = cls(
            id=new_uuid(),
            user_id=user_id,
            purpose=purpose,
            token_hash=digest(secret),
            email=email,
            created_at=now,
            expires_at=now + TOKEN_LIFETIME[purpose],
        )
        return token, secret

    def is_usable(self, purpose: TokenPurpose, now: datetime) -> bool:
        return self.purpose is purpose and self.used_at is None and now < self.expires_at


@dataclass(eq=False, kw_only=True)
class SignInFailures:
    """Failed sign-ins counted under one key: an account (the digest of its normalised email, whether or
    not an account has it), alone or with a device that signed in to it before."""

    key_hash: str
    device_hash: str
    """The device's fingerprint hash, or '' for attempts from devices the account has not seen."""
    failures: int
    first_failed_at: datetime
    last_failed_at: datetime
    locked_until: datetime | None = None


class InvalidAccountToken(DomainError):
    """One answer for a token that never existed, expired, was used, or was replaced by a newer one."""

    code: ClassVar[str] = "invalid_token"

    @property
    def detail(self) -> str:
        return "the link is invalid, expired or already used; ask for a new one"


class EmailNotVerified(Forbidden):
    code: ClassVar[str] = "email_not_verified"

    @property
    def detail(self) -> str:
        return "this clinic requires a verified email address: open the link we sent, or ask for a new one"


class EmailAlreadyVerified(Conflict):
    code: ClassVar[str] = "email_already_verified"

    @property
    def detail(self) -> str:
        return "this account's email address is verified already"


def address_key(email: str) -> str:
    """The digest of an email address as sign-in normalises it: the key failed sign-ins and password
    reset requests are counted under, whether or not an account has the address (no address is stored
    in clear for it).

    An address that does not parse (so belongs to no account) still gets a key of its own, so an unknown
    email is throttled exactly like a known one.
    """
    canonical = Email.parse(email).map(str).value_or(email.strip().lower())
    return digest(canonical)
