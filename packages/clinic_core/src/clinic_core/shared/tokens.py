"""Opaque bearer secrets (refresh tokens, invitation tokens): 256 random bits, stored only as a digest.

A plain SHA-256 is right here, unlike for passwords: the secret has full entropy, so there is nothing to
brute-force, and a database leak gives no usable token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_digest)
