"""Cross-cutting ports: rate limiting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateDecision:
    """``retry_after_seconds``: until the next hit would be allowed (0 while tokens are left).
    ``reset_seconds``: until the bucket is full again (0 from a limiter that cannot tell)."""

    allowed: bool
    remaining: int
    retry_after_seconds: int
    reset_seconds: int = 0


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        """Take one token from the bucket under ``key``: it holds at most ``limit`` tokens and refills
        continuously at ``limit`` per ``window_seconds``; the hit is allowed while a whole token is left."""
        ...


class SecretBox(Protocol):
    """Authenticated encryption for secrets the product must read back (TOTP seeds), unlike passwords.

    ``associated`` binds a sealed value to its owner (say, the user id): a value copied onto another row
    does not open there.
    """

    def encrypt(self, plaintext: bytes, *, associated: str = "") -> str: ...

    def decrypt(self, sealed: str, *, associated: str = "") -> bytes:
        """Raises ValueError when ``sealed`` was not encrypted by this box's key for ``associated``."""
        ...
