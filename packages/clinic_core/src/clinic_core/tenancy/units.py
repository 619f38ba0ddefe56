"""Units: the locations of a tenant (one clinic, or each franchise unit)."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import FieldError, Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import UnitId, new_uuid
from clinic_core.shared.values import Phone, TimeZone, has_control_characters
from clinic_core.tenancy.model import Address, Unit, UnitCreated
from clinic_core.tenancy.permissions import Permission


@dataclass(frozen=True, slots=True)
class AddressInput:
    line1: str
    city: str
    state: str
    postal_code: str
    country: str = "BR"
    line2: str | None = None
    district: str | None = None


@dataclass(frozen=True, slots=True)
class CreateUnitCommand:
    actor: Actor
    name: str
    timezone: str
    phone: str | None = None
    address: AddressInput | None = None


def _address(raw: AddressInput | None) -> Result[Address | None, InvalidInput]:
    if raw is None:
        return Success(None)
    errors = [
        FieldError(f"address.{name}", "required", "this field is required")
        for name in ("line1", "city", "state", "postal_code")
        if not getattr(raw, name).strip()
    ]
    errors.extend(
        FieldError(f"address.{name}", "invalid_characters", "control characters are not allowed")
        for name in ("line1", "line2", "district", "city", "state", "postal_code")
        if has_control_characters(getattr(raw, name) or "")
    )
    country = raw.country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        errors.append(FieldError("address.country", "invalid_country", "use an ISO 3166-1 alpha-2 code"))
    if errors:
        return Failure(InvalidInput(tuple(errors)))
    return Success(
        Address(
            line1=raw.line1.strip(),
            city=raw.city.strip(),
            state=raw.state.strip(),
            postal_code=raw.postal_code.strip(),
            country=country,
            line2=(raw.line2 or "").strip() or None,
            district=(raw.district or "").strip() or None,
        )
    )


class CreateUnit:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: CreateUnitCommand) -> Result[Unit, Forbidden | InvalidInput]:
        allowed = cmd.actor.authorize(Permission.UNITS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        if cmd.actor.unit_ids:  # a member restricted to some units cannot widen the tenant
            return Failure(Forbidden(permission=Permission.UNITS_WRITE.value))
        name = " ".join(cmd.name.split())
        timezone = TimeZone.parse(cmd.timezone)
        phone = Phone.parse(cmd.phone) if cmd.phone else Success(None)
        address = _address(cmd.address)
        name_check: Result[str, InvalidInput] = Success(name)
        if not 2 <= len(name) <= 120:
            name_check = Failure(InvalidInput.of("name", "invalid_length", "use 2 to 120 characters"))
        elif has_control_characters(name):
            name_check = Failure(
                InvalidInput.of("name", "invalid_characters", "control characters are not allowed")
            )
        invalid = collect_invalid(name_check, timezone, phone, address)
        if invalid is not None:
            return Failure(invalid)
        now = self._clock.now()
        unit = Unit(
            tenant_id=cmd.actor.tenant_id,
            id=UnitId(new_uuid()),
            name=name,
            timezone=timezone.unwrap(),
            phone=phone.unwrap(),
            address=address.unwrap(),
            created_at=now,
        )
        unit.events.append(UnitCreated(tenant_id=unit.tenant_id, occurred_at=now, unit_id=unit.id))
        async with self._uow(Scope(tenant_id=cmd.actor.tenant_id, user_id=cmd.actor.user_id)) as uow:
            await uow.units.add(unit)
            await uow.commit()
        return Success(unit)


class GetUnit:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, unit_id: UnitId) -> Result[Unit, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.UNITS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            unit = await uow.units.get(unit_id) if actor.sees_unit(unit_id) else None
        if unit is None:
            return Failure(NotFound("unit", str(unit_id)))
        return Success(unit)


class ListUnits:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, page: PageRequest) -> Result[Page[Unit], Forbidden]:
        allowed = actor.authorize(Permission.UNITS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            return Success(await uow.units.list(page, only=actor.unit_filter))
