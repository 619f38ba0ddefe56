"""The password policy (NIST SP 800-63B, OWASP ASVS 2.1): length, not composition rules."""

from __future__ import annotations

import unicodedata

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 128


def normalise_password(password: str) -> str:
    """The form a password is hashed in, and so must be verified in: one spelling per password."""
    return unicodedata.normalize("NFKC", password)


def check_password(
    password: str, *, context: tuple[str, ...] = (), field: str = "password"
) -> Result[str, InvalidInput]:
    """The password (NFKC-normalised) if acceptable; ``context`` holds words it must not be built on."""
    normalised = normalise_password(password)
    if len(normalised) < MIN_LENGTH:
        return Failure(InvalidInput.of(field, "too_short", f"use at least {MIN_LENGTH} characters"))
    if len(normalised) > MAX_LENGTH:
        return Failure(InvalidInput.of(field, "too_long", f"use at most {MAX_LENGTH} characters"))
    lowered = normalised.casefold()
    for word in context:
        word = word.casefold().strip()
        if len(word) >= 4 and (lowered == word or (word in lowered and len(lowered) - len(word) < 6)):
            return Failure(
                InvalidInput.of(
                    field, "too_guessable", "the password is too close to your name, email or clinic"
                )
            )
    return Success(normalised)
