"""Value objects that validate on creation.

Each one is immutable and can only hold a valid value: its constructor raises ``ValueError`` on a bad value
(a programming error), and ``parse`` turns untrusted input into ``Result[VO, InvalidInput]`` (an expected
failure, reported against the field it came from).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from typing import ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from returns.result import Failure, Result, Success

from clinic_core.shared.errors import InvalidInput


class _ValueObject:
    """``parse`` for every value object: normalise, then validate, and report against a field."""

    default_field: ClassVar[str] = "value"

    @classmethod
    def normalise(cls, raw: str) -> str:
        return raw.strip()

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        """(code, message) when ``value`` (already normalised) is not valid, else None."""
        raise NotImplementedError

    @classmethod
    def parse(cls, raw: str, field: str | None = None) -> Result[Self, InvalidInput]:
        value = cls.normalise(raw)
        problem = cls.problem(value)
        if problem is not None:
            return Failure(InvalidInput.of(field or cls.default_field, *problem))
        return Success(cls(value))  # type: ignore[call-arg]

    def _check(self, value: str) -> None:
        problem = self.problem(value)
        if problem is not None:
            raise ValueError(f"{type(self).__name__}: {problem[1]}")


@dataclass(frozen=True, slots=True)
class Email(_ValueObject):
    """An email address, stored normalised: the local part in NFKC, the domain IDNA-normalised (UTS-46),
    the whole address in lower case. Every spelling that reaches one mailbox is one account."""

    default_field: ClassVar[str] = "email"
    value: str

    def __post_init__(self) -> None:
        self._check(self.value)

    @staticmethod
    def _canonical(address: str) -> str:
        """The normalised form of ``address``; raises ``EmailNotValidError`` when it is not an address."""
        # NFKC folds compatibility forms (fullwidth letters, ligatures) that email_validator's NFC keeps:
        # without it, OWNER and its fullwidth spelling are two accounts. The domain gets UTS-46 instead.
        local, at, domain = address.rpartition("@")
        if at:
            address = unicodedata.normalize("NFKC", local) + at + domain
        return validate_email(address, check_deliverability=False).normalized.lower()

    @classmethod
    def normalise(cls, raw: str) -> str:
        raw = raw.strip()
        try:
            return cls._canonical(raw)
        except EmailNotValidError:
            return raw

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        if len(value) > 254:
            return ("too_long", "an email address has at most 254 characters")
        try:
            normalised = cls._canonical(value)
        except EmailNotValidError as exc:
            return ("invalid_email", str(exc))
        if normalised != value:  # only ``parse`` normalises: a constructed Email must already be
            return ("not_normalised", f"expected {normalised!r}")
        return None

    def __str__(self) -> str:
        return self.value


# C0, DEL, C1, and the bidirectional overrides and isolates that make text display unlike its content
# ("Trojan Source", CVE-2021-42574): a name that renders as "Ana" must be "Ana".
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def has_control_characters(text: str) -> bool:
    """Whether free text holds control characters: never meant in a name, and PostgreSQL refuses NUL."""
    return _CONTROL.search(text) is not None


@dataclass(frozen=True, slots=True)
class PersonName(_ValueObject):
    """A person's name as they write it: trimmed, inner whitespace collapsed, NFC, 1 to 200 characters."""

    default_field: ClassVar[str] = "name"
    value: str

    def __post_init__(self) -> None:
        self._check(self.value)

    @classmethod
    def normalise(cls, raw: str) -> str:
        return " ".join(unicodedata.normalize("NFC", raw).split())

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        if not value:
            return ("required", "a name is required")
        if len(value) > 200:
            return ("too_long", "a name has at most 200 characters")
        if _CONTROL.search(value):
            return ("invalid_characters", "a name cannot contain control characters")
        if not any(ch.isalpha() for ch in value):
            return ("invalid_name", "a name needs at least one letter")
        return None

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Phone(_ValueObject):
    """A phone number in E.164 (``+5511987654321``). Input without a country code is read as Brazilian."""

    default_field: ClassVar[str] = "phone"
    default_region: ClassVar[str] = "BR"
    value: str

    def __post_init__(self) -> None:
        self._check(self.value)

    @classmethod
    def normalise(cls, raw: str) -> str:
        try:
            number = phonenumbers.parse(raw.strip(), cls.default_region)
        except phonenumbers.NumberParseException:
            return raw.strip()
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        if not value.startswith("+"):
            return ("invalid_phone", "not a phone number")
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return ("invalid_phone", "not a phone number")
        if not phonenumbers.is_valid_number(number):
            return ("invalid_phone", "not a valid phone number for its country")
        if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != value:
            return ("invalid_phone", "not in E.164 form")
        return None

    def __str__(self) -> str:
        return self.value


def _mod11_digit(values: list[int], weights: list[int]) -> int:
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


@dataclass(frozen=True, slots=True)
class CPF(_ValueObject):
    """A Brazilian individual taxpayer number, stored as 11 digits; check digits verified."""

    default_field: ClassVar[str] = "cpf"
    value: str

    def __post_init__(self) -> None:
        self._check(self.value)

    @classmethod
    def normalise(cls, raw: str) -> str:
        return re.sub(r"[.\-\s]", "", raw)

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        if not re.fullmatch(r"[0-9]{11}", value):  # not \d: other scripts' digits would pass
            return ("invalid_cpf", "a CPF has 11 digits")
        digits = [int(c) for c in value]
        if len(set(digits)) == 1:
            return ("invalid_cpf", "a CPF cannot repeat one digit")
        first = _mod11_digit(digits[:9], list(range(10, 1, -1)))
        second = _mod11_digit([*digits[:9], first], list(range(11, 1, -1)))
        if digits[9:] != [first, second]:
            return ("invalid_cpf", "the CPF check digits do not match")
        return None

    def formatted(self) -> str:
        v = self.value
        return f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class CNPJ(_ValueObject):
    """A Brazilian company number: 14 characters, check digits verified.

    Since July 2026 the Receita Federal issues alphanumeric CNPJs (IN RFB 2.229/2024): the first 12
    characters may be A-Z or 0-9, the two check digits stay numeric, and each character counts as its
    ASCII code minus 48 in the same modulo-11 sums. Numeric CNPJs validate exactly as before.
    """

    default_field: ClassVar[str] = "cnpj"
    value: str

    def __post_init__(self) -> None:
        self._check(self.value)

    @classmethod
    def normalise(cls, raw: str) -> str:
        return re.sub(r"[./\-\s]", "", raw).upper()

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        if not re.fullmatch(r"[0-9A-Z]{12}\d{2}", value):
            return ("invalid_cnpj", "a CNPJ has 12 letters or digits followed by 2 check digits")
        values = [ord(c) - 48 for c in value]
        if len(set(value)) == 1:
            return ("invalid_cnpj", "a CNPJ cannot repeat one character")
        weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
        first = _mod11_digit(values[:12], weights)
        second = _mod11_digit([*values[:12], first], [6, *weights])
        if values[12:] != [first, second]:
            return ("invalid_cnpj", "the CNPJ check digits do not match")
        return None

    def formatted(self) -> str:
        v = self.value
        return f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}"

    def __str__(self) -> str:
        return self.value


# Etc/GMT+3 and friends are valid IANA names, but a fixed offset: a clinic's hours would not follow the
# clocks of the place it is in (and the Etc/ sign is inverted, a classic source of off-by-six-hours bugs).
_FIXED_OFFSET = re.compile(r"Etc/(?!UTC$).*|GMT[+-]?\d*|[A-Z]{3}\d[A-Z]{0,3}")


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True, slots=True)
class TimeZone(_ValueObject):
    """An IANA time zone name (``America/Sao_Paulo``). Offsets like ``-03:00`` are refused: they ignore DST."""

    default_field: ClassVar[str] = "timezone"
    value: str

    def __post_init__(self) -> None:
        self._check(self.value)

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        if value not in _known_zones():
            return ("invalid_timezone", "not an IANA time zone name, such as America/Sao_Paulo")
        if _FIXED_OFFSET.fullmatch(value):
            return ("fixed_offset_timezone", "use the place's zone (America/Sao_Paulo), not a fixed offset")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return ("invalid_timezone", "not an IANA time zone name, such as America/Sao_Paulo")
        return None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.value)

    def __str__(self) -> str:
        return self.value


_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Slug(_ValueObject):
    """A URL-safe name: lower-case ASCII letters and digits in hyphen-separated words, 2 to 63 characters."""

    default_field: ClassVar[str] = "slug"
    value: str

    def __post_init__(self) -> None:
        self._check(self.value)

    @classmethod
    def normalise(cls, raw: str) -> str:
        return raw.strip().lower()

    @classmethod
    def problem(cls, value: str) -> tuple[str, str] | None:
        if not 2 <= len(value) <= 63:
            return ("invalid_slug", "a slug has 2 to 63 characters")
        if not _SLUG.fullmatch(value):
            return ("invalid_slug", "a slug has lower-case letters, digits and single hyphens")
        return None

    @classmethod
    def from_text(cls, text: str) -> Slug:
        """A slug for ``text``: accents dropped (``Clínica São João`` -> ``clinica-sao-joao``)."""
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        words = re.findall(r"[a-z0-9]+", ascii_text.lower())
        slug = "-".join(words)[:63].strip("-")
        return cls(slug if len(slug) >= 2 else f"{slug or 'x'}-clinic")

    def with_suffix(self, n: int) -> Slug:
        suffix = f"-{n}"
        return Slug(self.value[: 63 - len(suffix)].rstrip("-") + suffix)

    def __str__(self) -> str:
        return self.value


# ISO 4217 minor units of the currencies clinics here bill in; extend as needed.
_MINOR_UNITS: dict[str, int] = {
    "BRL": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "ARS": 2,
    "CLP": 0,
    "PYG": 0,
    "UYU": 2,
}


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency, exact (Decimal), rounded half-even to the currency's minor unit."""

    amount: Decimal
    currency: str = "BRL"

    def __post_init__(self) -> None:
        if self.currency not in _MINOR_UNITS:
            raise ValueError(f"Money: unsupported currency {self.currency!r}")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValueError("Money: the amount must be a finite Decimal")
        exponent = Decimal(1).scaleb(-_MINOR_UNITS[self.currency])
        try:
            rounded = self.amount.quantize(exponent, rounding=ROUND_HALF_EVEN)
        except InvalidOperation:  # more digits than the decimal context holds
            raise ValueError("Money: the amount is out of range") from None
        object.__setattr__(self, "amount", rounded)

    @classmethod
    def parse(
        cls, amount: str | int | Decimal, currency: str = "BRL", field: str = "price"
    ) -> Result[Money, InvalidInput]:
        if currency.upper() not in _MINOR_UNITS:
            return Failure(InvalidInput.of(f"{field}.currency", "invalid_currency", "unsupported currency"))
        try:
            value = Decimal(amount)
        except (InvalidOperation, ValueError, TypeError):
            return Failure(InvalidInput.of(f"{field}.amount", "invalid_amount", "not a decimal number"))
        if not value.is_finite():
            return Failure(InvalidInput.of(f"{field}.amount", "invalid_amount", "not a finite number"))
        try:
            return Success(cls(value, currency.upper()))
        except ValueError:
            return Failure(InvalidInput.of(f"{field}.amount", "out_of_range", "the amount is too large"))

    @property
    def minor_units(self) -> int:
        """The amount in the currency's minor unit (cents for BRL): how it is stored, as an integer."""
        return int(self.amount.scaleb(_MINOR_UNITS[self.currency]))

    @classmethod
    def from_minor_units(cls, minor: int, currency: str = "BRL") -> Money:
        """The amount ``minor`` minor units (cents for BRL) make: ``from_minor_units(1990)`` is BRL 19.90."""
        if currency not in _MINOR_UNITS:
            raise ValueError(f"Money: unsupported currency {currency!r}")
        return cls(Decimal(minor).scaleb(-_MINOR_UNITS[currency]), currency)

    @classmethod
    def zero(cls, currency: str = "BRL") -> Money:
        return cls(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, factor: int | Decimal) -> Money:
        return Money(self.amount * factor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"Money: cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{self.currency} {self.amount}"
