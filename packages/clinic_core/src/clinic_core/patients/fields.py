"""Turning a caller's patient fields (plain values, unchecked) into the aggregate's values.

One parser serves registering (every field that is given, with defaults for the rest) and partial updates
(only the fields given change): a field left ``UNSET`` is not touched; ``None`` clears it. Every invalid
field is reported at once, against its path (``address.postal_code``, ``identifiers.1.value``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import Enum
from typing import Any
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.patients.model import (
    ANIMAL_ONLY,
    MAX_ALLERGIES,
    MAX_CONTACTS,
    MAX_IDENTIFIERS,
    MAX_NOTES,
    MAX_SHORT_TEXT,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    PERSON_ONLY,
    Allergy,
    AllergySeverity,
    Identifier,
    Microchip,
    PatientAddress,
    PatientKind,
    Sex,
    Species,
    estimated_birth_date,
    normalise_tag,
)
from clinic_core.shared.errors import FieldError, InvalidInput
from clinic_core.shared.ids import UnitId, UserId
from clinic_core.shared.values import CPF, Email, PersonName, Phone, has_control_characters


class Unset(Enum):
    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class AddressInput:
    street: str
    city: str
    state: str
    postal_code: str
    country: str = "BR"
    number: str | None = None
    complement: str | None = None
    district: str | None = None


@dataclass(frozen=True, slots=True)
class AllergyInput:
    substance: str
    reaction: str | None = None
    severity: str = "unknown"


@dataclass(frozen=True, slots=True)
class IdentifierInput:
    system: str
    value: str


@dataclass(frozen=True, kw_only=True)
class PatientFields:
    """The fields a caller sets. ``birth_year`` or ``age_years`` record an estimated birth date instead of
    ``birth_date`` (give one of the three)."""

    name: str | Unset = UNSET
    social_name: str | Unset | None = UNSET
    sex: str | Unset = UNSET
    birth_date: date | Unset | None = UNSET
    birth_year: int | Unset | None = UNSET
    age_years: int | Unset | None = UNSET
    phones: Sequence[str] | Unset = UNSET
    emails: Sequence[str] | Unset = UNSET
    address: AddressInput | Unset | None = UNSET
    allergies: Sequence[AllergyInput] | Unset = UNSET
    notes: str | Unset | None = UNSET
    tags: Sequence[str] | Unset = UNSET
    cpf: str | Unset | None = UNSET
    identifiers: Sequence[IdentifierInput] | Unset = UNSET
    species: str | Unset | None = UNSET
    breed: str | Unset | None = UNSET
    coat: str | Unset | None = UNSET
    neutered: bool | Unset | None = UNSET
    microchip: str | Unset | None = UNSET
    unit_id: UUID | Unset | None = UNSET
    user_id: UUID | Unset | None = UNSET

    def given(self) -> frozenset[str]:
        return frozenset(f.name for f in fields(self) if getattr(self, f.name) is not UNSET)


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.items.append(FieldError(field, code, message))

    def extend(self, result: Result[Any, InvalidInput], prefix: str = "") -> Any:
        if isinstance(result, Failure):
            for error in result.failure().errors:
                self.items.append(FieldError(prefix + error.field, error.code, error.message))
            return None
        return result.unwrap()


def _short_text(value: str | None, field: str, errors: _Errors, limit: int = MAX_SHORT_TEXT) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > limit:
        errors.add(field, "too_long", f"at most {limit} characters")
    elif has_control_characters(text):
        errors.add(field, "invalid_characters", "control characters are not allowed")
    return text or None


def _choice(kind: type[Any], raw: str, field: str, errors: _Errors) -> Any:
    try:
        return kind(raw.strip().lower())
    except ValueError:
        errors.add(field, "invalid_choice", f"use one of {', '.join(m.value for m in kind)}")
        return None


def _address(raw: AddressInput, errors: _Errors) -> PatientAddress | None:
    before = len(errors.items)
    values = {
        name: _short_text(getattr(raw, name), f"address.{name}", errors)
        for name in ("street", "number", "complement", "district", "city", "state", "postal_code")
    }
    for name in ("street", "city", "state", "postal_code"):
        if not values[name]:
            errors.add(f"address.{name}", "required", "this field is required")
    country = raw.country.strip().upper()
    if len(country) != 2 or not re.fullmatch(r"[A-Z]{2}", country):
        errors.add("address.country", "invalid_country", "use an ISO 3166-1 alpha-2 code")
    if country == "BR" and values["postal_code"] and not re.fullmatch(r"\d{5}-?\d{3}", values["postal_code"]):
        errors.add("address.postal_code", "invalid_postal_code", "a CEP has 8 digits (01304-000)")
    if len(errors.items) > before:
        return None
    cep = values["postal_code"] or ""
    if country == "BR":
        digits = cep.replace("-", "")
        cep = f"{digits[:5]}-{digits[5:]}"
    return PatientAddress(
        street=values["street"] or "",
        number=values["number"],
        complement=values["complement"],
        district=values["district"],
        city=values["city"] or "",
        state=values["state"] or "",
        postal_code=cep,
        country=country,
    )


def parse_fields(
    given: PatientFields, kind: PatientKind, today: date
) -> Result[dict[str, Any], InvalidInput]:
    """The aggregate's values for the fields given (only those), or every problem with them."""
    errors = _Errors()
    out: dict[str, Any] = {}
    names = given.given()
    other_kind = ANIMAL_ONLY if kind is PatientKind.PERSON else PERSON_ONLY
    for name in sorted(names & set(other_kind)):
        if getattr(given, name) not in (None, ()):
            errors.add(name, "not_applicable", f"a patient of kind {kind.value} has no {name}")
    if kind is PatientKind.ANIMAL and given.user_id not in (UNSET, None):
        errors.add("user_id", "not_applicable", "an animal cannot hold a client account")

    if not isinstance(given.name, Unset):
        out["name"] = errors.extend(PersonName.parse(given.name, "name"))
    if not isinstance(given.social_name, Unset) and kind is PatientKind.PERSON:
        out["social_name"] = (
            errors.extend(PersonName.parse(given.social_name, "social_name")) if given.social_name else None
        )
    if not isinstance(given.sex, Unset):
        out["sex"] = _choice(Sex, given.sex, "sex", errors)

    births = [n for n in ("birth_date", "birth_year", "age_years") if getattr(given, n) not in (UNSET, None)]
    if len(births) > 1:
        errors.add(births[1], "conflicting", "give one of birth_date, birth_year or age_years")
    elif births == ["birth_date"] and isinstance(given.birth_date, date):
        if given.birth_date > today:
            errors.add("birth_date", "in_future", "a birth date cannot be in the future")
        elif given.birth_date.year < 1880:
            errors.add("birth_date", "out_of_range", "too far in the past")
        out["birth_date"], out["birth_date_estimated"] = given.birth_date, False
    elif births == ["birth_year"] and isinstance(given.birth_year, int):
        if not 1880 <= given.birth_year <= today.year:
            errors.add("birth_year", "out_of_range", f"a year from 1880 to {today.year}")
        else:
            estimate = estimated_birth_date(year=given.birth_year, today=today)
            out["birth_date"], out["birth_date_estimated"] = min(estimate, today), True
    elif births == ["age_years"] and isinstance(given.age_years, int):
        if not 0 <= given.age_years <= 130:
            errors.add("age_years", "out_of_range", "an age from 0 to 130")
        else:
            estimate = estimated_birth_date(age_years=given.age_years, today=today)
            out["birth_date"], out["birth_date_estimated"] = min(estimate, today), True
    elif any(n in names for n in ("birth_date", "birth_year", "age_years")):
        out["birth_date"], out["birth_date_estimated"] = None, False  # cleared

    if not isinstance(given.phones, Unset):
        if len(given.phones) > MAX_CONTACTS:
            errors.add("phones", "too_many", f"at most {MAX_CONTACTS}")
        phones = [errors.extend(Phone.parse(p, f"phones.{i}")) for i, p in enumerate(given.phones)]
        out["phones"] = tuple(dict.fromkeys(p for p in phones if p is not None))
    if not isinstance(given.emails, Unset):
        if len(given.emails) > MAX_CONTACTS:
            errors.add("emails", "too_many", f"at most {MAX_CONTACTS}")
        emails = [errors.extend(Email.parse(e, f"emails.{i}")) for i, e in enumerate(given.emails)]
        out["emails"] = tuple(dict.fromkeys(e for e in emails if e is not None))
    if not isinstance(given.address, Unset):
        out["address"] = _address(given.address, errors) if given.address is not None else None
    if not isinstance(given.allergies, Unset):
        if len(given.allergies) > MAX_ALLERGIES:
            errors.add("allergies", "too_many", f"at most {MAX_ALLERGIES}")
        allergies = []
        for i, raw in enumerate(given.allergies):
            substance = _short_text(raw.substance, f"allergies.{i}.substance", errors)
            if not substance:
                errors.add(f"allergies.{i}.substance", "required", "name the substance")
            reaction = _short_text(raw.reaction, f"allergies.{i}.reaction", errors, 500)
            severity = _choice(AllergySeverity, raw.severity, f"allergies.{i}.severity", errors)
            if substance and severity is not None:
                allergies.append(Allergy(substance, reaction, severity))
        out["allergies"] = tuple(allergies)
    if not isinstance(given.notes, Unset):
        notes = (given.notes or "").strip()
        if len(notes) > MAX_NOTES:
            errors.add("notes", "too_long", f"at most {MAX_NOTES} characters")
        elif "\x00" in notes:
            errors.add("notes", "invalid_characters", "NUL is not allowed")
        out["notes"] = notes or None
    if not isinstance(given.tags, Unset):
        tags = [normalise_tag(t) for t in given.tags]
        if len(set(tags)) > MAX_TAGS:
            errors.add("tags", "too_many", f"at most {MAX_TAGS}")
        for i, tag in enumerate(tags):
            if len(tag) > MAX_TAG_LENGTH:
                errors.add(f"tags.{i}", "too_long", f"at most {MAX_TAG_LENGTH} characters")
            elif has_control_characters(tag):
                errors.add(f"tags.{i}", "invalid_characters", "control characters are not allowed")
        out["tags"] = frozenset(t for t in tags if t)

    if kind is PatientKind.PERSON:
        if not isinstance(given.cpf, Unset):
            out["cpf"] = errors.extend(CPF.parse(given.cpf, "cpf")) if given.cpf else None
        if not isinstance(given.identifiers, Unset):
            if len(given.identifiers) > MAX_IDENTIFIERS:
                errors.add("identifiers", "too_many", f"at most {MAX_IDENTIFIERS}")
            parsed = [
                errors.extend(Identifier.parse(raw.system, raw.value, f"identifiers.{i}"))
                for i, raw in enumerate(given.identifiers)
            ]
            out["identifiers"] = tuple(dict.fromkeys(p for p in parsed if p is not None))
    else:
        if not isinstance(given.species, Unset):
            if given.species is None:
                errors.add("species", "required", "an animal needs a species")
            else:
                out["species"] = _choice(Species, given.species, "species", errors)
        for name in ("breed", "coat"):
            value = getattr(given, name)
            if not isinstance(value, Unset):
                out[name] = _short_text(value, name, errors)
        if not isinstance(given.neutered, Unset):
            out["neutered"] = given.neutered
        if not isinstance(given.microchip, Unset):
            out["microchip"] = errors.extend(Microchip.parse(given.microchip)) if given.microchip else None
    if not isinstance(given.unit_id, Unset):
        out["unit_id"] = UnitId(given.unit_id) if given.unit_id else None
    if not isinstance(given.user_id, Unset) and kind is PatientKind.PERSON:
        out["user_id"] = UserId(given.user_id) if given.user_id else None
    if errors.items:
        return Failure(InvalidInput(tuple(errors.items)))
    return Success(out)
