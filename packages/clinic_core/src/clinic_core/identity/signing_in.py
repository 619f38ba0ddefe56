"""The last step of every sign-in, whichever way the person proved who they are.

A password alone opens a session only for an account without a second factor in a clinic that does not
require one; otherwise it earns a challenge. ``start_session`` is the one place a sign-in turns into a
session and tokens, shared by the password step and by the code step that completes a challenge.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.issuing import issue_tokens, open_session
from clinic_core.identity.model import SessionPolicy, TokenPair, User
from clinic_core.identity.ports import AccessTokenIssuer
from clinic_core.identity.second_factor import (
    ENROLMENT_CHALLENGE_LIFETIME,
    SIGN_IN_CHALLENGE_LIFETIME,
    ChallengePurpose,
    MfaChallenge,
    MfaChallengeId,
    MfaChallengeRecord,
    MfaEnrolmentChallenge,
)
from clinic_core.shared.ids import new_uuid
from clinic_core.shared.tokens import digest, new_secret
from clinic_core.tenancy.model import Membership, Tenant
from clinic_core.tenancy.permissions import STAFF_ROLES

SignInOutcome = TokenPair | MfaChallenge | MfaEnrolmentChallenge
"""What a correct password gets: tokens, or a challenge that a second factor (or enrolling one) completes."""


def second_factor_needed(user: User, tenant: Tenant, membership: Membership) -> ChallengePurpose | None:
    """Whether this sign-in needs a code (the account has a second factor) or an enrolment first (the
    clinic requires one of its staff, and this person has none)."""
    if user.has_mfa:
        return ChallengePurpose.SIGN_IN
    if tenant.security.require_mfa_for_staff and membership.roles & STAFF_ROLES:
        return ChallengePurpose.ENROLMENT
    return None


async def issue_challenge(
    uow: UnitOfWork,
    membership: Membership,
    purpose: ChallengePurpose,
    now: datetime,
    *,
    device_label: str | None,
    fingerprint_hash: str | None,
    context: RequestContext,
) -> MfaChallenge | MfaEnrolmentChallenge:
    """Store a single-use challenge for the sign-in the password step decided on; the token is shown once."""
    token = new_secret()
    lifetime = (
        SIGN_IN_CHALLENGE_LIFETIME if purpose is ChallengePurpose.SIGN_IN else ENROLMENT_CHALLENGE_LIFETIME
    )
    await uow.mfa_challenges.add(
        MfaChallengeRecord(
            id=MfaChallengeId(new_uuid()),
            user_id=membership.user_id,
            tenant_id=membership.tenant_id,
            purpose=purpose,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + lifetime,
            device_label=(device_label or "").strip()[:100] or None,
            fingerprint_hash=fingerprint_hash,
            ip=context.ip,
        )
    )
    seconds = int(lifetime.total_seconds())
    if purpose is ChallengePurpose.SIGN_IN:
        return MfaChallenge(challenge_token=token, expires_in=seconds)
    return MfaEnrolmentChallenge(enrolment_token=token, expires_in=seconds)


async def start_session(
    uow: UnitOfWork,
    issuer: AccessTokenIssuer,
    tenant: Tenant,
    membership: Membership,
    now: datetime,
    *,
    policy: SessionPolicy,
    context: RequestContext,
    device_label: str | None,
    fingerprint_hash: str | None,
    second_factor: str | None = None,
) -> TokenPair:
    """Open a session in ``tenant`` for a person who has proven who they are, issue its tokens and record
    the sign-in. The caller commits."""
    await uow.bind(Scope(tenant_id=tenant.id, user_id=membership.user_id))
    session = open_session(membership, now, context, policy=policy, label=device_label)
    session.fingerprint_hash = fingerprint_hash
    await uow.sessions.add(session)
    tokens = await issue_tokens(uow, issuer, session, membership, now)
    event = AuditEvent.record(
        AuditAction.SIGN_IN_SUCCEEDED,
        tenant_id=tenant.id,
        at=now,
        context=context,
        actor_user_id=membership.user_id,
        target=AuditTarget("session", str(session.id)),
    )
    if second_factor is not None:  # "totp" or "recovery_code": how the sign-in was completed
        event = replace(event, details={"second_factor": second_factor})
    await uow.audit.add(event)
    return tokens
