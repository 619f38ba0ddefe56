"""Fast stand-ins for the slow or secret-bearing ports."""

from __future__ import annotations

import hashlib
import hmac
import json
from clinic_core.identity.ports import AccessClaims


class FakePasswordHasher:
    """SHA-256 with a fixed salt: instant, deterministic, and never to be used outside tests."""

    async def hash(self, password: str) -> str:
        return "fake$" + hashlib.sha256(b"salt" + password.encode()).hexdigest()

    async def verify(self, password: str, password_hash: str) -> bool:
        return hmac.compare_digest(await self.hash(password), password_hash)

    async def burn(self, password: str) -> None:
        await self.hash(password)


class FakeAccessTokenIssuer:
    """An unsigned, readable token (JSON of the claims); ``decode`` reads it back."""

    def issue(self, claims: AccessClaims) -> str:
        return json.dumps({"sub": str(claims.user_id), "tid": str(claims.tenant_id),
                           "sid": str(claims.session_id), "roles": sorted(claims.roles),
                           "units": sorted(claims.unit_ids), "exp": int(claims.expires_at.timestamp())})

    @staticmethod
    def decode(token: str) -> dict[str, object]:
        decoded: dict[str, object] = json.loads(token)
        return decoded
