"""Managing the catalog: categories, procedures (and their order), professionals, rooms and equipment.

Reading needs ``catalog:read``, changing ``catalog:write``. Each use case is one transaction and records an
audit event with its change. Ids in the path that are not the tenant's answer ``NotFound`` (like ids that
do not exist); ids named in a body (a category, a professional, a unit) that are not the tenant's are
invalid input against their field. A value another row of the tenant holds (a slug, a registration, a
room's or equipment's name in its unit, a user who is a professional already) is a ``DuplicateCatalogEntry``.

Partial updates take ``UNSET`` for a field left alone and ``None`` to clear an optional one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.catalog.model import (
    Category,
    CategoryId,
    CouncilRegistration,
    Equipment,
    EquipmentId,
    Procedure,
    ProcedureId,
    Professional,
    ProfessionalId,
    Room,
    RoomId,
    check_buffer,
    check_colour,
    check_description,
    check_duration,
    check_icon,
    check_kind,
    check_name,
    check_price,
    check_sort_order,
    check_specialties,
)
from clinic_core.catalog.ports import ProcedurePosition, ProcedureQuery, ProfessionalQuery
from clinic_core.patients.fields import UNSET, Unset
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import UnitId, UserId, new_uuid
from clinic_core.shared.values import Money, Slug
from clinic_core.tenancy.permissions import Permission, Role

__all__ = ["UNSET", "Unset"]

_DUPLICATES = {
    "uq_categories_tenant_id_slug": ("slug", "another category has this slug"),
    "uq_professionals_tenant_id_user_id": ("user_id", "this member is a professional already"),
    "uq_professionals_tenant_id_registration": (
        "council_registration",
        "another professional has this council registration",
    ),
    "uq_rooms_tenant_id_unit_id_name": ("name", "the unit has a room of this name"),
    "uq_equipment_tenant_id_unit_id_name": ("name", "the unit has equipment of this name"),
}


@dataclass(frozen=True, slots=True)
class DuplicateCatalogEntry(Conflict):
    """Another entry of the clinic's catalog holds a value that must be unique (409)."""

    code: ClassVar[str] = "duplicate_catalog_entry"
    field: str = ""

    @property
    def detail(self) -> str:
        return self.message


def _duplicate(violation: UniqueViolation) -> DuplicateCatalogEntry:
    field_name, message = _DUPLICATES.get(violation.constraint, ("", "the entry conflicts with another"))
    return DuplicateCatalogEntry(message=message, field=field_name)


def _scope(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


def _audit(
    actor: Actor,
    action: AuditAction,
    kind: str,
    target: UUID,
    at: datetime,
    context: RequestContext,
    **details: Any,
) -> AuditEvent:
    return AuditEvent.record(
        action,
        tenant_id=actor.tenant_id,
        at=at,
        context=context,
        target=AuditTarget(kind, str(target)),
        **acted_by(actor),
        **details,
    )


def _given(values: object) -> list[str]:
    return [f.name for f in fields(values) if getattr(values, f.name) is not UNSET]  # type: ignore[arg-type]


def _invalid(*errors: FieldError) -> Failure[InvalidInput]:
    return Failure(InvalidInput(tuple(errors)))


# --- categories ------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CategoryFields:
    name: str | Unset = UNSET
    slug: str | Unset | None = UNSET
    """None (or left out when creating): made from the name."""
    icon: str | Unset | None = UNSET
    colour: str | Unset | None = UNSET
    sort_order: int | Unset = UNSET
    active: bool | Unset = UNSET


def _category_values(f: CategoryFields) -> Result[dict[str, Any], InvalidInput]:
    checks: dict[str, Result[Any, InvalidInput]] = {}
    if not isinstance(f.name, Unset):
        checks["name"] = check_name(f.name)
    if isinstance(f.slug, str):
        checks["slug"] = Slug.parse(f.slug)
    if not isinstance(f.icon, Unset):
        checks["icon"] = check_icon(f.icon)
    if isinstance(f.colour, str):
        checks["colour"] = check_colour(f.colour)
    if not isinstance(f.sort_order, Unset):
        checks["sort_order"] = check_sort_order(f.sort_order)
    invalid = collect_invalid(*checks.values())
    if invalid is not None:
        return Failure(invalid)
    values = {name: result.unwrap() for name, result in checks.items()}
    if f.colour is None:
        values["colour"] = None
    if not isinstance(f.active, Unset):
        values["active"] = f.active
    return Success(values)


class CreateCategory:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, f: CategoryFields, context: RequestContext = NO_CONTEXT
    ) -> Result[Category, Forbidden | InvalidInput | DuplicateCatalogEntry]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        if isinstance(f.name, Unset):
            return _invalid(FieldError("name", "required", "a name is required"))
        parsed = _category_values(f)
        if isinstance(parsed, Failure):
            return parsed
        values = parsed.unwrap()
        now = self._clock.now()
        category = Category(
            tenant_id=actor.tenant_id,
            id=CategoryId(new_uuid()),
            name=values["name"],
            slug=values.get("slug") or Slug.from_text(values["name"]),
            icon=values.get("icon"),
            colour=values.get("colour"),
            sort_order=values.get("sort_order", 0),
            active=values.get("active", True),
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._uow(_scope(actor)) as uow:
                await uow.categories.add(category)
                await uow.audit.add(
                    _audit(actor, AuditAction.CATEGORY_CREATED, "category", category.id, now, context)
                )
                await uow.commit()
        except UniqueViolation as violation:
            return Failure(_duplicate(violation))
        return Success(category)


class UpdateCategory:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, category_id: CategoryId, f: CategoryFields, context: RequestContext = NO_CONTEXT
    ) -> Result[Category, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        parsed = _category_values(f)
        if isinstance(parsed, Failure):
            return parsed
        values = parsed.unwrap()
        now = self._clock.now()
        try:
            async with self._uow(_scope(actor)) as uow:
                category = await uow.categories.get(category_id)
                if category is None:
                    return Failure(NotFound("category", str(category_id)))
                if f.slug is None:
                    values["slug"] = Slug.from_text(values.get("name", category.name))
                for name, value in values.items():
                    setattr(category, name, value)
                category.updated_at = now
                category.check()
                await uow.categories.save(category)
                await uow.audit.add(
                    _audit(
                        actor,
                        AuditAction.CATEGORY_UPDATED,
                        "category",
                        category.id,
                        now,
                        context,
                        changed=",".join(_given(f)),
                    )
                )
                await uow.commit()
        except UniqueViolation as violation:
            return Failure(_duplicate(violation))
        return Success(category)


class GetCategory:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, category_id: CategoryId) -> Result[Category, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            category = await uow.categories.get(category_id)
        return Success(category) if category is not None else Failure(NotFound("category", str(category_id)))


class ListCategories:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, active: bool | None = None) -> Result[list[Category], Forbidden]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            return Success(await uow.categories.list(active))


# --- procedures ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceInput:
    amount: str | int | Decimal
    currency: str = "BRL"


@dataclass(frozen=True, kw_only=True)
class ProcedureFields:
    name: str | Unset = UNSET
    description: str | Unset | None = UNSET
    category_id: UUID | Unset | None = UNSET
    duration_minutes: int | Unset = UNSET
    price: PriceInput | Unset = UNSET
    buffer_before_minutes: int | Unset = UNSET
    buffer_after_minutes: int | Unset = UNSET
    active: bool | Unset = UNSET
    sort_order: int | Unset = UNSET
    """Left out when creating: after every other procedure."""
    professional_ids: Sequence[UUID] | Unset = UNSET
    room_type: str | Unset | None = UNSET


async def _procedure_values(uow: UnitOfWork, f: ProcedureFields) -> Result[dict[str, Any], InvalidInput]:
    checks: dict[str, Result[Any, InvalidInput]] = {}
    if not isinstance(f.name, Unset):
        checks["name"] = check_name(f.name)
    if not isinstance(f.description, Unset):
        checks["description"] = check_description(f.description)
    if not isinstance(f.duration_minutes, Unset):
        checks["duration_minutes"] = check_duration(f.duration_minutes)
    if not isinstance(f.price, Unset):
        checks["price"] = Money.parse(f.price.amount, f.price.currency).bind(check_price)
    for name in ("buffer_before_minutes", "buffer_after_minutes"):
        value = getattr(f, name)
        if not isinstance(value, Unset):
            checks[name] = check_buffer(value, name)
    if not isinstance(f.sort_order, Unset):
        checks["sort_order"] = check_sort_order(f.sort_order)
    if isinstance(f.room_type, str):
        checks["room_type"] = check_kind(f.room_type, "room_type")
    invalid = collect_invalid(*checks.values())
    errors = list(invalid.errors) if invalid is not None else []
    values = {name: result.unwrap() for name, result in checks.items() if isinstance(result, Success)}
    if f.room_type is None:
        values["room_type"] = None
    if not isinstance(f.active, Unset):
        values["active"] = f.active
    if not isinstance(f.category_id, Unset):
        if f.category_id is not None and await uow.categories.get(CategoryId(f.category_id)) is None:
            errors.append(FieldError("category_id", "unknown_category", "no such category in this clinic"))
        values["category_id"] = CategoryId(f.category_id) if f.category_id is not None else None
    if not isinstance(f.professional_ids, Unset):
        wanted = frozenset(ProfessionalId(i) for i in f.professional_ids)
        found = await uow.professionals.get_many(wanted)
        if set(found) != wanted:
            errors.append(
                FieldError("professional_ids", "unknown_professional", "no such professional in this clinic")
            )
        values["professional_ids"] = wanted
    return _invalid(*errors) if errors else Success(values)


class CreateProcedure:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, f: ProcedureFields, context: RequestContext = NO_CONTEXT
    ) -> Result[Procedure, Forbidden | InvalidInput]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        missing = [
            FieldError(name, "required", "this field is required")
            for name in ("name", "duration_minutes", "price")
            if getattr(f, name) is UNSET
        ]
        if missing:
            return _invalid(*missing)
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            parsed = await _procedure_values(uow, f)
            if isinstance(parsed, Failure):
                return parsed
            values = parsed.unwrap()
            if "sort_order" not in values:
                values["sort_order"] = await uow.procedures.next_sort_order()
            procedure = Procedure(
                tenant_id=actor.tenant_id,
                id=ProcedureId(new_uuid()),
                created_at=now,
                updated_at=now,
                **values,
            )
            procedure.changed(now)
            await uow.procedures.add(procedure)
            await uow.audit.add(
                _audit(actor, AuditAction.PROCEDURE_CREATED, "procedure", procedure.id, now, context)
            )
            await uow.commit()
        return Success(procedure)


class UpdateProcedure:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self,
        actor: Actor,
        procedure_id: ProcedureId,
        f: ProcedureFields,
        context: RequestContext = NO_CONTEXT,
    ) -> Result[Procedure, Forbidden | NotFound | InvalidInput]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            procedure = await uow.procedures.get(procedure_id)
            if procedure is None:
                return Failure(NotFound("procedure", str(procedure_id)))
            parsed = await _procedure_values(uow, f)
            if isinstance(parsed, Failure):
                return parsed
            for name, value in parsed.unwrap().items():
                setattr(procedure, name, value)
            procedure.check()
            procedure.changed(now)
            await uow.procedures.save(procedure)
            await uow.audit.add(
                _audit(
                    actor,
                    AuditAction.PROCEDURE_UPDATED,
                    "procedure",
                    procedure.id,
                    now,
                    context,
                    changed=",".join(_given(f)),
                )
            )
            await uow.commit()
        return Success(procedure)


class GetProcedure:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, procedure_id: ProcedureId
    ) -> Result[Procedure, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            procedure = await uow.procedures.get(procedure_id)
        if procedure is None:
            return Failure(NotFound("procedure", str(procedure_id)))
        return Success(procedure)


@dataclass(frozen=True, slots=True)
class ProcedureCursor:
    """Where the next page of procedures starts, as an opaque string: ``sort_order`` and id."""

    position: ProcedurePosition

    def encode(self) -> str:
        raw = self.position.sort_order.to_bytes(4, "big") + self.position.id.bytes
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Result[ProcedureCursor, InvalidInput]:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 20:
            return Failure(InvalidInput.of("cursor", "invalid_cursor", "not a cursor this API returned"))
        return Success(
            cls(ProcedurePosition(int.from_bytes(raw[:4], "big"), ProcedureId(UUID(bytes=raw[4:]))))
        )


@dataclass(frozen=True, slots=True)
class ProcedureListing:
    active: bool | None = None
    category_id: CategoryId | None = None
    professional_id: ProfessionalId | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class ProcedurePage:
    items: list[Procedure]
    next_cursor: str | None


class ListProcedures:
    """The procedures in display order (``sort_order``, then creation), a page at a time."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, listing: ProcedureListing
    ) -> Result[ProcedurePage, Forbidden | InvalidInput]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        if not 1 <= listing.limit <= MAX_LIMIT:
            return Failure(InvalidInput.of("limit", "out_of_range", f"limit must be 1 to {MAX_LIMIT}"))
        after: ProcedurePosition | None = None
        if listing.cursor:
            cursor = ProcedureCursor.decode(listing.cursor)
            if isinstance(cursor, Failure):
                return cursor
            after = cursor.unwrap().position
        query = ProcedureQuery(
            active=listing.active,
            category_id=listing.category_id,
            professional_id=listing.professional_id,
            after=after,
            limit=listing.limit + 1,
        )
        async with self._uow(_scope(actor), read_only=True) as uow:
            rows = await uow.procedures.list(query)
        items = rows[: listing.limit]
        more = len(rows) > listing.limit
        next_cursor = (
            ProcedureCursor(ProcedurePosition(items[-1].sort_order, items[-1].id)).encode() if more else None
        )
        return Success(ProcedurePage(items, next_cursor))


class ReorderProcedures:
    """Set the display order: the full list of the tenant's procedures (or of one category's), in the order
    wanted. Ids of no procedure of the clinic answer ``NotFound``; a list that leaves one out or names one
    twice (or one of another category) is invalid. Within a category, the procedures take the sort orders
    that category's procedures held, so the order among other categories is kept."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self,
        actor: Actor,
        procedure_ids: Sequence[UUID],
        category_id: CategoryId | None = None,
        context: RequestContext = NO_CONTEXT,
    ) -> Result[list[ProcedureId], Forbidden | NotFound | InvalidInput]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        wanted = [ProcedureId(i) for i in procedure_ids]
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            if category_id is not None and await uow.categories.get(category_id) is None:
                return Failure(NotFound("category", str(category_id)))
            found = await uow.procedures.get_many(wanted)
            strangers = [i for i in wanted if i not in found]
            if strangers:
                return Failure(NotFound("procedure", str(strangers[0])))
            current = await uow.procedures.ordered_ids(category_id)
            if len(set(wanted)) != len(wanted):
                return Failure(
                    InvalidInput.of("procedure_ids", "duplicate_id", "a procedure is listed twice")
                )
            if set(wanted) != set(current):
                extra = set(wanted) - set(current)
                message = (
                    "a procedure listed is not of the category"
                    if extra
                    else "every procedure must be listed: some are missing"
                )
                return Failure(InvalidInput.of("procedure_ids", "incomplete_order", message))
            if category_id is None:
                orders = list(range(len(wanted)))
            else:
                orders = sorted(found[i].sort_order for i in wanted)
                # Equal orders inside the category would leave the new order to the ids: spread them.
                for index in range(1, len(orders)):
                    orders[index] = max(orders[index], orders[index - 1] + 1)
            await uow.procedures.set_sort_orders(dict(zip(wanted, orders, strict=True)))
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.PROCEDURES_REORDERED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=context,
                    target=AuditTarget("category", str(category_id)) if category_id else None,
                    **acted_by(actor),
                    count=len(wanted),
                )
            )
            await uow.commit()
        return Success(wanted)


# --- professionals ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistrationInput:
    council: str
    number: str
    state: str


@dataclass(frozen=True, kw_only=True)
class ProfessionalFields:
    user_id: UUID | Unset = UNSET
    """Only when creating: the member (with the professional role) this professional is."""
    display_name: str | Unset = UNSET
    """Left out when creating: the member's name."""
    registration: RegistrationInput | Unset | None = UNSET
    specialties: Sequence[str] | Unset = UNSET
    procedure_ids: Sequence[UUID] | Unset = UNSET
    unit_ids: Sequence[UUID] | Unset = UNSET
    active: bool | Unset = UNSET


async def _professional_values(
    uow: UnitOfWork, actor: Actor, f: ProfessionalFields
) -> Result[dict[str, Any], InvalidInput]:
    checks: dict[str, Result[Any, InvalidInput]] = {}
    if not isinstance(f.display_name, Unset):
        checks["display_name"] = check_name(f.display_name, "display_name")
    if isinstance(f.registration, RegistrationInput):
        r = f.registration
        checks["registration"] = CouncilRegistration.parse(r.council, r.number, r.state, "registration")
    if not isinstance(f.specialties, Unset):
        checks["specialties"] = check_specialties(f.specialties)
    invalid = collect_invalid(*checks.values())
    errors = list(invalid.errors) if invalid is not None else []
    values = {name: result.unwrap() for name, result in checks.items() if isinstance(result, Success)}
    if f.registration is None:
        values["registration"] = None
    if not isinstance(f.active, Unset):
        values["active"] = f.active
    if not isinstance(f.procedure_ids, Unset):
        wanted_procedures = frozenset(ProcedureId(i) for i in f.procedure_ids)
        if set(await uow.procedures.get_many(wanted_procedures)) != wanted_procedures:
            errors.append(
                FieldError("procedure_ids", "unknown_procedure", "no such procedure in this clinic")
            )
        values["procedure_ids"] = wanted_procedures
    if not isinstance(f.unit_ids, Unset):
        wanted_units = frozenset(UnitId(i) for i in f.unit_ids)
        visible = all(actor.sees_unit(u) for u in wanted_units)
        if not visible or await uow.units.existing(wanted_units) != wanted_units:
            errors.append(FieldError("unit_ids", "unknown_unit", "no such unit in this clinic"))
        values["unit_ids"] = wanted_units
    return _invalid(*errors) if errors else Success(values)


class CreateProfessional:
    """Make a member of the clinic who holds the professional role bookable: their display name, council
    registration, specialties, what they perform and where."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, f: ProfessionalFields, context: RequestContext = NO_CONTEXT
    ) -> Result[Professional, Forbidden | InvalidInput | DuplicateCatalogEntry]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        if isinstance(f.user_id, Unset):
            return _invalid(FieldError("user_id", "required", "the member's user id is required"))
        user_id = UserId(f.user_id)
        now = self._clock.now()
        try:
            async with self._uow(_scope(actor)) as uow:
                membership = await uow.memberships.get_for_user(user_id)
                if membership is None:
                    return _invalid(
                        FieldError("user_id", "not_a_member", "no member of this clinic has this id")
                    )
                if Role.PROFESSIONAL not in membership.roles:
                    return _invalid(
                        FieldError(
                            "user_id", "not_a_professional", "the member does not hold the professional role"
                        )
                    )
                parsed = await _professional_values(uow, actor, f)
                if isinstance(parsed, Failure):
                    return parsed
                values = parsed.unwrap()
                if "display_name" not in values:
                    user = await uow.users.get(user_id)
                    values["display_name"] = user.name.value[:120] if user is not None else "?"
                professional = Professional(
                    tenant_id=actor.tenant_id,
                    id=ProfessionalId(new_uuid()),
                    user_id=user_id,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                professional.changed(now)
                await uow.professionals.add(professional)
                await uow.audit.add(
                    _audit(
                        actor, AuditAction.PROFESSIONAL_CREATED, "professional", professional.id, now, context
                    )
                )
                await uow.commit()
        except UniqueViolation as violation:
            return Failure(_duplicate(violation))
        return Success(professional)


class UpdateProfessional:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self,
        actor: Actor,
        professional_id: ProfessionalId,
        f: ProfessionalFields,
        context: RequestContext = NO_CONTEXT,
    ) -> Result[Professional, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        if not isinstance(f.user_id, Unset):
            return _invalid(FieldError("user_id", "read_only", "a professional's member cannot change"))
        now = self._clock.now()
        try:
            async with self._uow(_scope(actor)) as uow:
                professional = await uow.professionals.get(professional_id)
                if professional is None:
                    return Failure(NotFound("professional", str(professional_id)))
                parsed = await _professional_values(uow, actor, f)
                if isinstance(parsed, Failure):
                    return parsed
                for name, value in parsed.unwrap().items():
                    setattr(professional, name, value)
                professional.check()
                professional.changed(now)
                await uow.professionals.save(professional)
                await uow.audit.add(
                    _audit(
                        actor,
                        AuditAction.PROFESSIONAL_UPDATED,
                        "professional",
                        professional.id,
                        now,
                        context,
                        changed=",".join(_given(f)),
                    )
                )
                await uow.commit()
        except UniqueViolation as violation:
            return Failure(_duplicate(violation))
        return Success(professional)


class AssignProcedures:
    """Make ``procedure_ids`` the whole set of what a professional performs."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._update = UpdateProfessional(uow, clock)

    async def __call__(
        self,
        actor: Actor,
        professional_id: ProfessionalId,
        procedure_ids: Sequence[UUID],
        context: RequestContext = NO_CONTEXT,
    ) -> Result[Professional, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        return await self._update(
            actor, professional_id, ProfessionalFields(procedure_ids=procedure_ids), context
        )


class GetProfessional:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, professional_id: ProfessionalId
    ) -> Result[Professional, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            professional = await uow.professionals.get(professional_id)
        if professional is None:
            return Failure(NotFound("professional", str(professional_id)))
        return Success(professional)


class ListProfessionals:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, query: ProfessionalQuery, page: PageRequest
    ) -> Result[Page[Professional], Forbidden]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            return Success(await uow.professionals.list(query, page))


# --- rooms and equipment (the things of a unit) ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UnitThingFields:
    """A room's or an equipment's fields: a ``name`` unique in its unit, a ``type``, ``active``."""

    name: str | Unset = UNSET
    type: str | Unset = UNSET
    active: bool | Unset = UNSET


class RoomFields(UnitThingFields):
    pass


class EquipmentFields(UnitThingFields):
    pass


_Thing = TypeVar("_Thing", Room, Equipment)


class _UnitThings(Protocol[_Thing]):
    async def add(self, thing: _Thing, /) -> None: ...

    async def get(self, thing_id: Any, /) -> _Thing | None: ...

    async def save(self, thing: _Thing, /) -> None: ...

    async def list(
        self, unit_id: UnitId | None = None, *, active: bool | None = None, type: str | None = None
    ) -> list[_Thing]: ...


@dataclass(frozen=True, slots=True)
class _Kind(Generic[_Thing]):
    """What tells rooms and equipment apart in their use cases."""

    resource: str
    make: type[_Thing]
    identify: Callable[[UUID], Any]
    """The id's NewType (``RoomId``, ``EquipmentId``)."""
    repository: Callable[[UnitOfWork], _UnitThings[_Thing]]
    created: AuditAction
    updated: AuditAction


_ROOMS = _Kind(
    "room", Room, RoomId, lambda uow: uow.rooms, AuditAction.ROOM_CREATED, AuditAction.ROOM_UPDATED
)
_EQUIPMENT = _Kind(
    "equipment",
    Equipment,
    EquipmentId,
    lambda uow: uow.equipment,
    AuditAction.EQUIPMENT_CREATED,
    AuditAction.EQUIPMENT_UPDATED,
)


def _unit_thing_values(f: UnitThingFields) -> Result[dict[str, Any], InvalidInput]:
    checks: dict[str, Result[Any, InvalidInput]] = {}
    if not isinstance(f.name, Unset):
        checks["name"] = check_name(f.name)
    if not isinstance(f.type, Unset):
        checks["type"] = check_kind(f.type)
    invalid = collect_invalid(*checks.values())
    if invalid is not None:
        return Failure(invalid)
    values = {name: result.unwrap() for name, result in checks.items()}
    if not isinstance(f.active, Unset):
        values["active"] = f.active
    return Success(values)


class _CreateUnitThing(Generic[_Thing]):
    _kind: ClassVar[_Kind[Any]]

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def _create(
        self, actor: Actor, unit_id: UnitId, f: UnitThingFields, context: RequestContext
    ) -> Result[_Thing, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        missing = [
            FieldError(n, "required", "this field is required")
            for n in ("name", "type")
            if getattr(f, n) is UNSET
        ]
        if missing:
            return _invalid(*missing)
        parsed = _unit_thing_values(f)
        if isinstance(parsed, Failure):
            return parsed
        kind: _Kind[_Thing] = self._kind
        now = self._clock.now()
        try:
            async with self._uow(_scope(actor)) as uow:
                if not actor.sees_unit(unit_id) or await uow.units.get(unit_id) is None:
                    return Failure(NotFound("unit", str(unit_id)))
                thing = kind.make(
                    tenant_id=actor.tenant_id,
                    id=kind.identify(new_uuid()),
                    unit_id=unit_id,
                    created_at=now,
                    updated_at=now,
                    **parsed.unwrap(),
                )
                await kind.repository(uow).add(thing)
                await uow.audit.add(_audit(actor, kind.created, kind.resource, thing.id, now, context))
                await uow.commit()
        except UniqueViolation as violation:
            return Failure(_duplicate(violation))
        return Success(thing)


class _UpdateUnitThing(Generic[_Thing]):
    _kind: ClassVar[_Kind[Any]]

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def _update(
        self, actor: Actor, thing_id: UUID, f: UnitThingFields, context: RequestContext
    ) -> Result[_Thing, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        allowed = actor.authorize(Permission.CATALOG_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        parsed = _unit_thing_values(f)
        if isinstance(parsed, Failure):
            return parsed
        kind: _Kind[_Thing] = self._kind
        now = self._clock.now()
        try:
            async with self._uow(_scope(actor)) as uow:
                things = kind.repository(uow)
                thing = await things.get(thing_id)
                if thing is None or not actor.sees_unit(thing.unit_id):
                    return Failure(NotFound(kind.resource, str(thing_id)))
                for name, value in parsed.unwrap().items():
                    setattr(thing, name, value)
                thing.updated_at = now
                thing.__post_init__()
                await things.save(thing)
                await uow.audit.add(
                    _audit(
                        actor,
                        kind.updated,
                        kind.resource,
                        thing.id,
                        now,
                        context,
                        changed=",".join(_given(f)),
                    )
                )
                await uow.commit()
        except UniqueViolation as violation:
            return Failure(_duplicate(violation))
        return Success(thing)


class _GetUnitThing(Generic[_Thing]):
    _kind: ClassVar[_Kind[Any]]

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def _get(self, actor: Actor, thing_id: UUID) -> Result[_Thing, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        kind: _Kind[_Thing] = self._kind
        async with self._uow(_scope(actor), read_only=True) as uow:
            thing = await kind.repository(uow).get(thing_id)
        if thing is None or not actor.sees_unit(thing.unit_id):
            return Failure(NotFound(kind.resource, str(thing_id)))
        return Success(thing)


class _ListUnitThings(Generic[_Thing]):
    _kind: ClassVar[_Kind[Any]]

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def _list(
        self, actor: Actor, unit_id: UnitId, active: bool | None, type: str | None
    ) -> Result[list[_Thing], Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CATALOG_READ)
        if isinstance(allowed, Failure):
            return allowed
        kind: _Kind[_Thing] = self._kind
        async with self._uow(_scope(actor), read_only=True) as uow:
            if not actor.sees_unit(unit_id) or await uow.units.get(unit_id) is None:
                return Failure(NotFound("unit", str(unit_id)))
            return Success(await kind.repository(uow).list(unit_id, active=active, type=type))


class CreateRoom(_CreateUnitThing[Room]):
    _kind = _ROOMS

    async def __call__(
        self, actor: Actor, unit_id: UnitId, f: RoomFields, context: RequestContext = NO_CONTEXT
    ) -> Result[Room, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        return await self._create(actor, unit_id, f, context)


class UpdateRoom(_UpdateUnitThing[Room]):
    _kind = _ROOMS

    async def __call__(
        self, actor: Actor, room_id: RoomId, f: RoomFields, context: RequestContext = NO_CONTEXT
    ) -> Result[Room, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        return await self._update(actor, room_id, f, context)


class GetRoom(_GetUnitThing[Room]):
    _kind = _ROOMS

    async def __call__(self, actor: Actor, room_id: RoomId) -> Result[Room, Forbidden | NotFound]:
        return await self._get(actor, room_id)


class ListRooms(_ListUnitThings[Room]):
    _kind = _ROOMS

    async def __call__(
        self, actor: Actor, unit_id: UnitId, *, active: bool | None = None, type: str | None = None
    ) -> Result[list[Room], Forbidden | NotFound]:
        return await self._list(actor, unit_id, active, type)


class CreateEquipment(_CreateUnitThing[Equipment]):
    """Add a device (a laser, an ultrasound) to a unit: a name unique in the unit and a type."""

    _kind = _EQUIPMENT

    async def __call__(
        self, actor: Actor, unit_id: UnitId, f: EquipmentFields, context: RequestContext = NO_CONTEXT
    ) -> Result[Equipment, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        return await self._create(actor, unit_id, f, context)


class UpdateEquipment(_UpdateUnitThing[Equipment]):
    _kind = _EQUIPMENT

    async def __call__(
        self,
        actor: Actor,
        equipment_id: EquipmentId,
        f: EquipmentFields,
        context: RequestContext = NO_CONTEXT,
    ) -> Result[Equipment, Forbidden | NotFound | InvalidInput | DuplicateCatalogEntry]:
        return await self._update(actor, equipment_id, f, context)


class GetEquipment(_GetUnitThing[Equipment]):
    _kind = _EQUIPMENT

    async def __call__(
        self, actor: Actor, equipment_id: EquipmentId
    ) -> Result[Equipment, Forbidden | NotFound]:
        return await self._get(actor, equipment_id)


class ListEquipment(_ListUnitThings[Equipment]):
    _kind = _EQUIPMENT

    async def __call__(
        self, actor: Actor, unit_id: UnitId, *, active: bool | None = None, type: str | None = None
    ) -> Result[list[Equipment], Forbidden | NotFound]:
        return await self._list(actor, unit_id, active, type)
