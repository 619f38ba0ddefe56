"""What an import reads from another system, as plain values: no FHIR model, no validation beyond shape.

A reader (``clinic_infra.fhir``) turns source records into these; the import use case checks them against
the domain's rules and decides what to create, update or skip. Identifier systems are already translated
from the source's URIs into ours (``IdentifierKind``); what could not be translated keeps its source URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class AdministrativeGender(StrEnum):
    """FHIR's administrative gender: what the record says, not a clinical finding."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class IdentifierKind(StrEnum):
    """Our identifier systems, as the FHIR systems and type codes we know translate into them."""

    MRN = "mrn"
    SSN = "ssn"
    DRIVERS_LICENSE = "drivers_license"
    PASSPORT = "passport"
    CPF = "cpf"
    NPI = "npi"
    SYNTHEA = "external:synthea"
    """The person's id in Synthea: stable across Synthea's exports of one population."""


@dataclass(frozen=True, slots=True)
class ImportedIdentifier:
    kind: IdentifierKind | None
    """None when the source system is not one we know; ``system`` still says what it is."""
    value: str
    system: str | None = None
    """The source's system URI, kept for the record."""


@dataclass(frozen=True, slots=True)
class ImportedName:
    given: tuple[str, ...] = ()
    family: str | None = None
    prefix: tuple[str, ...] = ()
    suffix: tuple[str, ...] = ()
    text: str | None = None
    """The name as one string when the source gave it that way only."""

    @property
    def full(self) -> str:
        """Given names then family name (``Ana Maria Souza``), or the text when there are no parts."""
        parts = [*self.given, *([self.family] if self.family else [])]
        return " ".join(parts) if parts else (self.text or "")


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class ImportedContact:
    kind: ContactKind
    value: str
    """As the source wrote it (``555-806-9773``): checking it is the use case's business."""
    use: str | None = None
    """FHIR ContactPoint.use: ``home``, ``work``, ``mobile``..."""


@dataclass(frozen=True, slots=True)
class ImportedAddress:
    lines: tuple[str, ...] = ()
    city: str | None = None
    district: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    use: str | None = None


@dataclass(frozen=True, slots=True)
class PractitionerRef:
    """A patient's link to a practitioner, by whichever the source gave: the NPI or the source's id."""

    npi: str | None = None
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class ImportedPatient:
    source_id: str | None
    """The resource id in the source (``Patient.id``)."""
    stable_id: bool
    """Whether ``source_id`` names the patient beyond this file: false for an id that a transaction bundle
    made up for its own ``urn:uuid:`` references."""
    name: ImportedName
    gender: AdministrativeGender | None = None
    birth_date: date | None = None
    deceased: bool = False
    deceased_at: datetime | None = None
    """When, if the source says (an aware datetime; a day without a time is that day's midnight UTC)."""
    identifiers: tuple[ImportedIdentifier, ...] = ()
    contacts: tuple[ImportedContact, ...] = ()
    addresses: tuple[ImportedAddress, ...] = ()
    marital_status: str | None = None
    """The HL7 v3 MaritalStatus code (``M``, ``S``, ``D``, ``W``...)."""
    general_practitioners: tuple[PractitionerRef, ...] = ()
    notes: tuple[str, ...] = ()
    """What the reader could not carry over (a partial birth date, an odd name): reported as warnings."""

    def identifier(self, kind: IdentifierKind) -> str | None:
        return next((i.value for i in self.identifiers if i.kind is kind), None)


@dataclass(frozen=True, slots=True)
class ImportedPractitioner:
    source_id: str | None
    stable_id: bool
    npi: str | None
    name: ImportedName
    gender: AdministrativeGender | None = None
    contacts: tuple[ImportedContact, ...] = ()
    addresses: tuple[ImportedAddress, ...] = ()
    raw: str = ""
    """The source resource as JSON text, kept beside what was mapped from it."""
    full_url: str | None = None
    """The bundle entry's ``fullUrl``, which references inside the same bundle use."""
    notes: tuple[str, ...] = ()
