"""What a patient search asks for, and the cursor that continues it.

Name search matches folded words (accents and case aside): every word of the query must begin some word
of the patient's name or social name (``mar sil`` finds ``Maria da Silva``; ``jose`` finds ``José``), or
begin the digits of their CPF, a phone or the microchip. That is the *prefix* mode, served by an index on
every database. The *partial* mode adds names that contain the query's words anywhere, in order
(``ria sil`` finds ``Maria da Silva``); a search whose first page finds fewer patients than asked for by
prefix switches to it by itself, and the cursor keeps the mode for the next pages.

Results come in the order of the folded name, then id; the cursor holds both.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.application.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinic_core.patients.model import (
    Identifier,
    Microchip,
    PatientId,
    PatientKind,
    PatientStatus,
    Species,
    digits_of,
    normalise_tag,
    search_words,
)
from clinic_core.shared.errors import FieldError, InvalidInput
from clinic_core.shared.ids import UnitId
from clinic_core.shared.values import CPF, Phone

MAX_QUERY_WORDS = 8
INFIX_CANDIDATES = 1000
"""Partial matching asks the database for at most this many names containing the words at a time (in name
order, after the cursor)."""
_DIGITS_QUERY = re.compile(r"[0-9+().\-\s]+")


class MatchMode(StrEnum):
    PREFIX = "prefix"
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class PatientQuery:
    """Filters of a search; every one given must match. ``words``: folded, each a prefix of some term.
    ``infix``: the folded query for partial matching (None: prefix only)."""

    words: tuple[str, ...] = ()
    cpf: CPF | None = None
    phone_digits: frozenset[str] = frozenset()
    microchip: Microchip | None = None
    identifier: Identifier | None = None
    kind: PatientKind | None = None
    species: Species | None = None
    status: PatientStatus | None = None
    tag: str | None = None
    unit_id: UnitId | None = None
    visible_units: frozenset[UnitId] | None = None
    """Set for a member who sees only some units' patients: those units' and the unit-less ones."""
    patient_ids: frozenset[PatientId] | None = None
    """Only these patients (a portal user's own family)."""
    infix: str | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.words)


@dataclass(frozen=True, slots=True)
class SearchCursor:
    search_name: str
    id: UUID
    mode: MatchMode

    def encode(self) -> str:
        raw = json.dumps(
            {"n": self.search_name, "i": str(self.id), "m": self.mode.value}, separators=(",", ":")
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> SearchCursor | None:
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            return cls(str(raw["n"]), UUID(str(raw["i"])), MatchMode(raw["m"]))
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None


@dataclass(frozen=True, slots=True)
class SearchPage:
    after: SearchCursor | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class SearchInput:
    """A search as the caller typed it (strings, unchecked)."""

    q: str | None = None
    cpf: str | None = None
    phone: str | None = None
    microchip: str | None = None
    identifier: str | None = None
    """``system|value``."""
    kind: str | None = None
    species: str | None = None
    status: str | None = None
    tag: str | None = None
    unit_id: str | None = None
    partial: bool = False
    cursor: str | None = None
    limit: int | None = None


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], raw: str | None, field: str, errors: list[FieldError]) -> E | None:
    if raw is None or raw == "":
        return None
    try:
        return kind(raw.strip().lower())
    except ValueError:
        errors.append(FieldError(field, "invalid_choice", f"use one of {', '.join(m.value for m in kind)}"))
        return None


def phone_digits_of(raw: str) -> frozenset[str] | None:
    """The digit strings a phone query matches: as typed, and in E.164 when it reads as a number."""
    digits = digits_of(raw)
    if len(digits) < 8 or not _DIGITS_QUERY.fullmatch(raw):
        return None
    found = {digits}
    parsed = Phone.parse(raw)
    if isinstance(parsed, Success):
        e164 = digits_of(parsed.unwrap().value)
        found.add(e164)
        if e164.startswith("55"):
            found.add(e164[2:])
    return frozenset(found)


def parse_search(given: SearchInput) -> Result[tuple[PatientQuery, SearchPage], InvalidInput]:
    errors: list[FieldError] = []
    words: tuple[str, ...] = ()
    infix: str | None = None
    if given.q is not None and given.q.strip():
        q = given.q.strip()
        if len(q) > 200:
            errors.append(FieldError("q", "too_long", "at most 200 characters"))
        elif _DIGITS_QUERY.fullmatch(q) and len(digits_of(q)) >= 3:
            words = (digits_of(q),)  # a CPF, phone or microchip typed with its punctuation
        else:
            words = tuple(dict.fromkeys(w[:100] for w in search_words(q)))
            if len(words) > MAX_QUERY_WORDS:
                errors.append(FieldError("q", "too_many_words", f"at most {MAX_QUERY_WORDS} words"))
            infix = " ".join(words) or None
    cpf = None
    if given.cpf:
        parsed_cpf = CPF.parse(given.cpf, "cpf")
        if isinstance(parsed_cpf, Failure):
            errors.extend(parsed_cpf.failure().errors)
        else:
            cpf = parsed_cpf.unwrap()
    phone_digits: frozenset[str] = frozenset()
    if given.phone:
        found = phone_digits_of(given.phone)
        if found is None:
            errors.append(FieldError("phone", "invalid_phone", "a phone number has at least 8 digits"))
        else:
            phone_digits = found
    microchip = None
    if given.microchip:
        parsed_chip = Microchip.parse(given.microchip)
        if isinstance(parsed_chip, Failure):
            errors.extend(parsed_chip.failure().errors)
        else:
            microchip = parsed_chip.unwrap()
    identifier = None
    if given.identifier:
        system, bar, value = given.identifier.partition("|")
        if not bar:
            errors.append(FieldError("identifier", "invalid_identifier", "write it as system|value"))
        else:
            parsed_id = Identifier.parse(system, value, "identifier")
            if isinstance(parsed_id, Failure):
                errors.extend(parsed_id.failure().errors)
            else:
                identifier = parsed_id.unwrap()
    kind = _enum(PatientKind, given.kind, "kind", errors)
    species = _enum(Species, given.species, "species", errors)
    status = _enum(PatientStatus, given.status, "status", errors)
    tag = normalise_tag(given.tag) if given.tag else None
    unit_id = None
    if given.unit_id:
        try:
            unit_id = UnitId(UUID(given.unit_id))
        except ValueError:
            errors.append(FieldError("unit_id", "invalid_id", "not a unit id"))
    limit = DEFAULT_LIMIT if given.limit is None else given.limit
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", "out_of_range", f"limit must be 1 to {MAX_LIMIT}"))
    after = None
    if given.cursor:
        after = SearchCursor.decode(given.cursor)
        if after is None:
            errors.append(FieldError("cursor", "invalid_cursor", "not a cursor this API returned"))
    if errors:
        return Failure(InvalidInput(tuple(errors)))
    query = PatientQuery(
        words=words,
        cpf=cpf,
        phone_digits=phone_digits,
        microchip=microchip,
        identifier=identifier,
        kind=kind,
        species=species,
        status=status,
        tag=tag or None,
        unit_id=unit_id,
        infix=infix if given.partial or (after is not None and after.mode is MatchMode.PARTIAL) else None,
    )
    return Success((query, SearchPage(after, limit)))
