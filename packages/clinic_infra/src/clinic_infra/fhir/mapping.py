"""FHIR R4 Patient and Practitioner models to ``clinic_core.interop`` values.

What cannot be carried over but does not make the record unusable (a partial birth date, an identifier
without a value) becomes a note on the value; what makes it unusable (no name at all, an impossible date)
raises ``Unmappable`` with the reason, and the reader reports the record as an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from urllib.parse import unquote

from clinic_core.interop.imported import (
    AdministrativeGender,
    ContactKind,
    IdentifierKind,
    ImportedAddress,
    ImportedContact,
    ImportedIdentifier,
    ImportedName,
    ImportedPatient,
    ImportedPractitioner,
    PractitionerRef,
)
from clinic_infra.fhir import models

V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_MARITAL_STATUS = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"

IDENTIFIER_SYSTEMS: Mapping[str, IdentifierKind] = {
    "https://github.com/synthetichealth/synthea": IdentifierKind.SYNTHEA,
    "http://hl7.org/fhir/sid/us-ssn": IdentifierKind.SSN,
    NPI_SYSTEM: IdentifierKind.NPI,
    "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber": IdentifierKind.PASSPORT,
    "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cpf": IdentifierKind.CPF,
}
US_DRIVERS_LICENSE_OIDS = "urn:oid:2.16.840.1.113883.4.3."
"""Followed by the issuing state's FIPS code (``.25`` is Massachusetts)."""
IDENTIFIER_TYPE_CODES: Mapping[str, IdentifierKind] = {
    "MR": IdentifierKind.MRN,
    "SS": IdentifierKind.SSN,
    "DL": IdentifierKind.DRIVERS_LICENSE,
    "PPN": IdentifierKind.PASSPORT,
    "NPI": IdentifierKind.NPI,
}

# FHIR R4 ``date`` and ``dateTime`` (datatypes.html): a year, a month or a day, then maybe a time and zone.
_FHIR_DATE = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?")
_FHIR_TIME = re.compile(r"T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")
# Names, in the order one is chosen: FHIR's own (HumanName.use), the one in use today first.
_NAME_USES = ("official", "usual", None, "temp", "nickname", "anonymous", "old", "maiden")
_PRACTITIONER_BY_NPI = re.compile(r"Practitioner\?identifier=(?P<system>[^|]*)\|(?P<value>.+)")
_PRACTITIONER_BY_ID = re.compile(r"(?:^|/)Practitioner/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$")


class Unmappable(ValueError):
    """The record is well-formed JSON but cannot be imported; the message says why."""


def _text(value: str | None) -> str | None:
    value = " ".join(value.split()) if value else None
    return value or None


def _texts(values: list[str]) -> tuple[str, ...]:
    return tuple(t for t in (_text(v) for v in values) if t)


def identifier_kind(identifier: models.Identifier) -> IdentifierKind | None:
    system = identifier.system or ""
    if system in IDENTIFIER_SYSTEMS:
        return IDENTIFIER_SYSTEMS[system]
    if system.startswith(US_DRIVERS_LICENSE_OIDS):
        return IdentifierKind.DRIVERS_LICENSE
    code = identifier.type.code_in(V2_IDENTIFIER_TYPE) if identifier.type else None
    return IDENTIFIER_TYPE_CODES.get(code or "")


def _identifiers(raw: list[models.Identifier], notes: list[str]) -> tuple[ImportedIdentifier, ...]:
    identifiers: list[ImportedIdentifier] = []
    for i, identifier in enumerate(raw):
        value = _text(identifier.value)
        if value is None:
            notes.append(f"identifier[{i}] ({identifier.system or 'no system'}) has no value: not imported")
            continue
        found = ImportedIdentifier(identifier_kind(identifier), value, identifier.system)
        if found not in identifiers:
            identifiers.append(found)
    return tuple(identifiers)


def _name(names: list[models.HumanName]) -> ImportedName:
    """The name in use (official, else usual...), or ``Unmappable`` when no name has a part or a text."""
    candidates = [
        ImportedName(
            given=_texts(n.given),
            family=_text(n.family),
            prefix=_texts(n.prefix),
            suffix=_texts(n.suffix),
            text=_text(n.text),
        )
        for n in names
    ]
    usable = [(n.use, c) for n, c in zip(names, candidates, strict=True) if c.full]
    for use in _NAME_USES:
        for name_use, candidate in usable:
            if name_use == use:
                return candidate
    if usable:  # a use FHIR does not define: better that name than none
        return usable[0][1]
    raise Unmappable("no name: the resource has no name with a given name, a family name or a text")


def parse_date(raw: str, element: str, *, date_time: bool = False) -> tuple[date | None, str | None]:
    """A FHIR date (or, with ``date_time``, the date of a dateTime in its own offset): the day, or None
    and a note when only a year or month is known. Raises ``Unmappable`` when it is not a FHIR date or
    names no such day."""
    match = _FHIR_DATE.match(raw)
    rest = raw[match.end() :] if match else raw
    time_ok = date_time and match is not None and match["day"] is not None and _FHIR_TIME.fullmatch(rest)
    if match is None or (rest and not time_ok):
        kind = "dateTime" if date_time else "date (YYYY, YYYY-MM or YYYY-MM-DD)"
        raise Unmappable(f"{element} {raw!r} is not a FHIR {kind}")
    if match["day"] is None:
        return None, f"{element} {raw!r} gives no day: not imported"
    try:
        return date(int(match["year"]), int(match["month"]), int(match["day"])), None
    except ValueError:
        raise Unmappable(f"{element} {raw!r} is not a day of the calendar") from None


def parse_date_time(raw: str, element: str) -> tuple[datetime | None, str | None]:
    """A FHIR dateTime as an aware datetime (a day alone: its midnight UTC), or None and a note when only a
    year or month is known. Raises ``Unmappable`` as ``parse_date`` does."""
    day, note = parse_date(raw, element, date_time=True)
    if day is None:
        return None, note
    if len(raw) == len("YYYY-MM-DD"):
        return datetime(day.year, day.month, day.day, tzinfo=UTC), None
    try:
        return datetime.fromisoformat(raw), None
    except ValueError:  # 24:00, 10:61...
        raise Unmappable(f"{element} {raw!r} is not a time of the day") from None


def _contacts(telecom: list[models.ContactPoint]) -> tuple[ImportedContact, ...]:
    contacts: list[ImportedContact] = []
    for point in telecom:
        value = _text(point.value)
        if value is None:
            continue
        if point.system in ("phone", "sms"):
            contacts.append(ImportedContact(ContactKind.PHONE, value, point.use))
        elif point.system == "email":
            contacts.append(ImportedContact(ContactKind.EMAIL, value, point.use))
    return tuple(contacts)


def _addresses(raw: list[models.Address]) -> tuple[ImportedAddress, ...]:
    addresses = (
        ImportedAddress(
            lines=_texts(a.line),
            city=_text(a.city),
            district=_text(a.district),
            state=_text(a.state),
            postal_code=_text(a.postalCode),
            country=_text(a.country),
            use=a.use,
        )
        for a in raw
    )
    return tuple(a for a in addresses if a != ImportedAddress(use=a.use))


def _practitioner_ref(
    reference: models.Reference, bundle_npis: Mapping[str, str | None]
) -> PractitionerRef | None:
    """The practitioner a reference names, by NPI where it can be told, else by the source's id."""
    if reference.identifier is not None and reference.identifier.system == NPI_SYSTEM:
        return PractitionerRef(npi=_text(reference.identifier.value))
    target = reference.reference or ""
    if target in bundle_npis:
        npi = bundle_npis[target]
        by_id = _PRACTITIONER_BY_ID.search(target)
        return PractitionerRef(npi=npi, source_id=by_id["id"] if by_id else None)
    conditional = _PRACTITIONER_BY_NPI.fullmatch(target)
    if conditional and unquote(conditional["system"]) == NPI_SYSTEM:
        return PractitionerRef(npi=unquote(conditional["value"]))
    by_id = _PRACTITIONER_BY_ID.search(target)
    return PractitionerRef(source_id=by_id["id"]) if by_id else None


def patient(
    resource: models.Patient, *, stable_id: bool, bundle_npis: Mapping[str, str | None] | None = None
) -> ImportedPatient:
    notes: list[str] = []
    name = _name(resource.name)
    birth_date = None
    if resource.birthDate is not None:
        birth_date, note = parse_date(resource.birthDate, "birthDate")
        notes.extend([note] if note else [])
    deceased_at = None
    if resource.deceasedDateTime is not None:
        deceased_at, note = parse_date_time(resource.deceasedDateTime, "deceasedDateTime")
        notes.extend([note] if note else [])
    marital = resource.maritalStatus
    refs = (_practitioner_ref(r, bundle_npis or {}) for r in resource.generalPractitioner)
    return ImportedPatient(
        source_id=resource.id,
        stable_id=stable_id and resource.id is not None,
        name=name,
        gender=AdministrativeGender(resource.gender) if resource.gender else None,
        birth_date=birth_date,
        deceased=bool(resource.deceasedBoolean) or resource.deceasedDateTime is not None,
        deceased_at=deceased_at,
        identifiers=_identifiers(resource.identifier, notes),
        contacts=_contacts(resource.telecom),
        addresses=_addresses(resource.address),
        marital_status=(marital.code_in(V3_MARITAL_STATUS) or marital.text) if marital else None,
        general_practitioners=tuple(r for r in refs if r is not None),
        notes=tuple(notes),
    )


def practitioner(
    resource: models.Practitioner, *, stable_id: bool, raw: str, full_url: str | None = None
) -> ImportedPractitioner:
    notes: list[str] = []
    identifiers = _identifiers(resource.identifier, notes)
    npi = next((i.value for i in identifiers if i.kind is IdentifierKind.NPI), None)
    return ImportedPractitioner(
        source_id=resource.id,
        stable_id=stable_id and resource.id is not None,
        npi=npi,
        name=_name(resource.name),
        gender=AdministrativeGender(resource.gender) if resource.gender else None,
        contacts=_contacts(resource.telecom),
        addresses=_addresses(resource.address),
        raw=raw,
        full_url=full_url,
        notes=tuple(notes),
    )


def npi_of(resource: Mapping[str, object]) -> str | None:
    """The NPI of a raw Practitioner resource, for resolving references before it is read (bundles)."""
    identifiers = resource.get("identifier")
    for identifier in identifiers if isinstance(identifiers, list) else []:
        if isinstance(identifier, dict) and identifier.get("system") == NPI_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None
