"""The password policy: length bounds, zxcvbn's common list and score, the person's and the clinic's words."""

from __future__ import annotations

import time

import pytest
from returns.result import Failure, Result, Success
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from clinic_core.identity.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    check_password,
    normalise_password,
    personal_words,
)
from clinic_core.shared.errors import InvalidInput

# What SignUp passes: the email's local part, the owner's name, the clinic's name.
SIGN_UP_CONTEXT = ("bia.lima", "Bia Lima Souza", "Clínica Sorriso Feliz")


def _full_width(text: str) -> str:
    """``text`` as typed on a CJK keyboard: U+FF01..U+FF5E, which NFKC maps back to ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def _refusal(result: Result[str, InvalidInput]) -> tuple[str, str, str]:
    assert isinstance(result, Failure), result
    (error,) = result.failure().errors
    assert error.message  # every refusal says why, for a person to read
    return error.field, error.code, error.message


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("password1234", "common_password"),  # on zxcvbn's list as it is
        ("qwertyuiop123", "common_password"),
        ("PASSWORD1234", "common_password"),  # the list is compared case-insensitively
        (_full_width("password1234"), "common_password"),  # NFKC makes it password1234
        ("123456789012", "too_guessable"),  # a common password and a sequence
        ("P@ssw0rd1234", "too_guessable"),  # l33t
        ("4321drowssap", "too_guessable"),  # reversed
        ("abc123456789", "common_password"),
        ("aaaaaaaaaaaa", "too_guessable"),
        ("qazwsxedcrfvtgb", "common_password"),  # a keyboard walk on the list
    ],
)
def test_common_and_easily_guessed_passwords_are_refused(password: str, code: str) -> None:
    assert _refusal(check_password(password))[:2] == ("password", code)


@pytest.mark.parametrize(
    "password", ["Senha@123456", "Mudar@123456", "meuamor12345", "jesuscristo1", "deusefiel123"]
)
def test_common_brazilian_passwords_that_zxcvbn_alone_lets_through_are_refused(password: str) -> None:
    # Why PT_BR_COMMON_WORDS exists: zxcvbn's English-centric lists score these 3 or more on their own.
    assert zxcvbn(password)["score"] >= 3
    assert _refusal(check_password(password))[:2] == ("password", "too_guessable")


@pytest.mark.parametrize(
    "password",
    [
        "bia.lima2026!",  # the email's local part
        "BiaLima#2026",
        "b14l1m4souza",  # l33t on the name
        "souza lima bia",  # the name's words, shuffled
        "sorrisofeliz1",  # the clinic's name
        "Sorriso@Feliz",
        "clinicasorriso",  # without its accent, as people type it
        "Clínica Sorriso Feliz",
    ],
)
def test_passwords_built_on_the_persons_or_the_clinics_words_are_refused(password: str) -> None:
    field, code, message = _refusal(check_password(password, context=SIGN_UP_CONTEXT))
    assert (field, code) == ("password", "too_close_to_personal_info")
    assert message == "the password is too close to your name, email or clinic"


def test_the_same_passwords_pass_for_someone_else() -> None:
    # What makes "Sorriso@Feliz" weak is whose it is, not the words themselves.
    assert isinstance(check_password("Sorriso@Feliz", context=("ana", "Ana Souza", "Clínica A")), Success)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # famous, yet zxcvbn 4.5 scores it 4; the other tests use it
        "tres pratos de trigo para tres tigres",
        "paçoca voadora no telhado",
        "quatro gatos pardos dançam",
        "marmota azul come pastel",
        "violet kettle drums under rain",
        "x7#kQ9!vLm2$",  # twelve random characters
    ],
)
def test_long_uncommon_passphrases_are_accepted(password: str) -> None:
    assert check_password(password, context=SIGN_UP_CONTEXT) == Success(password)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("k" * 0, "too_short"),
        ("violet kett", "too_short"),  # 11
        ("violet kettle drums " * 6 + "under rai", "too_long"),  # 129
    ],
)
def test_the_length_bounds(password: str, code: str) -> None:
    assert _refusal(check_password(password))[:2] == ("password", code)


def test_the_bounds_themselves_are_accepted() -> None:
    shortest = "violet kettl"
    longest = ("violet kettle drums " * 7)[:MAX_LENGTH]
    assert (len(shortest), len(longest)) == (MIN_LENGTH, MAX_LENGTH)
    assert check_password(shortest) == Success(shortest)
    assert check_password(longest) == Success(longest)


def test_length_is_counted_after_nfkc() -> None:
    # "ﬃ" is one character that NFKC spells "ffi": ten characters typed, twelve kept.
    typed = "ﬃ violet kt"
    assert len(typed) == MIN_LENGTH - 1
    assert check_password(typed) == Success("ffi violet kt")
    assert check_password(typed).unwrap() == normalise_password(typed)


def test_the_accepted_password_is_returned_normalised() -> None:
    typed = _full_width("violet") + " kettle drums"
    assert check_password(typed) == Success("violet kettle drums")


@pytest.mark.parametrize(("password", "code"), [("short", "too_short"), ("password1234", "common_password")])
def test_the_field_name_propagates(password: str, code: str) -> None:
    assert _refusal(check_password(password, field="new_password"))[:2] == ("new_password", code)


def test_only_the_first_characters_are_scored_so_the_cost_is_bounded() -> None:
    # Every l33t symbol zxcvbn knows, repeated: unbounded, zxcvbn would try ~740 spellings of 128 characters.
    adversarial = ("4@8({[<3691!|7O0$5+%2" * 7)[:MAX_LENGTH]
    started = time.perf_counter()
    check_password(adversarial)
    assert time.perf_counter() - started < 2.0


def test_what_follows_the_scored_prefix_cannot_make_a_good_password_bad() -> None:
    password = ("violet kettle drums under rain " * 4)[:100] + "password" * 3
    assert check_password(password) == Success(password)


def test_personal_words_split_join_and_fold_accents() -> None:
    words = personal_words(("bia.lima@sorriso-odonto.com.br", "Clínica São João"))
    assert {"bia.lima", "bia", "lima", "bialima", "sorriso", "odonto", "sorrisoodonto"} <= set(words)
    assert {"clínica", "clinica", "são", "sao", "joão", "joao", "clinicasaojoao"} <= set(words)
    assert "com" not in words  # the top-level domain is nobody's word
