"""Fast stand-ins for the slow or secret-bearing ports."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from uuid import UUID

from clinic_core.identity.model import ACCESS_TOKEN_LIFETIME
from clinic_core.identity.ports import AccessClaims
from clinic_core.shared.clock import Clock, SystemClock
from clinic_core.shared.ids import SessionId, TenantId, UserId
from clinic_core.tenancy.permissions import Role


class FakePasswordHasher:
    """SHA-256 with a fixed salt: instant, deterministic, and never to be used outside tests."""

    async def hash(self, password: str) -> str:
        return "fake$" + hashlib.sha256(b"salt" + password.encode()).hexdigest()

    async def verify(self, password: str, password_hash: str) -> bool:
        return hmac.compare_digest(await self.hash(password), password_hash)

    async def burn(self, password: str) -> None:
        await self.hash(password)


class FakeAccessTokenIssuer:
    """An unsigned, readable token (JSON of the claims); ``decode`` reads it back, ``verify`` checks expiry.

    Anybody can forge one: tests only.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()

    def issue(self, claims: AccessClaims) -> str:
        return json.dumps(
            {
                "sub": str(claims.user_id),
                "tid": str(claims.tenant_id),
                "sid": str(claims.session_id),
                "roles": sorted(claims.roles),
                "units": sorted(claims.unit_ids),
                "exp": int(claims.expires_at.timestamp()),
            }
        )

    @staticmethod
    def decode(token: str) -> dict[str, object]:
        decoded: dict[str, object] = json.loads(token)
        return decoded

    def verify(self, token: str) -> AccessClaims | None:
        try:
            raw = json.loads(token)
            expires_at = datetime.fromtimestamp(int(raw["exp"]), UTC)
            claims = AccessClaims(
                user_id=UserId(UUID(raw["sub"])),
                tenant_id=TenantId(UUID(raw["tid"])),
                session_id=SessionId(UUID(raw["sid"])),
                roles=frozenset(Role(r) for r in raw["roles"]),
                unit_ids=frozenset(raw["units"]),
                issued_at=expires_at - ACCESS_TOKEN_LIFETIME,
                expires_at=expires_at,
            )
        except (ValueError, KeyError, TypeError):
            return None
        return claims if claims.expires_at > self._clock.now() else None


class FakeSecretBox:
    """Reversible and tamper-evident, but keyless: tests only. The output is not the plaintext, so a
    test that finds a secret in clear in storage catches a use case that forgot to encrypt."""

    def encrypt(self, plaintext: bytes, *, associated: str = "") -> str:
        tag = hashlib.sha256(associated.encode() + b"|" + plaintext).hexdigest()[:16]
        return f"fake${tag}${base64.urlsafe_b64encode(plaintext[::-1]).decode()}"

    def decrypt(self, sealed: str, *, associated: str = "") -> bytes:
        try:
            prefix, tag, body = sealed.split("$")
            plaintext = base64.urlsafe_b64decode(body.encode())[::-1]
        except (ValueError, TypeError) as error:
            raise ValueError("not sealed by FakeSecretBox") from error
        expected = hashlib.sha256(associated.encode() + b"|" + plaintext).hexdigest()[:16]
        if prefix != "fake" or not hmac.compare_digest(tag, expected):
            raise ValueError("not sealed by FakeSecretBox for this owner")
        return plaintext
