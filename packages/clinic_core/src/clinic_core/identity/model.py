"""Users, sessions and refresh tokens.

A session is one sign-in on one device. Each refresh rotates its token; the tokens of a session form a
family, and presenting a token that was already rotated means it was copied: the whole session is revoked
(OAuth 2.0 Security BCP, RFC 9700 section 4.14.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from clinic_core.shared.errors import Unauthenticated
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import RefreshTokenId, SessionId, TenantId, UserId
from clinic_core.shared.values import Email, PersonName

ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a sign-in lasts. The defaults are NIST SP 800-63B's for AAL2, which OWASP ASVS level 2
    (3.3.2) points to: sign in again after 12 hours, or after 30 minutes without a refresh.

    A client that is in use refreshes every ``ACCESS_TOKEN_LIFETIME``, which keeps an open session alive;
    so the idle timeout must be longer than that. Values are stamped on each session when it opens and
    on each refresh, so a change of settings applies from the next sign-in or refresh.
    """

    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_lifetime: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        if self.idle_timeout <= ACCESS_TOKEN_LIFETIME:
            raise ValueError(
                f"the idle timeout must be longer than an access token's {ACCESS_TOKEN_LIFETIME}"
            )
        if self.absolute_lifetime < self.idle_timeout:
            raise ValueError("the absolute lifetime cannot be shorter than the idle timeout")


DEFAULT_SESSION_POLICY = SessionPolicy()


@dataclass(eq=False, kw_only=True)
class User:
    id: UserId
    email: Email
    name: PersonName
    password_hash: str
    created_at: datetime
    mfa_enabled_at: datetime | None = None
    """When a second factor (TOTP) was confirmed; None without one. Its secret lives apart (MfaRepository)."""
    email_verified_at: datetime | None = None
    """When the account proved it receives mail at ``email`` (a verification or reset link was opened)."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def has_mfa(self) -> bool:
        return self.mfa_enabled_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class RevocationReason(StrEnum):
    LOGOUT = "logout"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    EXPIRED = "expired"
    MEMBERSHIP_ENDED = "membership_ended"
    REVOKED_BY_USER = "revoked_by_user"
    PASSWORD_CHANGED = "password_changed"
    DEVICE_MISMATCH = "device_mismatch"
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGED = "email_changed"
    MFA_CHANGED = "mfa_changed"


@dataclass(eq=False, kw_only=True)
class AuthSession:
    id: SessionId
    user_id: UserId
    tenant_id: TenantId
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    """The absolute end: no refresh extends it."""
    idle_expires_at: datetime | None = None
    """Ends the session unless a refresh moves it on; None for no idle limit."""
    user_agent: str | None = None
    ip: str | None = None
    device_label: str | None = None
    """What the user calls the device ("Recepção - PC 2"), as the client sent it at sign-in."""
    fingerprint_hash: str | None = None
    """SHA-256 of the device fingerprint the client sent at sign-in; refreshes must present the same one."""
    revoked_at: datetime | None = None
    revoked_reason: RevocationReason | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def is_active(self, now: datetime) -> bool:
        return (
            self.revoked_at is None
            and now < self.expires_at
            and (self.idle_expires_at is None or now < self.idle_expires_at)
        )

    def touch(self, now: datetime, policy: SessionPolicy) -> None:
        """A refresh: the session was in use now, so its idle deadline moves on (never past its end)."""
        self.last_used_at = now
        self.idle_expires_at = min(now + policy.idle_timeout, self.expires_at)

    def revoke(self, now: datetime, reason: RevocationReason) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
            self.revoked_reason = reason


@dataclass(eq=False, kw_only=True)
class RefreshToken:
    id: RefreshTokenId
    session_id: SessionId
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"

    @property
    def detail(self) -> str:
        return "the email or the password is wrong"


class InvalidRefreshToken(Unauthenticated):
    code = "invalid_refresh_token"

    @property
    def detail(self) -> str:
        return "the refresh token is invalid, expired or revoked"


class DeviceMismatch(Unauthenticated):
    code = "device_mismatch"

    @property
    def detail(self) -> str:
        return "this refresh token belongs to another device; the session has been revoked, sign in again"


class RefreshTokenReused(Unauthenticated):
    code = "refresh_token_reused"

    @property
    def detail(self) -> str:
        return "this refresh token was already used; the session has been revoked, sign in again"
