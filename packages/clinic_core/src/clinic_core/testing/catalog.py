"""In-memory repositories of the catalog, with the contracts of the SQL ones: one tenant each, copies in and
out (an entity changed but not saved changes nothing stored), unique constraints raising ``UniqueViolation``,
and the professional-procedure relation kept once, written from either side."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import NoTenantInScope, UniqueViolation
from clinic_core.catalog.model import (
    Category,
    CategoryId,
    Equipment,
    EquipmentId,
    Procedure,
    ProcedureId,
    Professional,
    ProfessionalId,
    Room,
    RoomId,
)
from clinic_core.catalog.ports import ProcedureQuery, ProfessionalQuery
from clinic_core.shared.ids import TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Money, Slug

T = TypeVar("T")


@dataclass
class CatalogTables:
    categories: dict[UUID, Category] = field(default_factory=dict)
    procedures: dict[UUID, Procedure] = field(default_factory=dict)
    professionals: dict[UUID, Professional] = field(default_factory=dict)
    performs: set[tuple[TenantId, ProfessionalId, ProcedureId]] = field(default_factory=set)
    """professional_procedures: the one copy of who performs what."""
    rooms: dict[UUID, Room] = field(default_factory=dict)
    equipment: dict[UUID, Equipment] = field(default_factory=dict)


class _Tenant:
    def __init__(self, tables: CatalogTables, seen: list[object], tenant: TenantId) -> None:
        self._t, self._seen, self._tenant = tables, seen, tenant

    def _check(self, row: Any) -> None:
        if row.tenant_id != self._tenant:
            raise NoTenantInScope(f"{type(row).__name__} belongs to another tenant than the unit of work's")

    def _mine(self, rows: Mapping[UUID, T]) -> list[T]:
        return [r for r in rows.values() if getattr(r, "tenant_id", None) == self._tenant]

    def _read(self, rows: Mapping[UUID, T], key: UUID) -> T | None:
        row = rows.get(key)
        if row is None or getattr(row, "tenant_id", None) != self._tenant:
            return None
        return copy.deepcopy(row)

    def _unique(self, constraint: str, rows: list[Any], row: Any, key: Any) -> None:
        if key(row) is None:
            return
        if any(other.id != row.id and key(other) == key(row) for other in rows):
            raise UniqueViolation(constraint)


class InMemoryCategories(_Tenant):
    async def add(self, category: Category) -> None:
        self._check(category)
        if category.id in self._t.categories:
            raise UniqueViolation("pk_categories")
        await self.save(category)

    async def get(self, category_id: CategoryId) -> Category | None:
        return self._read(self._t.categories, category_id)

    async def get_by_slug(self, slug: Slug) -> Category | None:
        found = next((c for c in self._mine(self._t.categories) if c.slug == slug), None)
        return copy.deepcopy(found)

    async def get_many(self, category_ids: Collection[CategoryId]) -> dict[CategoryId, Category]:
        found = (self._read(self._t.categories, i) for i in set(category_ids))
        return {c.id: c for c in found if c is not None}

    async def save(self, category: Category) -> None:
        self._check(category)
        self._unique(
            "uq_categories_tenant_id_slug", self._mine(self._t.categories), category, lambda c: c.slug
        )
        self._t.categories[category.id] = copy.deepcopy(category)
        self._seen.append(category)

    async def list(self, active: bool | None = None) -> list[Category]:
        rows = [c for c in self._mine(self._t.categories) if active is None or c.active is active]
        return copy.deepcopy(sorted(rows, key=lambda c: (c.sort_order, c.name, c.id)))


class InMemoryProcedures(_Tenant):
    def _with_professionals(self, procedure: Procedure) -> Procedure:
        procedure.professional_ids = frozenset(
            pro for (tenant, pro, proc) in self._t.performs if tenant == self._tenant and proc == procedure.id
        )
        return procedure

    def _write(self, procedure: Procedure) -> None:
        self._check(procedure)
        if procedure.category_id is not None:
            category = self._t.categories.get(procedure.category_id)
            if category is None or category.tenant_id != self._tenant:
                raise AssertionError("fk_procedures_category: a category not of the tenant")
        for pro in procedure.professional_ids:
            other = self._t.professionals.get(pro)
            if other is None or other.tenant_id != self._tenant:
                raise AssertionError("fk_professional_procedures_professional: not of the tenant")
        self._t.procedures[procedure.id] = copy.deepcopy(procedure)
        self._t.performs = {
            row for row in self._t.performs if not (row[0] == self._tenant and row[2] == procedure.id)
        } | {(self._tenant, pro, procedure.id) for pro in procedure.professional_ids}
        self._seen.append(procedure)

    async def add(self, procedure: Procedure) -> None:
        if procedure.id in self._t.procedures:
            raise UniqueViolation("pk_procedures")
        self._write(procedure)

    async def get(self, procedure_id: ProcedureId) -> Procedure | None:
        found = self._read(self._t.procedures, procedure_id)
        return self._with_professionals(found) if found is not None else None

    async def get_many(self, procedure_ids: Collection[ProcedureId]) -> dict[ProcedureId, Procedure]:
        found: dict[ProcedureId, Procedure] = {}
        for procedure_id in set(procedure_ids):
            procedure = await self.get(procedure_id)
            if procedure is not None:
                found[procedure_id] = procedure
        return found

    async def save(self, procedure: Procedure) -> None:
        if self._read(self._t.procedures, procedure.id) is None:
            return
        self._write(procedure)

    async def list(self, query: ProcedureQuery) -> list[Procedure]:
        performed = (
            {
                proc
                for (tenant, pro, proc) in self._t.performs
                if tenant == self._tenant and pro == query.professional_id
            }
            if query.professional_id is not None
            else None
        )
        rows = [
            p
            for p in self._mine(self._t.procedures)
            if (query.active is None or p.active is query.active)
            and (query.category_id is None or p.category_id == query.category_id)
            and (performed is None or p.id in performed)
            and (query.after is None or (p.sort_order, p.id) > (query.after.sort_order, query.after.id))
        ]
        rows.sort(key=lambda p: (p.sort_order, p.id))
        if query.limit is not None:
            rows = rows[: query.limit]
        return [self._with_professionals(copy.deepcopy(p)) for p in rows]

    async def ordered_ids(self, category_id: CategoryId | None = None) -> builtins.list[ProcedureId]:
        rows = [
            p for p in self._mine(self._t.procedures) if category_id is None or p.category_id == category_id
        ]
        return [p.id for p in sorted(rows, key=lambda p: (p.sort_order, p.id))]

    async def set_sort_orders(self, orders: Mapping[ProcedureId, int]) -> None:
        for procedure_id, order in orders.items():
            stored = self._t.procedures.get(procedure_id)
            if stored is not None and stored.tenant_id == self._tenant:
                stored.sort_order = order

    async def next_sort_order(self) -> int:
        return max((p.sort_order for p in self._mine(self._t.procedures)), default=-1) + 1


class InMemoryProfessionals(_Tenant):
    def _with_procedures(self, professional: Professional) -> Professional:
        professional.procedure_ids = frozenset(
            proc
            for (tenant, pro, proc) in self._t.performs
            if tenant == self._tenant and pro == professional.id
        )
        return professional

    def _write(self, professional: Professional) -> None:
        self._check(professional)
        rows = self._mine(self._t.professionals)
        self._unique("uq_professionals_tenant_id_user_id", rows, professional, lambda p: p.user_id)
        self._unique("uq_professionals_tenant_id_registration", rows, professional, lambda p: p.registration)
        for proc in professional.procedure_ids:
            other = self._t.procedures.get(proc)
            if other is None or other.tenant_id != self._tenant:
                raise AssertionError("fk_professional_procedures_procedure: not of the tenant")
        self._t.professionals[professional.id] = copy.deepcopy(professional)
        self._t.performs = {
            row for row in self._t.performs if not (row[0] == self._tenant and row[1] == professional.id)
        } | {(self._tenant, professional.id, proc) for proc in professional.procedure_ids}
        self._seen.append(professional)

    async def add(self, professional: Professional) -> None:
        if professional.id in self._t.professionals:
            raise UniqueViolation("pk_professionals")
        self._write(professional)

    async def get(self, professional_id: ProfessionalId) -> Professional | None:
        found = self._read(self._t.professionals, professional_id)
        return self._with_procedures(found) if found is not None else None

    async def get_many(
        self, professional_ids: Collection[ProfessionalId]
    ) -> dict[ProfessionalId, Professional]:
        found: dict[ProfessionalId, Professional] = {}
        for professional_id in set(professional_ids):
            professional = await self.get(professional_id)
            if professional is not None:
                found[professional_id] = professional
        return found

    async def get_by_user(self, user_id: UserId) -> Professional | None:
        found = next((p for p in self._mine(self._t.professionals) if p.user_id == user_id), None)
        return self._with_procedures(copy.deepcopy(found)) if found is not None else None

    async def save(self, professional: Professional) -> None:
        if self._read(self._t.professionals, professional.id) is None:
            return
        self._write(professional)

    async def list(self, query: ProfessionalQuery, page: PageRequest) -> Page[Professional]:
        rows = [
            self._with_procedures(copy.deepcopy(p))
            for p in self._mine(self._t.professionals)
            if (query.active is None or p.active is query.active)
            and (query.unit_id is None or query.unit_id in p.unit_ids)
            and (page.after is None or p.id > page.after)
        ]
        rows = sorted((p for p in rows if p.performs(query.procedure_ids)), key=lambda p: p.id)
        items = rows[: page.limit]
        return Page(items, items[-1].id if len(rows) > page.limit and items else None)


class _UnitThings(_Tenant):
    _rows_name: str
    _constraint: str

    def _rows(self) -> dict[UUID, Any]:
        rows: dict[UUID, Any] = getattr(self._t, self._rows_name)
        return rows

    async def _add(self, row: Any) -> None:
        if row.id in self._rows():
            raise UniqueViolation(f"pk_{self._rows_name}")
        await self._save(row)

    async def _save(self, row: Any) -> None:
        self._check(row)
        self._unique(self._constraint, self._mine(self._rows()), row, lambda r: (r.unit_id, r.name))
        self._rows()[row.id] = copy.deepcopy(row)

    def _list(self, unit_id: UnitId | None, active: bool | None, type: str | None) -> list[Any]:
        rows = [
            r
            for r in self._mine(self._rows())
            if (unit_id is None or r.unit_id == unit_id)
            and (active is None or r.active is active)
            and (type is None or r.type == type)
        ]
        return copy.deepcopy(sorted(rows, key=lambda r: (r.unit_id, r.name, r.id)))


class InMemoryRooms(_UnitThings):
    _rows_name = "rooms"
    _constraint = "uq_rooms_tenant_id_unit_id_name"

    async def add(self, room: Room) -> None:
        await self._add(room)

    async def get(self, room_id: RoomId) -> Room | None:
        return self._read(self._t.rooms, room_id)

    async def save(self, room: Room) -> None:
        if self._read(self._t.rooms, room.id) is not None:
            await self._save(room)

    async def list(
        self, unit_id: UnitId | None = None, *, active: bool | None = None, type: str | None = None
    ) -> list[Room]:
        return self._list(unit_id, active, type)


class InMemoryEquipment(_UnitThings):
    _rows_name = "equipment"
    _constraint = "uq_equipment_tenant_id_unit_id_name"

    async def add(self, equipment: Equipment) -> None:
        await self._add(equipment)

    async def get(self, equipment_id: EquipmentId) -> Equipment | None:
        return self._read(self._t.equipment, equipment_id)

    async def save(self, equipment: Equipment) -> None:
        if self._read(self._t.equipment, equipment.id) is not None:
            await self._save(equipment)

    async def list(
        self, unit_id: UnitId | None = None, *, active: bool | None = None, type: str | None = None
    ) -> list[Equipment]:
        return self._list(unit_id, active, type)


# --- builders for tests ----------------------------------------------------------------------------------

_T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


def a_category(tenant_id: TenantId, name: str = "Facial", **changes: Any) -> Category:
    """A valid category of ``tenant_id`` (slug from the name); ``changes`` override any field."""
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "id": CategoryId(new_uuid()),
        "name": name,
        "slug": Slug.from_text(name),
        "created_at": _T0,
        "updated_at": _T0,
    }
    return Category(**{**fields, **changes})


def a_procedure(
    tenant_id: TenantId,
    name: str = "Limpeza de pele",
    *,
    minutes: int = 60,
    price: str = "150.00",
    **changes: Any,
) -> Procedure:
    """A valid procedure of ``tenant_id``: ``minutes`` long, at ``price`` BRL; ``changes`` override any field."""
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "id": ProcedureId(new_uuid()),
        "name": name,
        "duration_minutes": minutes,
        "price": Money(Decimal(price)),
        "created_at": _T0,
        "updated_at": _T0,
    }
    return Procedure(**{**fields, **changes})


def a_professional(
    tenant_id: TenantId, user_id: UserId, name: str = "Dra. Helena Prado", **changes: Any
) -> Professional:
    """A valid professional of ``tenant_id`` for the user ``user_id``; ``changes`` override any field."""
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "id": ProfessionalId(new_uuid()),
        "user_id": user_id,
        "display_name": name,
        "created_at": _T0,
        "updated_at": _T0,
    }
    return Professional(**{**fields, **changes})


def a_room(tenant_id: TenantId, unit_id: UnitId, name: str = "Sala 1", type: str = "consulting_room") -> Room:
    return Room(
        tenant_id=tenant_id,
        id=RoomId(new_uuid()),
        unit_id=unit_id,
        name=name,
        type=type,
        created_at=_T0,
        updated_at=_T0,
    )
