"""The catalog: what a clinic offers (procedures, in categories), who performs it (professionals) and where
(rooms and equipment of each unit). Plain Python, no persistence concerns.

Which professional performs which procedure is one relation seen from both sides: ``Professional``
``procedure_ids`` and ``Procedure.professional_ids``. Each repository writes its own side when it saves
(the professional's rows, or the procedure's rows), so either aggregate can be edited on its own.

The constructors raise ``ValueError`` on values that break an invariant (a programming error); untrusted
input goes through the ``parse_*`` functions first, which report every bad field at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import NewType
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import InvalidInput
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import TenantId, UnitId, UserId
from clinic_core.shared.values import Money, Slug, has_control_characters

CategoryId = NewType("CategoryId", UUID)
ProcedureId = NewType("ProcedureId", UUID)
ProfessionalId = NewType("ProfessionalId", UUID)
RoomId = NewType("RoomId", UUID)
EquipmentId = NewType("EquipmentId", UUID)

MIN_DURATION = 5
MAX_DURATION = 720
DURATION_STEP = 5
MAX_BUFFER = 240
MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_SPECIALTIES = 20
MAX_SPECIALTY = 80
MAX_SORT_ORDER = 1_000_000

_COLOUR = re.compile(r"#[0-9A-F]{6}")
_ICON = re.compile(r"[a-z0-9][a-z0-9_:\-]{0,39}")
_KIND = re.compile(r"[a-z][a-z0-9_]{1,39}")
_REGISTRATION_NUMBER = re.compile(r"[0-9A-Z][0-9A-Z\-./]{0,19}")

UF = frozenset(
    [
        "AC",
        "AL",
        "AP",
        "AM",
        "BA",
        "CE",
        "DF",
        "ES",
        "GO",
        "MA",
        "MT",
        "MS",
        "MG",
        "PA",
        "PB",
        "PR",
        "PE",
        "PI",
        "RJ",
        "RN",
        "RS",
        "RO",
        "RR",
        "SC",
        "SP",
        "SE",
        "TO",
    ]
)
"""The 27 federative units of Brazil: a council registration is per state."""


class Council(StrEnum):
    """The professional council a registration is with."""

    CRM = "CRM"
    """Medicine."""
    CRMV = "CRMV"
    """Veterinary medicine."""
    CRBM = "CRBM"
    """Biomedicine (aesthetic biomedicine included)."""
    CRO = "CRO"
    """Dentistry."""
    COREN = "COREN"
    """Nursing."""
    CRF = "CRF"
    """Pharmacy."""
    OTHER = "OTHER"


# --- field checks (shared by constructors and parsers) -------------------------------------------------------


def clean_text(raw: str) -> str:
    """Trimmed, inner whitespace collapsed, NFC."""
    return " ".join(unicodedata.normalize("NFC", raw).split())


def _name_problem(value: str, max_length: int = MAX_NAME) -> tuple[str, str] | None:
    if not value:
        return ("required", "a name is required")
    if len(value) > max_length:
        return ("too_long", f"a name has at most {max_length} characters")
    if has_control_characters(value):
        return ("invalid_characters", "a name cannot contain control characters")
    return None


def _duration_problem(minutes: int) -> tuple[str, str] | None:
    if not MIN_DURATION <= minutes <= MAX_DURATION or minutes % DURATION_STEP:
        return (
            "invalid_duration",
            f"a duration is {MIN_DURATION} to {MAX_DURATION} minutes, in steps of {DURATION_STEP}",
        )
    return None


def _buffer_problem(minutes: int) -> tuple[str, str] | None:
    if not 0 <= minutes <= MAX_BUFFER:
        return ("invalid_buffer", f"a buffer is 0 to {MAX_BUFFER} minutes")
    return None


def _sort_order_problem(value: int) -> tuple[str, str] | None:
    if not 0 <= value <= MAX_SORT_ORDER:
        return ("out_of_range", f"a sort order is 0 to {MAX_SORT_ORDER}")
    return None


def _kind_problem(value: str) -> tuple[str, str] | None:
    if not _KIND.fullmatch(value):
        return ("invalid_type", "a type has 2 to 40 lower-case letters, digits and underscores")
    return None


def _raise_on(problem: tuple[str, str] | None, what: str) -> None:
    if problem is not None:
        raise ValueError(f"{what}: {problem[1]}")


def _field(name: str, problem: tuple[str, str] | None) -> Result[None, InvalidInput]:
    return Failure(InvalidInput.of(name, *problem)) if problem is not None else Success(None)


def check_name(raw: str, field_name: str = "name", max_length: int = MAX_NAME) -> Result[str, InvalidInput]:
    value = clean_text(raw)
    return _field(field_name, _name_problem(value, max_length)).map(lambda _: value)


def check_description(raw: str | None, field_name: str = "description") -> Result[str | None, InvalidInput]:
    if raw is None:
        return Success(None)
    value = unicodedata.normalize("NFC", raw).strip()
    if len(value) > MAX_DESCRIPTION:
        return Failure(InvalidInput.of(field_name, "too_long", f"at most {MAX_DESCRIPTION} characters"))
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        return Failure(InvalidInput.of(field_name, "invalid_characters", "no control characters"))
    return Success(value or None)


def check_duration(minutes: int, field_name: str = "duration_minutes") -> Result[int, InvalidInput]:
    return _field(field_name, _duration_problem(minutes)).map(lambda _: minutes)


def check_buffer(minutes: int, field_name: str) -> Result[int, InvalidInput]:
    return _field(field_name, _buffer_problem(minutes)).map(lambda _: minutes)


def check_sort_order(value: int, field_name: str = "sort_order") -> Result[int, InvalidInput]:
    return _field(field_name, _sort_order_problem(value)).map(lambda _: value)


def check_kind(raw: str, field_name: str = "type") -> Result[str, InvalidInput]:
    value = raw.strip().lower()
    return _field(field_name, _kind_problem(value)).map(lambda _: value)


def check_colour(raw: str, field_name: str = "colour") -> Result[str, InvalidInput]:
    value = raw.strip().upper()
    if not _COLOUR.fullmatch(value):
        return Failure(InvalidInput.of(field_name, "invalid_colour", "a colour is #RRGGBB in hexadecimal"))
    return Success(value)


def check_icon(raw: str | None, field_name: str = "icon") -> Result[str | None, InvalidInput]:
    if raw is None or not raw.strip():
        return Success(None)
    value = raw.strip().lower()
    if not _ICON.fullmatch(value):
        return Failure(
            InvalidInput.of(field_name, "invalid_icon", "an icon name has up to 40 letters, digits, - _ :")
        )
    return Success(value)


def check_price(money: Money, field_name: str = "price") -> Result[Money, InvalidInput]:
    if money.amount < 0:
        return Failure(
            InvalidInput.of(f"{field_name}.amount", "negative_price", "a price cannot be negative")
        )
    if money.minor_units >= 10**12:
        return Failure(InvalidInput.of(f"{field_name}.amount", "out_of_range", "the price is too large"))
    return Success(money)


def check_specialties(
    raw: Iterable[str], field_name: str = "specialties"
) -> Result[tuple[str, ...], InvalidInput]:
    values: list[str] = []
    for item in raw:
        value = clean_text(item)
        problem = _name_problem(value, MAX_SPECIALTY)
        if problem is not None:
            return Failure(InvalidInput.of(field_name, *problem))
        if value.casefold() not in {v.casefold() for v in values}:
            values.append(value)
    if len(values) > MAX_SPECIALTIES:
        return Failure(InvalidInput.of(field_name, "too_many", f"at most {MAX_SPECIALTIES} specialties"))
    return Success(tuple(values))


# --- value objects ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CouncilRegistration:
    """A professional's registration with their council, in one state: ``CRM 123456/SP``."""

    council: Council
    number: str
    state: str
    """The UF where the registration is held (``SP``)."""

    def __post_init__(self) -> None:
        problem = self.problem(self.number, self.state)
        if problem is not None:
            raise ValueError(f"CouncilRegistration: {problem[2]}")

    @staticmethod
    def problem(number: str, state: str) -> tuple[str, str, str] | None:
        if not _REGISTRATION_NUMBER.fullmatch(number):
            return ("number", "invalid_registration", "1 to 20 letters, digits and - . /")
        if state not in UF:
            return ("state", "invalid_state", "a Brazilian state's two-letter code (UF), such as SP")
        return None

    @classmethod
    def parse(
        cls, council: str, number: str, state: str, field_name: str = "council_registration"
    ) -> Result[CouncilRegistration, InvalidInput]:
        try:
            parsed = Council(council.strip().upper())
        except ValueError:
            known = ", ".join(c.value for c in Council)
            return Failure(InvalidInput.of(f"{field_name}.council", "invalid_council", f"one of {known}"))
        number, state = "".join(number.split()).upper(), state.strip().upper()
        problem = cls.problem(number, state)
        if problem is not None:
            return Failure(InvalidInput.of(f"{field_name}.{problem[0]}", problem[1], problem[2]))
        return Success(cls(parsed, number, state))

    def __str__(self) -> str:
        return f"{self.council.value} {self.number}/{self.state}"


# --- events ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProcedureChanged(DomainEvent):
    """A procedure was created or changed (its duration, price or buffers may differ from before)."""

    topic = "catalog.procedure_changed"
    procedure_id: ProcedureId
    active: bool


@dataclass(frozen=True, kw_only=True)
class ProfessionalChanged(DomainEvent):
    """A professional was created or changed (their procedures or units may differ from before)."""

    topic = "catalog.professional_changed"
    professional_id: ProfessionalId
    active: bool


# --- aggregates ------------------------------------------------------------------------------------------


@dataclass(eq=False, kw_only=True)
class Category:
    tenant_id: TenantId
    id: CategoryId
    name: str
    slug: Slug
    """Unique in the tenant."""
    created_at: datetime
    updated_at: datetime
    icon: str | None = None
    """An icon's name in whatever set the client uses (``spa``, ``mdi:needle``)."""
    colour: str | None = None
    """``#RRGGBB``, upper case."""
    sort_order: int = 0
    active: bool = True
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        _raise_on(_name_problem(self.name), "Category")
        _raise_on(_sort_order_problem(self.sort_order), "Category")
        if self.colour is not None and not _COLOUR.fullmatch(self.colour):
            raise ValueError("Category: a colour is #RRGGBB, upper case")
        if self.icon is not None and not _ICON.fullmatch(self.icon):
            raise ValueError("Category: not an icon name")


@dataclass(eq=False, kw_only=True)
class Procedure:
    tenant_id: TenantId
    id: ProcedureId
    name: str
    duration_minutes: int
    price: Money
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    category_id: CategoryId | None = None
    buffer_before_minutes: int = 0
    """Time kept free before the procedure (preparing the room)."""
    buffer_after_minutes: int = 0
    """Time kept free after it (cleaning, sterilising)."""
    active: bool = True
    sort_order: int = 0
    professional_ids: frozenset[ProfessionalId] = frozenset()
    """Who performs it (the same relation as ``Professional.procedure_ids``)."""
    room_type: str | None = None
    """The type of room it needs (``laser_room``), or None when any place will do."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        _raise_on(_name_problem(self.name), "Procedure")
        _raise_on(_duration_problem(self.duration_minutes), "Procedure")
        _raise_on(_buffer_problem(self.buffer_before_minutes), "Procedure")
        _raise_on(_buffer_problem(self.buffer_after_minutes), "Procedure")
        _raise_on(_sort_order_problem(self.sort_order), "Procedure")
        if self.price.amount < Decimal(0):
            raise ValueError("Procedure: a price cannot be negative")
        if self.room_type is not None:
            _raise_on(_kind_problem(self.room_type), "Procedure")

    @property
    def blocked_minutes(self) -> int:
        """How long it keeps a professional (and room) from other bookings: buffers included."""
        return self.buffer_before_minutes + self.duration_minutes + self.buffer_after_minutes

    def changed(self, at: datetime) -> None:
        self.updated_at = at
        self.events.append(
            ProcedureChanged(
                tenant_id=self.tenant_id, occurred_at=at, procedure_id=self.id, active=self.active
            )
        )


@dataclass(eq=False, kw_only=True)
class Professional:
    """A member of the clinic who sees patients: their user holds the professional role."""

    tenant_id: TenantId
    id: ProfessionalId
    user_id: UserId
    """The member's user; one professional per user in a tenant."""
    display_name: str
    created_at: datetime
    updated_at: datetime
    registration: CouncilRegistration | None = None
    specialties: tuple[str, ...] = ()
    procedure_ids: frozenset[ProcedureId] = frozenset()
    unit_ids: frozenset[UnitId] = frozenset()
    """The units where they work."""
    active: bool = True
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        _raise_on(_name_problem(self.display_name), "Professional")
        if len(self.specialties) > MAX_SPECIALTIES:
            raise ValueError("Professional: too many specialties")

    def performs(self, procedure_ids: Iterable[ProcedureId]) -> bool:
        return set(procedure_ids) <= self.procedure_ids

    def changed(self, at: datetime) -> None:
        self.updated_at = at
        self.events.append(
            ProfessionalChanged(
                tenant_id=self.tenant_id, occurred_at=at, professional_id=self.id, active=self.active
            )
        )


@dataclass(eq=False, kw_only=True)
class Room:
    """A place in a unit where procedures happen; ``type`` is what procedures ask for (``laser_room``)."""

    tenant_id: TenantId
    id: RoomId
    unit_id: UnitId
    name: str
    type: str
    created_at: datetime
    updated_at: datetime
    active: bool = True

    def __post_init__(self) -> None:
        _raise_on(_name_problem(self.name), "Room")
        _raise_on(_kind_problem(self.type), "Room")


@dataclass(eq=False, kw_only=True)
class Equipment:
    """A device of a unit (a laser, an ultrasound), with a type."""

    tenant_id: TenantId
    id: EquipmentId
    unit_id: UnitId
    name: str
    type: str
    created_at: datetime
    updated_at: datetime
    active: bool = True

    def __post_init__(self) -> None:
        _raise_on(_name_problem(self.name), "Equipment")
        _raise_on(_kind_problem(self.type), "Equipment")


ROOM_TYPE_EXAMPLES = ("consulting_room", "laser_room", "procedure_room", "surgery", "kennel", "imaging")
"""Room types clinics commonly use; any lower-case word with underscores is accepted."""
