"""The password policy (NIST SP 800-63B 5.1.1, OWASP ASVS 2.1): length and guessability, no composition rules.

A password is refused when it is shorter than 12 (8 for an account with a second factor, which no longer
stands alone between an attacker and the account) or longer than 128 characters, when it is on zxcvbn's list
of common passwords, when zxcvbn scores it below 3 ("safely unguessable" starts there) given the words of
the person and the clinic it belongs to and a few very common Brazilian ones, or when at least half of it
is the person's or the clinic's words. Nothing here logs or keeps the password.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

from returns.result import Failure, Result, Success
from zxcvbn import zxcvbn  # type: ignore[import-untyped]
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]
from zxcvbn.matching import L33T_TABLE, enumerate_l33t_subs, relevant_l33t_subtable  # type: ignore[import-untyped]

from clinic_core.identity.model import User
from clinic_core.shared.errors import InvalidInput

MIN_LENGTH = 12
MIN_LENGTH_WITH_MFA = 8
MAX_LENGTH = 128
MIN_SCORE = 3
SCORED_LENGTH = 100  # what follows can only add guesses; zxcvbn's own max_length would refuse, not truncate

# zxcvbn's cost is (number of l33t substitutions tried) x (length squared): one to ~740 substitutions, so a
# 100-character run of l33t symbols takes about 9 s. The scored prefix shrinks until the product fits this
# budget, about 0.2 s on one core; a plain password is always scored on its first 100 characters.
_COST_BUDGET = 150_000

# Very common Brazilian bases that zxcvbn's English-centric lists miss or rank too low to refuse what is
# built on them: "Senha@123456", "Mudar@123456", "meuamor12345", "jesuscristo1" and "deusefiel123" all
# score 3 or 4 with zxcvbn alone (tests/unit/test_password_policy.py checks it). Chosen by reasoning
# about pt-BR defaults ("senha": password, "mudar"/"trocar": change, "acesso": access), the
# biggest football clubs, and religious and affectionate phrases; plus the words of this product.
PT_BR_COMMON_WORDS = (
    "senha",
    "mudar",
    "trocar",
    "acesso",
    "brasil",
    "teamo",
    "meuamor",
    "amorzinho",
    "jesus",
    "deus",
    "deusefiel",
    "jesuscristo",
    "flamengo",
    "corinthians",
    "palmeiras",
    "saopaulo",
    "vasco",
    "gremio",
    "cruzeiro",
    "botafogo",
    "fluminense",
    "clinica",
    "consultorio",
    "saude",
)

_COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"])
_COMMON_LISTS = frozenset({"passwords"})
_WORD_SEPARATORS = re.compile(r"[\W_]+")
# zxcvbn() stores the user inputs in a module-level dictionary before matching: one call at a time, or a
# thread could score its password against another person's name.
_ZXCVBN_LOCK = threading.Lock()


def normalise_password(password: str) -> str:
    """The form a password is hashed in, and so must be verified in: one spelling per password."""
    return unicodedata.normalize("NFKC", password)


def min_password_length(user: User | None) -> int:
    """The shortest password ``user``'s account may have (a new account: None)."""
    return MIN_LENGTH_WITH_MFA if user is not None and user.has_mfa else MIN_LENGTH


def check_password(
    password: str, *, context: tuple[str, ...] = (), field: str = "password", min_length: int = MIN_LENGTH
) -> Result[str, InvalidInput]:
    """The password (NFKC-normalised) if acceptable.

    ``context`` holds what the password must not be built on: the person's name, their email (whole, or
    its local part), the clinic's name. Each is split into words, with and without accents.
    ``min_length``: ``min_password_length(user)`` for an existing account.
    """
    normalised = normalise_password(password)
    if len(normalised) < min_length:
        return Failure(InvalidInput.of(field, "too_short", f"use at least {min_length} characters"))
    if len(normalised) > MAX_LENGTH:
        return Failure(InvalidInput.of(field, "too_long", f"use at most {MAX_LENGTH} characters"))
    refusal = _guessability_refusal(normalised, personal_words(context))
    if refusal is not None:
        code, message = refusal
        return Failure(InvalidInput.of(field, code, message))
    return Success(normalised)


def personal_words(context: Iterable[str]) -> tuple[str, ...]:
    """The words of ``context`` as zxcvbn should try them: whole, split, joined, and without accents.

    "Bia Lima" gives "bia lima", "bia", "lima", "bialima"; "bia.lima@sorriso.com.br" also gives "sorriso";
    "Clínica Sorriso" gives "clinica sorriso", "clinica", "sorriso", "clinicasorriso" as well as the accented forms.
    """
    words: dict[str, None] = {}  # ordered: zxcvbn ranks the first inputs as the likeliest
    for item in context:
        text = unicodedata.normalize("NFKC", item).casefold().strip()
        local, at, domain = text.partition("@")
        pieces = [local, domain.split(".")[0]] if at else [text]
        for piece in pieces:
            for form in dict.fromkeys((piece, _without_accents(piece))):
                parts = [p for p in _WORD_SEPARATORS.split(form) if p]
                for word in (form, *parts, "".join(parts)):
                    if len(word) >= 3:
                        words[word] = None
    return tuple(words)


def _without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _guessability_refusal(password: str, personal: tuple[str, ...]) -> tuple[str, str] | None:
    """``(code, message)`` when the password is common or too easy to guess, else None."""
    if password.casefold() in _COMMON_PASSWORDS:
        return "common_password", "this is a commonly used password"
    scored = password[: _scored_length(password)]
    with _ZXCVBN_LOCK:
        result: dict[str, Any] = zxcvbn(
            scored, user_inputs=[*personal, *PT_BR_COMMON_WORDS], max_length=len(scored)
        )
    sequence: list[dict[str, Any]] = result["sequence"]
    personal_set = frozenset(personal)
    personal_characters = sum(len(m["token"]) for m in sequence if _dictionary_word(m) in personal_set)
    # Mostly made of the person's or the clinic's words ("Clinica#Sorriso") is refused whatever the score:
    # zxcvbn counts each such word as one guess among a few, but a targeted attacker tries them first.
    if personal_characters * 2 >= len(scored) or (result["score"] < MIN_SCORE and personal_characters):
        return "too_close_to_personal_info", "the password is too close to your name, email or clinic"
    if result["score"] >= MIN_SCORE:
        return None
    if len(sequence) == 1 and (
        sequence[0].get("dictionary_name") in _COMMON_LISTS
        or _dictionary_word(sequence[0]) in PT_BR_COMMON_WORDS
    ):
        return "common_password", "this is a commonly used password"
    if any(_dictionary_word(match) in PT_BR_COMMON_WORDS for match in sequence):
        return "too_guessable", "the password is built on a very common word"
    warning = str(result["feedback"]["warning"]).rstrip(".")
    if warning:
        return "too_guessable", warning[:1].lower() + warning[1:]
    return (
        "too_guessable",
        "the password is easy to guess: add another word or two; uncommon words are better",
    )


def _dictionary_word(match: dict[str, Any]) -> str | None:
    """The user-input word a zxcvbn match was found on (after undoing l33t and reversal), if any."""
    if match.get("pattern") != "dictionary" or match.get("dictionary_name") != "user_inputs":
        return None
    return str(match["matched_word"])


def _scored_length(password: str) -> int:
    prefix = password[:SCORED_LENGTH]
    substitutions = len(enumerate_l33t_subs(relevant_l33t_subtable(prefix, L33T_TABLE))) or 1
    return max(MIN_LENGTH, min(SCORED_LENGTH, math.isqrt(_COST_BUDGET // substitutions)))
