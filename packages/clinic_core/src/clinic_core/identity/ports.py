"""What identity needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from clinic_core.identity.account_security import AccountToken, SignInFailures, TokenPurpose
from clinic_core.identity.model import AuthSession, RefreshToken, User
from clinic_core.identity.second_factor import MfaChallengeId, MfaChallengeRecord, TotpCredential
from clinic_core.shared.ids import RefreshTokenId, SessionId, TenantId, UserId
from clinic_core.shared.values import Email
from clinic_core.tenancy.permissions import Role


class PasswordHasher(Protocol):
    """Slow, salted, memory-hard hashing. Async because a good hash takes tens of milliseconds of CPU."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> bool: ...

    async def burn(self, password: str) -> None:
        """Spend the time a verify would, for an account that does not exist (no timing oracle)."""
        ...


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UserId
    tenant_id: TenantId
    session_id: SessionId
    roles: frozenset[Role]
    unit_ids: frozenset[str]
    issued_at: datetime
    expires_at: datetime


class AccessTokenIssuer(Protocol):
    def issue(self, claims: AccessClaims) -> str: ...


class AccessTokenVerifier(Protocol):
    def verify(self, token: str) -> AccessClaims | None:
        """The claims of a valid, unexpired token meant for us; None for anything else."""
        ...


class UserRepository(Protocol):
    """Users are global: one account can belong to several tenants."""

    async def add(self, user: User) -> None: ...

    async def get(self, user_id: UserId) -> User | None: ...

    async def get_by_email(self, email: Email) -> User | None: ...

    async def get_many(self, user_ids: set[UserId]) -> dict[UserId, User]: ...

    async def save(self, user: User) -> None:
        """Write back the user's email, name, password hash and verification. Only a confirmed email change
        (``ConfirmEmailChange``) sets a new email; raises ``UniqueViolation`` (``uq_users_email``) when
        another account has it, here or at commit."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: AuthSession) -> None: ...

    async def get(self, session_id: SessionId) -> AuthSession | None: ...

    async def save(self, session: AuthSession) -> None: ...

    async def active_of(self, user_id: UserId, now: datetime) -> list[AuthSession]:
        """The user's sessions that are neither revoked nor past their lifetime, most recently used first."""
        ...

    async def device_known(self, user_id: UserId, fingerprint_hash: str) -> bool:
        """Whether a session of the user, live or ended, was ever opened from the device with this hash."""
        ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None: ...

    async def mark_rotated(self, token_id: RefreshTokenId, at: datetime) -> bool:
        """Atomically mark the token rotated. False if it already was: two refreshes raced, or it was copied."""
        ...


class MfaRepository(Protocol):
    """A person's TOTP credential (on the user's row) and recovery codes. Global, like users.

    The writes that spend something (a time step, a recovery code) are compare-and-sets: of two requests
    racing with one code, exactly one sees True.
    """

    async def get(self, user_id: UserId) -> TotpCredential | None: ...

    async def set_pending_secret(self, user_id: UserId, sealed_secret: str | None) -> None: ...

    async def enable(self, user_id: UserId, sealed_secret: str, at: datetime, used_step: int) -> None:
        """Make ``sealed_secret`` the confirmed one (the pending one is cleared) and mark the user enrolled."""
        ...

    async def disable(self, user_id: UserId) -> None:
        """Forget the secrets, the last used step and every recovery code."""
        ...

    async def spend_step(self, user_id: UserId, step: int) -> bool:
        """Record ``step`` as the last used one if it is later than the stored one; False if it is not."""
        ...

    async def replace_recovery_codes(self, user_id: UserId, code_hashes: list[str], at: datetime) -> None: ...

    async def spend_recovery_code(self, user_id: UserId, code_hash: str, at: datetime) -> bool:
        """Mark the unused code with this digest used; False if there is none (wrong, or used already)."""
        ...

    async def unused_recovery_codes(self, user_id: UserId) -> int: ...


class MfaChallengeRepository(Protocol):
    async def add(self, challenge: MfaChallengeRecord) -> None: ...

    async def get_by_hash(self, token_hash: str) -> MfaChallengeRecord | None: ...

    async def spend_attempt(self, challenge_id: MfaChallengeId, max_attempts: int) -> bool:
        """Count one attempt if fewer than ``max_attempts`` were made and it is unused; False otherwise."""
        ...

    async def mark_used(self, challenge_id: MfaChallengeId, at: datetime) -> bool:
        """Atomically mark the challenge used. False if it already was."""


class AccountTokenRepository(Protocol):
    """Single-use account tokens (global, like users). ``add`` hands the token's events to the outbox."""

    async def add(self, token: AccountToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> AccountToken | None: ...

    async def retire(self, user_id: UserId, purpose: TokenPurpose, at: datetime) -> None:
        """Mark the user's unused tokens of ``purpose`` used: only the newest link mailed should work."""
        ...

    async def spend(self, token_id: UUID, at: datetime) -> bool:
        """Atomically mark the token used. False if it already was: of two racing requests, one wins."""
        ...


class PasswordResetRequestLog(Protocol):
    """Every password reset request, by the digest of the email asked for, known to us or not."""

    async def add(self, email_hash: str, at: datetime) -> None: ...

    async def count_since(self, email_hash: str, since: datetime) -> int:
        """How many requests for the address were logged after ``since`` (not at it)."""
        ...


class SignInFailureRepository(Protocol):
    """Failed sign-in counters (global: an account's key is the same in every tenant)."""

    async def get(self, key_hash: str, device_hash: str) -> SignInFailures | None:
        """The counter, locked until the transaction ends where the database can, so that racing
        attempts are counted one after the other."""
        ...

    async def add(self, failures: SignInFailures) -> None:
        """A new counter. Raises ``UniqueViolation`` when a racing transaction inserted it first."""
        ...

    async def save(self, failures: SignInFailures) -> None:
        """Write back a counter ``get`` returned (and locked)."""
        ...

    async def clear(self, key_hash: str, device_hash: str | None = None) -> None:
        """Forget the counter of one device under the key, or every counter of the key (``None``)."""
        ...
