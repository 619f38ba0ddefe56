"""The second factor's state: a person's TOTP credential, their recovery codes, and sign-in challenges.

A challenge is what a correct password earns an account that needs a second factor: a short-lived,
single-use token (only its digest is stored) that a TOTP code or a recovery code completes into a
session. The enrolment kind is what a clinic that requires a second factor gives its staff who have none:
it lets them enrol, and enrolling completes the sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NewType
from uuid import UUID

from clinic_core.shared.errors import Conflict, Unauthenticated
from clinic_core.shared.ids import TenantId, UserId

MfaChallengeId = NewType("MfaChallengeId", UUID)

SIGN_IN_CHALLENGE_LIFETIME = timedelta(minutes=5)
ENROLMENT_CHALLENGE_LIFETIME = timedelta(minutes=10)
MAX_CHALLENGE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class TotpCredential:
    """A person's TOTP state. Secrets are as the SecretBox sealed them, never in clear."""

    user_id: UserId
    secret: str | None = None
    """The confirmed secret; set when MFA is enabled."""
    pending_secret: str | None = None
    """A secret shown for enrolment and not confirmed with a code yet."""
    enabled_at: datetime | None = None
    last_used_step: int | None = None
    """The last time step a code was accepted for: codes of that step and earlier are refused."""

    @property
    def enabled(self) -> bool:
        return self.enabled_at is not None and self.secret is not None


class ChallengePurpose(StrEnum):
    SIGN_IN = "sign_in"
    """The password was right; a code completes the sign-in."""
    ENROLMENT = "enrolment"
    """The password was right, but the clinic requires a second factor the person does not have yet."""


@dataclass(eq=False, kw_only=True)
class MfaChallengeRecord:
    """A sign-in waiting for its second factor: what the password step decided, kept for the code step."""

    id: MfaChallengeId
    user_id: UserId
    tenant_id: TenantId
    """The clinic the password step chose; the code step signs in there (if the person still may)."""
    purpose: ChallengePurpose
    token_hash: str
    created_at: datetime
    expires_at: datetime
    device_label: str | None = None
    fingerprint_hash: str | None = None
    ip: str | None = None
    attempts: int = 0
    used_at: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at and self.attempts < MAX_CHALLENGE_ATTEMPTS


@dataclass(frozen=True, slots=True)
class MfaChallenge:
    """Login's answer when the password was right and a code must follow (``POST /v1/auth/mfa/verify``)."""

    challenge_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class MfaEnrolmentChallenge:
    """Login's answer when the clinic requires a second factor the person has not set up yet."""

    enrolment_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class MfaEnrolment:
    """A started enrolment: the secret for manual entry and the URI the QR code encodes."""

    secret: str
    otpauth_uri: str


@dataclass(frozen=True, slots=True)
class MfaStatus:
    enabled: bool
    enabled_at: datetime | None
    enrolment_pending: bool
    recovery_codes_left: int


class InvalidMfaChallenge(Unauthenticated):
    code = "invalid_mfa_challenge"

    @property
    def detail(self) -> str:
        return "the sign-in challenge is invalid, expired, used or out of attempts; sign in again"


class InvalidMfaCode(Unauthenticated):
    code = "invalid_mfa_code"

    @property
    def detail(self) -> str:
        return "the code is wrong, expired or already used"


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"

    @property
    def detail(self) -> str:
        return "a second factor is already set up; disable it first to set up another"


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"

    @property
    def detail(self) -> str:
        return "no second factor is set up for this account"


class NoMfaEnrolment(Conflict):
    code = "no_mfa_enrolment"

    @property
    def detail(self) -> str:
        return "start an enrolment before confirming it"
