"""Patients: the people and animals a clinic cares for. Plain Python, no persistence concerns.

A patient is a person or an animal (``kind``). What both have (a name, sex, birth date, contacts, address,
allergies, tags, a status) lives on the aggregate itself; what only people have (social name, CPF, other
identifiers) or only animals have (species, breed, coat, neutering, microchip) too, and the aggregate
refuses the fields of the other kind. Weight measurements are rows of their own (``PatientWeight``), not a
list on the aggregate: they grow without bound and are written one at a time.

``version`` is the optimistic-concurrency counter: the repository writes a change only over the version it
was read at, and bumps it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NewType
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import Conflict, InvalidInput
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import TenantId, UnitId, UserId
from clinic_core.shared.values import CPF, Email, PersonName, Phone

PatientId = NewType("PatientId", UUID)
WeightId = NewType("WeightId", UUID)

MAX_TAGS = 30
MAX_TAG_LENGTH = 40
MAX_ALLERGIES = 50
MAX_IDENTIFIERS = 20
MAX_CONTACTS = 10
MAX_NOTES = 10_000
MAX_SHORT_TEXT = 120


class PatientKind(StrEnum):
    PERSON = "person"
    ANIMAL = "animal"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNKNOWN = "unknown"


class PatientStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DECEASED = "deceased"


class Species(StrEnum):
    DOG = "dog"
    CAT = "cat"
    BIRD = "bird"
    RABBIT = "rabbit"
    RODENT = "rodent"
    FERRET = "ferret"
    HORSE = "horse"
    CATTLE = "cattle"
    SHEEP = "sheep"
    GOAT = "goat"
    PIG = "pig"
    REPTILE = "reptile"
    FISH = "fish"
    OTHER = "other"


class AllergySeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    UNKNOWN = "unknown"


# --- search keys -----------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """``text`` as search compares it: compatibility-decomposed, combining marks dropped, case-folded.

    ``José`` and ``JOSE`` fold alike, as do ``Conceição`` and ``conceicao``.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


_WORD = re.compile(r"\w+")


def search_words(text: str) -> list[str]:
    """The folded words of ``text``, in order (``"Maria da Silva"`` -> ``["maria", "da", "silva"]``)."""
    return _WORD.findall(fold(text))


def digits_of(text: str) -> str:
    """The ASCII digits of ``text`` (``"123.456.789-09"`` -> ``"12345678909"``)."""
    return "".join(ch for ch in text if "0" <= ch <= "9")


# --- value objects ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Allergy:
    substance: str
    reaction: str | None = None
    severity: AllergySeverity = AllergySeverity.UNKNOWN


@dataclass(frozen=True, slots=True)
class PatientAddress:
    street: str
    city: str
    state: str
    postal_code: str
    country: str = "BR"
    number: str | None = None
    complement: str | None = None
    district: str | None = None


IDENTIFIER_SYSTEMS = frozenset({"rg", "passport", "mrn", "cns", "cnh", "rne", "crm", "crmv"})
"""The systems known by name; any other is ``external:<name>`` (an integrator's own ids)."""
_EXTERNAL_SYSTEM = re.compile(r"external:[a-z0-9][a-z0-9_.-]{0,40}")
_IDENTIFIER_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-/_ ]{0,79}")


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier a person holds in some system: ``rg``, ``passport``, ``mrn``, ``cns``, ``external:x``.

    The value is kept as given (trimmed), except for ``cns`` which keeps its 15 digits only.
    """

    system: str
    value: str

    def __post_init__(self) -> None:
        problem = self.problem(self.system, self.value)
        if problem is not None:
            raise ValueError(f"Identifier: {problem[2]}")

    @staticmethod
    def problem(system: str, value: str) -> tuple[str, str, str] | None:
        """(field, code, message) when ``system``/``value`` (normalised) do not make an identifier."""
        if system not in IDENTIFIER_SYSTEMS and not _EXTERNAL_SYSTEM.fullmatch(system):
            known = ", ".join(sorted(IDENTIFIER_SYSTEMS))
            return ("system", "invalid_system", f"use one of {known} or external:<name>")
        if not _IDENTIFIER_VALUE.fullmatch(value):
            return ("value", "invalid_identifier", "1 to 80 letters, digits, spaces and . - / _")
        if system == "cns" and not re.fullmatch(r"[0-9]{15}", value):
            return ("value", "invalid_cns", "a CNS (Cartão Nacional de Saúde) has 15 digits")
        return None

    @classmethod
    def parse(
        cls, system: str, value: str, field_name: str = "identifiers"
    ) -> Result[Identifier, InvalidInput]:
        system = system.strip().lower()
        value = " ".join(value.split())
        if system == "cns":
            value = digits_of(value) if re.fullmatch(r"[0-9 .\-]+", value) else value
        problem = cls.problem(system, value)
        if problem is not None:
            return Failure(InvalidInput.of(f"{field_name}.{problem[0]}", problem[1], problem[2]))
        return Success(cls(system, value))

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"


@dataclass(frozen=True, slots=True)
class Microchip:
    """An ISO 11784/11785 (FDX-B) animal transponder code: 15 digits."""

    value: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9]{15}", self.value):
            raise ValueError("Microchip: an ISO 11784 microchip code has 15 digits")

    @classmethod
    def parse(cls, raw: str, field_name: str = "microchip") -> Result[Microchip, InvalidInput]:
        value = re.sub(r"[\s.\-]", "", raw)
        if not re.fullmatch(r"[0-9]{15}", value):
            return Failure(
                InvalidInput.of(field_name, "invalid_microchip", "an ISO 11784 microchip code has 15 digits")
            )
        return Success(cls(value))

    def __str__(self) -> str:
        return self.value


def normalise_tag(raw: str) -> str:
    """A tag as stored: words joined by single spaces, NFC, lower case (``" VIP  Cliente "`` -> ``"vip cliente"``)."""
    return " ".join(unicodedata.normalize("NFC", raw).split()).casefold()


# --- events ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PatientCreated(DomainEvent):
    topic = "patient.created"
    patient_id: PatientId
    kind: PatientKind


@dataclass(frozen=True, kw_only=True)
class PatientUpdated(DomainEvent):
    topic = "patient.updated"
    patient_id: PatientId
    version: int
    changed: tuple[str, ...]
    """The names of the fields that changed (never their values: those are health data)."""


# --- the aggregate ---------------------------------------------------------------------------------------


PERSON_ONLY = ("social_name", "cpf", "identifiers")
ANIMAL_ONLY = ("species", "breed", "coat", "neutered", "microchip")


@dataclass(eq=False, kw_only=True)
class Patient:
    tenant_id: TenantId
    id: PatientId
    kind: PatientKind
    name: PersonName
    created_at: datetime
    updated_at: datetime
    sex: Sex = Sex.UNKNOWN
    birth_date: date | None = None
    birth_date_estimated: bool = False
    """True when ``birth_date`` was worked out from an age or a year (then it is the 1st of July of the
    year, or the 1st of the month when the month is known)."""
    phones: tuple[Phone, ...] = ()
    emails: tuple[Email, ...] = ()
    address: PatientAddress | None = None
    allergies: tuple[Allergy, ...] = ()
    notes: str | None = None
    status: PatientStatus = PatientStatus.ACTIVE
    deceased_at: datetime | None = None
    tags: frozenset[str] = frozenset()
    unit_id: UnitId | None = None
    """The home unit; None when the patient belongs to the whole clinic."""
    user_id: UserId | None = None
    """The client account that is this person (to reach the portal); unique in the tenant."""
    # people
    social_name: PersonName | None = None
    cpf: CPF | None = None
    identifiers: tuple[Identifier, ...] = ()
    # animals
    species: Species | None = None
    breed: str | None = None
    coat: str | None = None
    neutered: bool | None = None
    microchip: Microchip | None = None
    anonymised_at: datetime | None = None
    """When the patient's identity was erased (LGPD art. 18 IV and VI); the record stays as a neutral
    stub, which nobody may edit and search never finds."""
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ValueError when the aggregate's invariants do not hold (a programming error: use cases
        validate input before it gets here)."""
        if self.kind is PatientKind.ANIMAL:
            if self.social_name is not None or self.cpf is not None or self.identifiers:
                raise ValueError("Patient: an animal has no social name, CPF or personal identifiers")
            if self.species is None:
                raise ValueError("Patient: an animal needs a species")
            if self.user_id is not None:
                raise ValueError("Patient: an animal cannot hold a client account")
        else:
            if any(getattr(self, name) is not None for name in ANIMAL_ONLY):
                raise ValueError("Patient: a person has no species, breed, coat, neutering or microchip")
        if (self.status is PatientStatus.DECEASED) != (self.deceased_at is not None):
            raise ValueError("Patient: deceased_at is set exactly when the status is deceased")
        if len({(i.system, i.value) for i in self.identifiers}) != len(self.identifiers):
            raise ValueError("Patient: an identifier is listed twice")
        if any(tag != normalise_tag(tag) or not tag for tag in self.tags):
            raise ValueError("Patient: tags are stored normalised")

    @property
    def is_person(self) -> bool:
        return self.kind is PatientKind.PERSON

    @property
    def is_animal(self) -> bool:
        return self.kind is PatientKind.ANIMAL

    @property
    def display_name(self) -> str:
        """The name to address the patient by: the social name when a person has one."""
        return str(self.social_name or self.name)

    @property
    def anonymised(self) -> bool:
        return self.anonymised_at is not None

    @property
    def search_name(self) -> str:
        """The folded words of the name (200 characters at most), which search orders and filters by.
        Empty for an anonymised patient: the neutral label is not something to search for."""
        if self.anonymised:
            return ""
        return " ".join(search_words(self.name.value))[:200]

    def search_terms(self) -> frozenset[str]:
        """The keys search looks a patient up by.

        Query words match by prefix: the folded words of the name and social name, the CPF's digits, the
        digits of each phone (with and without the country code), the microchip code. Filters match
        exactly: ``#`` and each tag, ``+`` and each phone in E.164. (No query word begins with ``#`` or
        ``+``, so a word never matches a filter key.) None for an anonymised patient."""
        if self.anonymised:
            return frozenset()
        terms: set[str] = set(search_words(self.name.value))
        if self.social_name is not None:
            terms.update(search_words(self.social_name.value))
        if self.cpf is not None:
            terms.add(self.cpf.value)
        for phone in self.phones:
            terms.update(phone_search_terms(phone))
            terms.add(phone.value)
        if self.microchip is not None:
            terms.add(self.microchip.value)
        terms.update(tag_term(tag) for tag in self.tags)
        return frozenset(term[:100] for term in terms)

    @classmethod
    def register(cls, **values: Any) -> Patient:
        """A new patient, with its ``patient.created`` event recorded."""
        patient = cls(**values)
        patient.events.append(
            PatientCreated(
                tenant_id=patient.tenant_id,
                occurred_at=patient.created_at,
                patient_id=patient.id,
                kind=patient.kind,
            )
        )
        return patient

    def change(self, at: datetime, **values: Any) -> tuple[str, ...]:
        """Apply ``values`` (field name -> new value) and record ``patient.updated`` with the names of
        those that really changed. Returns them; nothing is recorded when none did. Raises ValueError
        (and changes nothing) when the result would break an invariant."""
        before = {name: getattr(self, name) for name in values}
        changed = tuple(sorted(name for name, value in values.items() if before[name] != value))
        if not changed:
            return ()
        for name in changed:
            setattr(self, name, values[name])
        try:
            self.check()
        except ValueError:
            for name in changed:
                setattr(self, name, before[name])
            raise
        self.updated_at = at
        self.events.append(
            PatientUpdated(
                tenant_id=self.tenant_id,
                occurred_at=at,
                patient_id=self.id,
                version=self.version + 1,
                changed=changed,
            )
        )
        return changed

    def anonymise(self, at: datetime) -> tuple[str, ...]:
        """Erase the identity for good: names, CPF, identifiers, microchip, contacts, address, notes,
        tags and the client account go; the birth date keeps its year only (1 January, estimated); sex,
        species, breed, coat, allergies, status and home unit stay (clinical facts that do not identify on
        their own). Records no ``patient.updated``: the caller records ``patient.anonymised``. Returns the
        names of the fields that held something. Running it again changes nothing but the time."""
        erased: dict[str, Any] = {
            "name": PersonName(f"{ANONYMISED_NAME} {str(self.id)[:8]}"),
            "social_name": None,
            "cpf": None,
            "identifiers": (),
            "microchip": None,
            "phones": (),
            "emails": (),
            "address": None,
            "notes": None,
            "tags": frozenset(),
            "user_id": None,
        }
        if self.birth_date is not None:
            erased["birth_date"] = date(self.birth_date.year, 1, 1)
            erased["birth_date_estimated"] = True
        cleared = tuple(sorted(name for name, value in erased.items() if getattr(self, name) != value))
        for name, value in erased.items():
            setattr(self, name, value)
        if self.anonymised_at is None:
            self.anonymised_at = at
        self.updated_at = at
        self.check()
        return cleared


ANONYMISED_NAME = "Paciente anonimizado"
"""The neutral label an anonymised patient is shown by, followed by the first 8 characters of the id."""


def tag_term(tag: str) -> str:
    """The search key of a tag filter."""
    return "#" + tag


def phone_search_terms(phone: Phone) -> set[str]:
    """The digits a phone is searched by: E.164 without ``+`` and, for Brazilian numbers, without 55."""
    digits = digits_of(phone.value)
    terms = {digits}
    if phone.value.startswith("+55"):
        terms.add(digits[2:])
    return terms


def estimated_birth_date(*, year: int | None = None, age_years: int | None = None, today: date) -> date:
    """The birth date recorded when only a year or an age is known: the 1st of July of that year, which
    is at most six months off either way."""
    if year is None:
        if age_years is None:
            raise ValueError("give a year or an age")
        year = today.year - age_years
        if date(today.year, 7, 1) > today:  # born on 1 July, they reach that age only in July
            year -= 1
    return date(year, 7, 1)


@dataclass(frozen=True, kw_only=True)
class PatientWeight:
    """One weight measurement of a patient (animals, mostly; babies too)."""

    tenant_id: TenantId
    id: WeightId
    patient_id: PatientId
    kg: Decimal
    measured_at: datetime
    recorded_by: UserId | None
    created_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.kg, Decimal) or not self.kg.is_finite() or self.kg <= 0:
            raise ValueError("PatientWeight: kg is a positive Decimal")


# --- guardians and the access log ----------------------------------------------------------------------


class GuardianRole(StrEnum):
    OWNER = "owner"
    """An animal's owner (tutor)."""
    FINANCIALLY_RESPONSIBLE = "financially_responsible"
    EMERGENCY_CONTACT = "emergency_contact"
    LEGAL_GUARDIAN = "legal_guardian"
    """A minor's or a ward's legal representative."""


@dataclass(frozen=True, kw_only=True)
class GuardianLink:
    """A person patient answering for another patient (a pet, a child) in ``role``. One primary per
    patient at most; nobody is their own guardian; an animal is nobody's guardian."""

    tenant_id: TenantId
    patient_id: PatientId
    guardian_id: PatientId
    role: GuardianRole
    is_primary: bool
    created_at: datetime

    def __post_init__(self) -> None:
        if self.patient_id == self.guardian_id:
            raise ValueError("GuardianLink: a patient is not their own guardian")


class AccessAction(StrEnum):
    """What a read of a patient's record was (LGPD: who saw which personal data, when)."""

    READ = "read"
    SEARCH = "search"
    WEIGHTS = "weights"
    GUARDIANS = "guardians"
    DEPENDANTS = "dependants"
    PORTAL_READ = "portal_read"
    ATTACHMENTS = "attachments"
    """The attachments' list or one attachment's details."""
    ATTACHMENT_CONTENT = "attachment_content"
    """One attachment's file, downloaded."""
    ANAMNESIS = "anamnesis"
    ANAMNESES = "anamneses"
    CLINICAL_NOTE = "clinical_note"
    CLINICAL_NOTES = "clinical_notes"
    TIMELINE = "timeline"
    APPOINTMENTS = "appointments"
    """The patient's appointments."""
    CONSENTS_READ = "consents.read"
    """The patient's consents were read (privacy)."""
    EXPORT = "export"
    """The whole record was exported (LGPD art. 18 II and V)."""
    ANONYMISE = "anonymise"
    """The patient's identity was erased (LGPD art. 18 IV and VI)."""


AccessId = NewType("AccessId", UUID)


@dataclass(frozen=True, kw_only=True)
class PatientAccess:
    """One read of one patient's record, by a person or an API key. Append-only."""

    tenant_id: TenantId
    id: AccessId
    patient_id: PatientId
    action: AccessAction
    at: datetime
    actor_user_id: UserId | None
    actor_api_key_id: UUID | None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


# --- errors ----------------------------------------------------------------------------------------------


class StaleVersion(Conflict):
    """The patient changed since the version the caller read: read it again and retry."""

    code = "stale_version"

    @property
    def detail(self) -> str:
        return "the patient was changed by someone else since you read it; reload and try again"


class PatientIsAnonymised(Conflict):
    """The patient was anonymised: their record is a neutral stub that nothing may change."""

    code = "patient_anonymised"

    @property
    def detail(self) -> str:
        return "this patient was anonymised: nothing can be recorded about them any more"


class DuplicatePatient(Conflict):
    """Another patient of the clinic already has this CPF, microchip, identifier or client account."""

    code = "duplicate_patient"

    @property
    def detail(self) -> str:
        return self.message


def tags_of(raw: Iterable[str]) -> frozenset[str]:
    return frozenset(t for t in (normalise_tag(r) for r in raw) if t)
