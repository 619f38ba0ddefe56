"""The JSON of the catalog routes: categories, procedures, professionals, rooms and equipment.

Shapes and sizes only; the rules (durations in steps of 5, #RRGGBB colours, council registrations) are
clinic_core's, so that its field-level messages are the ones clients see. Prices travel as a decimal string
and a currency (``{"amount": "150.00", "currency": "BRL"}``), never as a binary float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import ConfigDict, Field

from clinic_api.problems import ProblemRaised, invalid_fields
from clinic_api.schemas import RequestModel, ResponseModel
from clinic_core.catalog.model import Category, Equipment, Procedure, Professional, Room
from clinic_core.catalog.public import PublicCatalog
from clinic_core.catalog.use_cases import (
    CategoryFields,
    EquipmentFields,
    PriceInput,
    ProcedureFields,
    ProfessionalFields,
    RegistrationInput,
    RoomFields,
)
from clinic_core.shared.errors import FieldError
from clinic_core.shared.values import Money

Name = Annotated[str, Field(max_length=300)]
Word = Annotated[str, Field(max_length=80)]
Description = Annotated[str, Field(max_length=5000)]
Ids = Annotated[list[UUID], Field(max_length=1000)]


def _given(
    model: RequestModel, nullable: frozenset[str], renames: dict[str, str] | None = None
) -> dict[str, Any]:
    """The fields the body set: an explicit ``null`` clears a nullable field and is refused for the others."""
    values: dict[str, Any] = {}
    refused: list[FieldError] = []
    for name in model.model_fields_set:
        value = getattr(model, name)
        if value is None and name not in nullable:
            refused.append(FieldError(name, "required", "this field cannot be null"))
        values[(renames or {}).get(name, name)] = value
    if refused:
        raise ProblemRaised(invalid_fields(refused))
    return values


class MoneyIn(RequestModel):
    amount: Decimal = Field(max_digits=14)
    """A decimal string (`"150.00"`); rounded half-even to the currency's minor unit."""
    currency: Annotated[str, Field(max_length=3)] = "BRL"
    """ISO 4217: BRL (default), USD, EUR, GBP, ARS, CLP, PYG, UYU."""


class MoneyOut(ResponseModel):
    amount: str
    """A decimal string with the currency's minor digits (`"150.00"`)."""
    currency: str

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=str(money.amount), currency=money.currency)


# --- categories ------------------------------------------------------------------------------------------


class CategoryRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Estética facial", "icon": "spa", "colour": "#E91E63"}]}
    )

    name: Name | None = None
    """Required when creating."""
    slug: Word | None = None
    """Unique in the clinic (409 `duplicate_catalog_entry`); made from the name when left out or null."""
    icon: Word | None = None
    colour: Word | None = None
    """`#RRGGBB`."""
    sort_order: int | None = None
    active: bool | None = None

    def fields(self) -> CategoryFields:
        return CategoryFields(**_given(self, frozenset({"slug", "icon", "colour"})))


class CategoryOut(ResponseModel):
    id: UUID
    name: str
    slug: str
    icon: str | None
    colour: str | None
    sort_order: int
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Category) -> CategoryOut:
        return cls(
            id=c.id,
            name=c.name,
            slug=c.slug.value,
            icon=c.icon,
            colour=c.colour,
            sort_order=c.sort_order,
            active=c.active,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class CategoryList(ResponseModel):
    items: list[CategoryOut]


# --- procedures ------------------------------------------------------------------------------------------


class ProcedureRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Limpeza de pele",
                    "duration_minutes": 60,
                    "price": {"amount": "180.00", "currency": "BRL"},
                    "buffer_after_minutes": 15,
                    "room_type": "procedure_room",
                }
            ]
        }
    )

    name: Name | None = None
    """Required when creating."""
    description: Description | None = None
    category_id: UUID | None = None
    duration_minutes: int | None = None
    """5 to 720, in steps of 5. Required when creating."""
    price: MoneyIn | None = None
    """Required when creating; never negative."""
    buffer_before_minutes: int | None = None
    """0 to 240: time kept free before (preparing the room)."""
    buffer_after_minutes: int | None = None
    """0 to 240: time kept free after (cleaning)."""
    active: bool | None = None
    sort_order: int | None = None
    """Left out when creating: after every other procedure. `POST /v1/procedures/reorder` sets them all."""
    professional_ids: Ids | None = None
    """Who performs it: the whole set."""
    room_type: Word | None = None
    """The type of room it needs (`laser_room`), or null for any."""

    def fields(self) -> ProcedureFields:
        values = _given(self, frozenset({"description", "category_id", "room_type"}))
        if "price" in values:
            values["price"] = PriceInput(values["price"].amount, values["price"].currency)
        return ProcedureFields(**values)


class ProcedureOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    category_id: UUID | None
    duration_minutes: int
    price: MoneyOut
    buffer_before_minutes: int
    buffer_after_minutes: int
    active: bool
    sort_order: int
    professional_ids: list[UUID]
    room_type: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Procedure) -> ProcedureOut:
        return cls(
            id=p.id,
            name=p.name,
            description=p.description,
            category_id=p.category_id,
            duration_minutes=p.duration_minutes,
            price=MoneyOut.of(p.price),
            buffer_before_minutes=p.buffer_before_minutes,
            buffer_after_minutes=p.buffer_after_minutes,
            active=p.active,
            sort_order=p.sort_order,
            professional_ids=sorted(p.professional_ids),
            room_type=p.room_type,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class ProcedurePageOut(ResponseModel):
    items: list[ProcedureOut]
    next_cursor: str | None


class ReorderRequest(RequestModel):
    procedure_ids: Annotated[list[UUID], Field(max_length=5000)]
    """Every procedure of the clinic (or of `category_id`), in the order wanted."""
    category_id: UUID | None = None
    """Reorder one category's procedures only; the others keep their places."""


class ReorderOut(ResponseModel):
    procedure_ids: list[UUID]


# --- professionals ---------------------------------------------------------------------------------------


class RegistrationIn(RequestModel):
    council: Annotated[str, Field(max_length=10)]
    """CRM, CRMV, CRBM, CRO, COREN, CRF or OTHER."""
    number: Word
    state: Annotated[str, Field(max_length=2)]
    """The UF (`SP`)."""


class RegistrationOut(ResponseModel):
    council: str
    number: str
    state: str


class ProfessionalRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "0193a0c4-7d1e-7c2a-9f7e-0a1b2c3d4e5f",
                    "display_name": "Dra. Helena Prado",
                    "registration": {"council": "CRM", "number": "123456", "state": "SP"},
                    "specialties": ["Dermatologia"],
                }
            ]
        }
    )

    user_id: UUID | None = None
    """Creating only: a member of the clinic who holds the `professional` role."""
    display_name: Name | None = None
    """Left out when creating: the member's name."""
    registration: RegistrationIn | None = None
    """The council registration, or null for none."""
    specialties: Annotated[list[Word], Field(max_length=50)] | None = None
    procedure_ids: Ids | None = None
    """What they perform: the whole set."""
    unit_ids: Ids | None = None
    """Where they work: the whole set."""
    active: bool | None = None

    def fields(self) -> ProfessionalFields:
        values = _given(self, frozenset({"registration"}))
        registration = values.get("registration")
        if registration is not None:
            values["registration"] = RegistrationInput(
                registration.council, registration.number, registration.state
            )
        return ProfessionalFields(**values)


class AssignProceduresRequest(RequestModel):
    procedure_ids: Ids


class ProfessionalOut(ResponseModel):
    id: UUID
    user_id: UUID
    display_name: str
    registration: RegistrationOut | None
    specialties: list[str]
    procedure_ids: list[UUID]
    unit_ids: list[UUID]
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Professional) -> ProfessionalOut:
        r = p.registration
        return cls(
            id=p.id,
            user_id=p.user_id,
            display_name=p.display_name,
            registration=RegistrationOut(council=r.council.value, number=r.number, state=r.state)
            if r
            else None,
            specialties=list(p.specialties),
            procedure_ids=sorted(p.procedure_ids),
            unit_ids=sorted(p.unit_ids),
            active=p.active,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class ProfessionalPage(ResponseModel):
    items: list[ProfessionalOut]
    next_cursor: str | None


# --- rooms -----------------------------------------------------------------------------------------------


class RoomRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Sala Laser", "type": "laser_room"}]})

    name: Name | None = None
    """Unique in its unit. Required when creating."""
    type: Word | None = None
    """What procedures ask for: `consulting_room`, `laser_room`, `surgery`, `kennel`... Required when creating."""
    active: bool | None = None

    def fields(self) -> RoomFields:
        return RoomFields(**_given(self, frozenset()))


class UnitThingOut(ResponseModel):
    """A room or a piece of equipment of a unit."""

    id: UUID
    unit_id: UUID
    name: str
    type: str
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: Room | Equipment) -> Self:
        return cls(
            id=t.id,
            unit_id=t.unit_id,
            name=t.name,
            type=t.type,
            active=t.active,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )


class RoomOut(UnitThingOut):
    pass


class RoomList(ResponseModel):
    items: list[RoomOut]


# --- equipment -------------------------------------------------------------------------------------------


class EquipmentRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Laser Alexandrita", "type": "laser"}]}
    )

    name: Name | None = None
    """Unique in its unit. Required when creating."""
    type: Word | None = None
    """What kind of device: `laser`, `ultrasound`, `x_ray`... Required when creating."""
    active: bool | None = None

    def fields(self) -> EquipmentFields:
        return EquipmentFields(**_given(self, frozenset()))


class EquipmentOut(UnitThingOut):
    pass


class EquipmentList(ResponseModel):
    items: list[EquipmentOut]


# --- the public catalog (served by the public booking routes) ---------------------------------------------


class PublicUnitOut(ResponseModel):
    id: UUID
    name: str
    timezone: str
    city: str | None
    state: str | None


class PublicCategoryOut(ResponseModel):
    id: UUID
    name: str
    slug: str
    icon: str | None
    colour: str | None


class PublicProcedureOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    category_id: UUID | None
    duration_minutes: int
    price: MoneyOut


class PublicCatalogOut(ResponseModel):
    slug: str
    name: str
    units: list[PublicUnitOut]
    categories: list[PublicCategoryOut]
    procedures: list[PublicProcedureOut]

    @classmethod
    def of(cls, c: PublicCatalog) -> PublicCatalogOut:
        return cls(
            slug=c.slug,
            name=c.name,
            units=[
                PublicUnitOut(id=u.id, name=u.name, timezone=u.timezone, city=u.city, state=u.state)
                for u in c.units
            ],
            categories=[
                PublicCategoryOut(id=k.id, name=k.name, slug=k.slug, icon=k.icon, colour=k.colour)
                for k in c.categories
            ],
            procedures=[
                PublicProcedureOut(
                    id=p.id,
                    name=p.name,
                    description=p.description,
                    category_id=p.category_id,
                    duration_minutes=p.duration_minutes,
                    price=MoneyOut.of(p.price),
                )
                for p in c.procedures
            ],
        )
