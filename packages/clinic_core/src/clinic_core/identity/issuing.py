"""Opening sessions and issuing the token pair of a session: shared by login, refresh and tenant switch."""

from __future__ import annotations

from datetime import datetime

from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.identity.model import (
    ACCESS_TOKEN_LIFETIME,
    AuthSession,
    RefreshToken,
    SessionPolicy,
    TokenPair,
)
from clinic_core.identity.ports import AccessClaims, AccessTokenIssuer
from clinic_core.shared.ids import RefreshTokenId, SessionId, new_uuid
from clinic_core.shared.tokens import digest, new_secret
from clinic_core.tenancy.model import Membership


def open_session(
    membership: Membership,
    now: datetime,
    context: RequestContext,
    *,
    policy: SessionPolicy,
    label: str | None = None,
    fingerprint: str | None = None,
) -> AuthSession:
    expires_at = now + policy.absolute_lifetime
    return AuthSession(
        id=SessionId(new_uuid()),
        user_id=membership.user_id,
        tenant_id=membership.tenant_id,
        created_at=now,
        last_used_at=now,
        expires_at=expires_at,
        idle_expires_at=min(now + policy.idle_timeout, expires_at),
        user_agent=context.user_agent,
        ip=context.ip,
        device_label=(label or "").strip()[:100] or None,
        fingerprint_hash=fingerprint_hash(fingerprint),
    )


def fingerprint_hash(fingerprint: str | None) -> str | None:
    """The stored form of a device fingerprint: only its digest (it identifies a device; keep it opaque)."""
    return digest(fingerprint) if fingerprint else None


async def issue_tokens(
    uow: UnitOfWork, issuer: AccessTokenIssuer, session: AuthSession, membership: Membership, now: datetime
) -> TokenPair:
    """Add a new refresh token to the session's family and sign an access token for the membership.

    The refresh token lives as long as the session may: an idle session dies through its idle deadline,
    which every refresh checks, not through its token.
    """
    secret = new_secret()
    await uow.refresh_tokens.add(
        RefreshToken(
            id=RefreshTokenId(new_uuid()),
            session_id=session.id,
            token_hash=digest(secret),
            issued_at=now,
            expires_at=session.expires_at,
        )
    )
    access = issuer.issue(
        AccessClaims(
            user_id=membership.user_id,
            tenant_id=membership.tenant_id,
            session_id=session.id,
            roles=membership.roles,
            unit_ids=frozenset(str(u) for u in membership.unit_ids),
            issued_at=now,
            expires_at=now + ACCESS_TOKEN_LIFETIME,
        )
    )
    return TokenPair(access, secret, int(ACCESS_TOKEN_LIFETIME.total_seconds()))
