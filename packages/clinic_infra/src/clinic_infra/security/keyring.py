"""Signing keys that rotate without a moment where one process's tokens fail at another.

A ``DirectoryKeyRing`` keeps one PEM per key in a directory, named ``<active-from>-<kid>.pem``. Every
process rescans it every ``reload_seconds`` and signs with the newest key already active, while every key
still on disk verifies and is published in the JWKS. ``rotate_keys`` adds a key that becomes active only
after every process has had time to load it (twice the reload interval), so a token signed with it never
meets a process that cannot verify it; and it prunes the keys whose tokens have all expired.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clinic_core.identity.model import ACCESS_TOKEN_LIFETIME
from clinic_infra.security.jwt import KEY_BITS, LEEWAY_SECONDS, SigningKey, publish

log = logging.getLogger(__name__)

RELOAD_SECONDS = 30.0
_KEY_FILE = re.compile(r"(?P<active>\d+)-(?P<kid>[A-Za-z0-9_-]+)\.pem")


@dataclass(frozen=True)
class RingKey:
    key: SigningKey
    active_from: int
    """Unix time from which it may sign."""
    path: Path


class DirectoryKeyRing:
    def __init__(
        self,
        directory: Path,
        *,
        reload_seconds: float = RELOAD_SECONDS,
        clock: Callable[[], float] = time.time,
        legacy_key: Path | None = None,
    ) -> None:
        self._dir, self._reload_seconds, self._clock = directory, reload_seconds, clock
        self._keys: dict[str, RingKey] = {}
        self._checked_at = float("-inf")
        _ensure_a_key(directory, legacy_key)
        self._rescan()

    def all_keys(self) -> list[RingKey]:
        """Every key on disk, oldest activation first."""
        self._maybe_rescan()
        return sorted(self._keys.values(), key=lambda k: (k.active_from, k.key.kid))

    def signing_key(self) -> SigningKey:
        now = self._clock()
        active = [k for k in self.all_keys() if k.active_from <= now]
        return (active[-1] if active else self.all_keys()[0]).key

    def verification_key(self, kid: str) -> rsa.RSAPublicKey | None:
        self._maybe_rescan()
        found = self._keys.get(kid)
        return found.key.private_key.public_key() if found else None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.key.public_jwk() for k in self.all_keys()]}

    def _maybe_rescan(self) -> None:
        if self._clock() - self._checked_at >= self._reload_seconds:
            self._rescan()

    def _rescan(self) -> None:
        self._checked_at = self._clock()
        found: dict[str, RingKey] = {}
        for path in self._dir.glob("*.pem"):
            match = _KEY_FILE.fullmatch(path.name)
            if match is None:
                continue
            kid = match["kid"]
            known = self._keys.get(kid)
            try:
                found[kid] = known or RingKey(
                    SigningKey.from_pem(path.read_bytes()), int(match["active"]), path
                )
            except (OSError, ValueError):
                log.exception("skipped an unreadable signing key file", extra={"file": path.name})
        if found:
            self._keys = found


def _ensure_a_key(directory: Path, legacy_key: Path | None) -> None:
    """A first key, active at once: the legacy single-file key if there is one, else a new one."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(_KEY_FILE.fullmatch(p.name) for p in directory.glob("*.pem")):
        return
    pem = legacy_key.read_bytes() if legacy_key is not None and legacy_key.exists() else _new_pem()
    key = SigningKey.from_pem(pem)
    publish(directory / f"0-{key.kid}.pem", pem)  # racing processes: one file wins, all read it next


def _new_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Rotation:
    new: RingKey
    removed: list[str]
    """Kids of the keys deleted because every token they signed has expired."""


def rotate_keys(
    directory: Path, *, now: float | None = None, reload_seconds: float = RELOAD_SECONDS
) -> Rotation:
    """Add a key that starts signing once every process has loaded it; prune keys no token needs."""
    now = time.time() if now is None else now
    ring = DirectoryKeyRing(directory, reload_seconds=0, clock=lambda: now)
    pem = _new_pem()
    key = SigningKey.from_pem(pem)
    active_from = int(now + 2 * reload_seconds)
    path = directory / f"{active_from}-{key.kid}.pem"
    publish(path, pem)
    # A key is still needed while the key after it has been signing for less than a token's lifetime.
    horizon = now - ACCESS_TOKEN_LIFETIME.total_seconds() - LEEWAY_SECONDS
    existing = ring.all_keys()
    removed = []
    for older, newer in zip(existing, [*existing[1:], RingKey(key, active_from, path)], strict=True):
        if newer.active_from <= horizon:
            older.path.unlink(missing_ok=True)
            removed.append(older.key.kid)
    return Rotation(RingKey(key, active_from, path), removed)
