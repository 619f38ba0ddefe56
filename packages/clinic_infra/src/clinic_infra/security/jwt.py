"""RS256 access tokens (RFC 7519) signed with a key identified by its RFC 7638 thumbprint.

The key is parsed once, when the key ring is built: loading a PEM costs tens of milliseconds, far more
than verifying a signature. Without a configured key, one is generated on first start and kept, with
0600 permissions, in the data directory (outside the repository).

Verification trusts nothing the token says about itself: the algorithm is RS256 whatever its header
claims, the key is one of ours by ``kid``, and ``typ`` must be ``at+jwt`` (RFC 9068), so no other JWT
signed by the same key passes as an access token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from clinic_core.identity.ports import AccessClaims
from clinic_core.shared.ids import SessionId, TenantId, UserId, new_uuid
from clinic_core.tenancy.permissions import Role

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
TOKEN_TYPE = "at+jwt"
KEY_BITS = 3072
LEEWAY_SECONDS = 30


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ValueError("the JWT signing key must be an RSA private key of at least 2048 bits")
        return cls(_thumbprint(key.public_key()), key)

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def split_pem_keys(text: str) -> list[SigningKey]:
    """Every private key in a text of concatenated PEM blocks (the previous keys, oldest or newest first)."""
    blocks = re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", text, re.S)
    return [SigningKey.from_pem(block.encode()) for block in blocks]


def _thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638: SHA-256 over the required members, lexicographic order, no whitespace."""
    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def load_or_create_signing_key(pem: str | None, path: Path | None, data_dir: Path) -> SigningKey:
    if pem:
        return SigningKey.from_pem(pem.encode())
    if path is not None:
        return SigningKey.from_pem(path.read_bytes())
    generated = data_dir / "jwt-signing-key.pem"
    if generated.exists():
        return SigningKey.from_pem(generated.read_bytes())
    generated.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if not publish(generated, pem_bytes):
        # Another process (a second worker starting at the same time) published its key first: use
        # that one, or tokens signed by one worker would not verify at the other.
        return SigningKey.from_pem(generated.read_bytes())
    log.warning("generated a JWT signing key", extra={"path": str(generated)})
    return SigningKey.from_pem(pem_bytes)


def publish(path: Path, content: bytes) -> bool:
    """Write ``content`` to ``path`` unless it exists, atomically: a reader sees no file or the whole one.

    Written in full to a 0600 temporary file beside it, then hard-linked into place; the link fails if
    ``path`` exists, so of processes racing, exactly one wins. False when another one won.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:  # mkstemp creates it 0600
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)


class KeyRing(Protocol):
    def signing_key(self) -> SigningKey: ...

    def verification_key(self, kid: str) -> rsa.RSAPublicKey | None: ...

    def jwks(self) -> dict[str, Any]: ...


class StaticKeyRing:
    """Keys given by configuration: one signs, the ``previous`` ones only verify."""

    def __init__(self, signing: SigningKey, previous: tuple[SigningKey, ...] = ()) -> None:
        self._signing = signing
        self._verifying = {k.kid: k.private_key.public_key() for k in (signing, *previous)}
        self._jwks = {"keys": [k.public_jwk() for k in (signing, *previous)]}

    def signing_key(self) -> SigningKey:
        return self._signing

    def verification_key(self, kid: str) -> rsa.RSAPublicKey | None:
        return self._verifying.get(kid)

    def jwks(self) -> dict[str, Any]:
        return self._jwks


class JwtAccessTokens:
    """Issues and verifies access tokens; publishes the verification keys as a JWKS document.

    Give it one signing key (and ``previous`` ones that still verify), or a key ring that rotates them.
    """

    def __init__(
        self,
        keys: SigningKey | KeyRing,
        *,
        issuer: str,
        audience: str,
        previous: tuple[SigningKey, ...] = (),
    ) -> None:
        self._ring: KeyRing = StaticKeyRing(keys, previous) if isinstance(keys, SigningKey) else keys
        self._issuer, self._audience = issuer, audience

    def issue(self, claims: AccessClaims) -> str:
        payload = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(claims.user_id),
            "tid": str(claims.tenant_id),
            "sid": str(claims.session_id),
            "roles": sorted(r.value for r in claims.roles),
            "units": sorted(claims.unit_ids),
            "iat": int(claims.issued_at.timestamp()),
            "nbf": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "jti": str(new_uuid()),
        }
        signing = self._ring.signing_key()
        return jwt.encode(
            payload, signing.private_key, algorithm=ALGORITHM, headers={"kid": signing.kid, "typ": TOKEN_TYPE}
        )

    def verify(self, token: str) -> AccessClaims | None:
        try:
            header = jwt.get_unverified_header(token)
            # The header is only trusted this far: it picks one of our keys, and the signature then
            # covers it. jwt.decode refuses any alg but RS256 whatever the header says.
            kid = header.get("kid")
            key = self._ring.verification_key(kid) if isinstance(kid, str) else None
            if key is None or not _is_access_token_type(header.get("typ")):
                return None
            raw = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "tid", "sid", "iss", "aud", "jti"]},
            )
            return AccessClaims(
                user_id=UserId(UUID(raw["sub"])),
                tenant_id=TenantId(UUID(raw["tid"])),
                session_id=SessionId(UUID(raw["sid"])),
                roles=frozenset(Role(r) for r in raw.get("roles", [])),
                unit_ids=frozenset(str(UUID(u)) for u in raw.get("units", [])),
                issued_at=datetime.fromtimestamp(raw["iat"], UTC),
                expires_at=datetime.fromtimestamp(raw["exp"], UTC),
            )
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            return None

    def jwks(self) -> dict[str, Any]:
        return self._ring.jwks()


def _is_access_token_type(typ: object) -> bool:
    """``at+jwt``, compared as RFC 7515 (4.1.9) asks: ignoring case and an ``application/`` prefix."""
    return isinstance(typ, str) and typ.lower().removeprefix("application/") == TOKEN_TYPE
