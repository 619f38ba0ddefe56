"""Time-based one-time passwords (RFC 6238) and recovery codes: pure computation, no storage.

``matching_step`` is the one verification the product uses; it takes the algorithm, digits and period as
parameters only so that the RFC's own test vectors (SHA-1, SHA-256 and SHA-512, eight digits) run through
exactly the code that checks a person's six-digit SHA-1 codes.

A code is accepted for the current 30-second step and one step either side (RFC 6238 section 5.2: at most
one step of drift), and only for a step later than the last one the account used, so a code seen over a
shoulder or in a log cannot be replayed, not even a neighbouring step's code after a newer one was used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import pyotp

ISSUER: Final = "Clinic"
PERIOD_SECONDS: Final = 30
DIGITS: Final = 6
ALGORITHM: Final = "SHA1"
"""What authenticator apps support everywhere; the otpauth URI leaves it at the default."""
SECRET_BASE32_LENGTH: Final = 32
"""32 base32 characters carry 160 bits: the key length RFC 4226 section 4 recommends."""
ALLOWED_DRIFT_STEPS: Final = 1

RECOVERY_CODE_COUNT: Final = 10
RECOVERY_CODE_ALPHABET: Final = "23456789abcdefghjkmnpqrstuvwxyz"
"""No 0/o, 1/l/i: read off paper or a screen without doubt. 31 symbols, 10 of them: about 50 bits."""
RECOVERY_CODE_LENGTH: Final = 10

_DIGESTS: dict[str, Callable[..., Any]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}


def new_secret() -> str:
    """A new TOTP secret, base32 without padding: what the person types if they cannot scan."""
    return pyotp.random_base32(length=SECRET_BASE32_LENGTH)


def secret_bits(secret: str) -> int:
    return len(pyotp.TOTP(secret).byte_secret()) * 8


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://totp/...`` URI authenticator apps read (from its QR code)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def time_step(at: datetime | int, period: int = PERIOD_SECONDS) -> int:
    """RFC 6238's T: whole periods since the Unix epoch (T0 = 0)."""
    seconds = at if isinstance(at, int) else int(at.timestamp())
    return seconds // period


def code_at(secret: str, step: int, *, algorithm: str = ALGORITHM, digits: int = DIGITS) -> str:
    return pyotp.HOTP(secret, digits=digits, digest=_DIGESTS[algorithm]).at(step)


def normalise_code(code: str) -> str:
    """Codes are often typed or pasted with a space in the middle ("123 456")."""
    return "".join(code.split())


def matching_step(
    secret: str,
    code: str,
    at: datetime | int,
    *,
    last_used_step: int | None,
    algorithm: str = ALGORITHM,
    digits: int = DIGITS,
    period: int = PERIOD_SECONDS,
) -> int | None:
    """The time step ``code`` is valid for, within one step of ``at`` and after ``last_used_step``; or None.

    Every candidate step is compared (in constant time), so the time taken does not say which one matched.
    The caller must store the returned step as the account's last used one, atomically, before trusting it.
    """
    code = normalise_code(code)
    if len(code) != digits or not code.isdigit():
        return None
    now = time_step(at, period)
    found = None
    for step in range(max(0, now - ALLOWED_DRIFT_STEPS), now + ALLOWED_DRIFT_STEPS + 1):
        fresh = last_used_step is None or step > last_used_step
        if hmac.compare_digest(code_at(secret, step, algorithm=algorithm, digits=digits), code) and fresh:
            found = step if found is None else found
    return found


def new_recovery_codes() -> list[str]:
    """Ten single-use codes, shown once, grouped ``xxxxx-xxxxx`` for reading."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_code_digest(user_id: object, code: str) -> str:
    """The stored form of a recovery code: SHA-256 of the account and the code without its grouping.

    The account is mixed in so that one precomputed table cannot be tried against every account's codes.
    """
    canonical = "".join(ch for ch in code.casefold() if ch.isalnum())
    return hashlib.sha256(f"{user_id}:{canonical}".encode()).hexdigest()
