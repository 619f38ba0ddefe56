"""SQL repositories of the catalog: categories, procedures, professionals, rooms and equipment.

Who performs what is one table (``professional_procedures``): a procedure's save rewrites its rows, a
professional's save rewrites theirs. Lists read the relation for the page they return in one more query
(never one per row).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import Select, Table, and_, bindparam, delete, exists, func, insert, or_, select, update

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.catalog.model import (
    Category,
    CategoryId,
    Council,
    CouncilRegistration,
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
from clinic_core.shared.ids import TenantId, UnitId, UserId
from clinic_core.shared.values import Money, Slug
from clinic_infra.db import catalog_tables as ct
from clinic_infra.db.repositories import Row, _Repository

_C, _P, _PRO = ct.categories, ct.procedures, ct.professionals
_PP, _PU = ct.professional_procedures, ct.professional_units


# --- categories ------------------------------------------------------------------------------------------


def _category(row: Row) -> Category:
    return Category(
        tenant_id=TenantId(row["tenant_id"]),
        id=CategoryId(row["id"]),
        name=row["name"],
        slug=Slug(row["slug"]),
        icon=row["icon"],
        colour=row["colour"],
        sort_order=row["sort_order"],
        active=bool(row["active"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _category_values(category: Category) -> dict[str, Any]:
    return {
        "name": category.name,
        "slug": category.slug.value,
        "icon": category.icon,
        "colour": category.colour,
        "sort_order": category.sort_order,
        "active": category.active,
        "updated_at": category.updated_at,
    }


class SqlCategoryRepository(_Repository):
    def _mine(self) -> Select[Any]:
        return select(_C).where(_C.c.tenant_id == self._db.tenant_id())

    async def add(self, category: Category) -> None:
        await self._db.execute(
            insert(_C).values(
                tenant_id=self._db.tenant_id(),
                id=category.id,
                created_at=category.created_at,
                **_category_values(category),
            )
        )
        self._db.saw(category)

    async def get(self, category_id: CategoryId) -> Category | None:
        row = await self._row(self._mine().where(_C.c.id == category_id))
        return _category(row) if row is not None else None

    async def get_by_slug(self, slug: Slug) -> Category | None:
        row = await self._row(self._mine().where(_C.c.slug == slug.value))
        return _category(row) if row is not None else None

    async def get_many(self, category_ids: Collection[CategoryId]) -> dict[CategoryId, Category]:
        if not category_ids:
            return {}
        rows = await self._rows(self._mine().where(_C.c.id.in_(set(category_ids))))
        return {CategoryId(r["id"]): _category(r) for r in rows}

    async def save(self, category: Category) -> None:
        await self._db.execute(
            update(_C)
            .where(_C.c.tenant_id == self._db.tenant_id(), _C.c.id == category.id)
            .values(_category_values(category))
        )
        self._db.saw(category)

    async def list(self, active: bool | None = None) -> list[Category]:
        query = self._mine()
        if active is not None:
            query = query.where(_C.c.active.is_(active))
        rows = await self._rows(query.order_by(_C.c.sort_order, _C.c.name, _C.c.id))
        return [_category(r) for r in rows]


# --- procedures ------------------------------------------------------------------------------------------


def _procedure(row: Row, professional_ids: Iterable[UUID]) -> Procedure:
    return Procedure(
        tenant_id=TenantId(row["tenant_id"]),
        id=ProcedureId(row["id"]),
        name=row["name"],
        description=row["description"],
        category_id=CategoryId(row["category_id"]) if row["category_id"] else None,
        duration_minutes=row["duration_minutes"],
        price=Money.from_minor_units(row["price_minor"], row["currency"]),
        buffer_before_minutes=row["buffer_before_minutes"],
        buffer_after_minutes=row["buffer_after_minutes"],
        active=bool(row["active"]),
        sort_order=row["sort_order"],
        room_type=row["room_type"],
        professional_ids=frozenset(ProfessionalId(p) for p in professional_ids),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _procedure_values(procedure: Procedure) -> dict[str, Any]:
    return {
        "name": procedure.name,
        "description": procedure.description,
        "category_id": procedure.category_id,
        "duration_minutes": procedure.duration_minutes,
        "price_minor": procedure.price.minor_units,
        "currency": procedure.price.currency,
        "buffer_before_minutes": procedure.buffer_before_minutes,
        "buffer_after_minutes": procedure.buffer_after_minutes,
        "active": procedure.active,
        "sort_order": procedure.sort_order,
        "room_type": procedure.room_type,
        "updated_at": procedure.updated_at,
    }


async def _related(
    repository: _Repository, table: Table, key: str, other: str, ids: Collection[UUID]
) -> dict[UUID, list[UUID]]:
    """``key`` -> its ``other`` ids in an association ``table``, for every id of ``ids`` (one query)."""
    found: dict[UUID, list[UUID]] = defaultdict(list)
    if not ids:
        return found
    rows = await repository._rows(
        select(table.c[key], table.c[other]).where(
            table.c.tenant_id == repository._db.tenant_id(), table.c[key].in_(set(ids))
        )
    )
    for row in rows:
        found[row[key]].append(row[other])
    return found


async def _replace_related(
    repository: _Repository, table: Table, key: str, key_id: UUID, other: str, others: Collection[UUID]
) -> None:
    """Make ``others`` the whole set of ``key_id``'s rows in ``table``, touching only what changed."""
    tenant_id = repository._db.tenant_id()
    current = set((await _related(repository, table, key, other, [key_id])).get(key_id, []))
    gone, new = current - set(others), set(others) - current
    if gone:
        await repository._db.execute(
            delete(table).where(
                table.c.tenant_id == tenant_id, table.c[key] == key_id, table.c[other].in_(gone)
            )
        )
    if new:
        await repository._db.execute(
            insert(table), [{"tenant_id": tenant_id, key: key_id, other: o} for o in sorted(new)]
        )


class SqlProcedureRepository(_Repository):
    def _mine(self) -> Select[Any]:
        return select(_P).where(_P.c.tenant_id == self._db.tenant_id())

    async def _procedures(self, rows: list[Row]) -> list[Procedure]:
        performers = await _related(self, _PP, "procedure_id", "professional_id", [r["id"] for r in rows])
        return [_procedure(r, performers.get(r["id"], ())) for r in rows]

    async def add(self, procedure: Procedure) -> None:
        await self._db.execute(
            insert(_P).values(
                tenant_id=self._db.tenant_id(),
                id=procedure.id,
                created_at=procedure.created_at,
                **_procedure_values(procedure),
            )
        )
        await _replace_related(
            self, _PP, "procedure_id", procedure.id, "professional_id", procedure.professional_ids
        )
        self._db.saw(procedure)

    async def get(self, procedure_id: ProcedureId) -> Procedure | None:
        row = await self._row(self._mine().where(_P.c.id == procedure_id))
        return (await self._procedures([row]))[0] if row is not None else None

    async def get_many(self, procedure_ids: Collection[ProcedureId]) -> dict[ProcedureId, Procedure]:
        if not procedure_ids:
            return {}
        rows = await self._rows(self._mine().where(_P.c.id.in_(set(procedure_ids))))
        return {p.id: p for p in await self._procedures(rows)}

    async def save(self, procedure: Procedure) -> None:
        result = await self._db.execute(
            update(_P)
            .where(_P.c.tenant_id == self._db.tenant_id(), _P.c.id == procedure.id)
            .values(_procedure_values(procedure))
        )
        if result.rowcount:
            await _replace_related(
                self, _PP, "procedure_id", procedure.id, "professional_id", procedure.professional_ids
            )
        self._db.saw(procedure)

    async def list(self, query: ProcedureQuery) -> list[Procedure]:
        statement = self._mine()
        if query.active is not None:
            statement = statement.where(_P.c.active.is_(query.active))
        if query.category_id is not None:
            statement = statement.where(_P.c.category_id == query.category_id)
        if query.professional_id is not None:
            statement = statement.where(
                exists().where(
                    _PP.c.tenant_id == _P.c.tenant_id,
                    _PP.c.procedure_id == _P.c.id,
                    _PP.c.professional_id == query.professional_id,
                )
            )
        if query.after is not None:
            after = query.after
            statement = statement.where(
                or_(
                    _P.c.sort_order > after.sort_order,
                    and_(_P.c.sort_order == after.sort_order, _P.c.id > after.id),
                )
            )
        statement = statement.order_by(_P.c.sort_order, _P.c.id)
        if query.limit is not None:
            statement = statement.limit(query.limit)
        return await self._procedures(await self._rows(statement))

    async def ordered_ids(self, category_id: CategoryId | None = None) -> builtins.list[ProcedureId]:
        statement = select(_P.c.id).where(_P.c.tenant_id == self._db.tenant_id())
        if category_id is not None:
            statement = statement.where(_P.c.category_id == category_id)
        result = await self._db.execute(statement.order_by(_P.c.sort_order, _P.c.id))
        return [ProcedureId(i) for (i,) in result.all()]

    async def set_sort_orders(self, orders: Mapping[ProcedureId, int]) -> None:
        if not orders:
            return
        await self._db.execute(
            update(_P)
            .where(_P.c.tenant_id == bindparam("t"), _P.c.id == bindparam("i"))
            .values(sort_order=bindparam("o")),
            [{"t": self._db.tenant_id(), "i": i, "o": o} for i, o in orders.items()],
        )

    async def next_sort_order(self) -> int:
        result = await self._db.execute(
            select(func.max(_P.c.sort_order)).where(_P.c.tenant_id == self._db.tenant_id())
        )
        largest = result.scalar_one()
        return 0 if largest is None else int(largest) + 1


# --- professionals ---------------------------------------------------------------------------------------


def _professional(row: Row, procedure_ids: Iterable[UUID], unit_ids: Iterable[UUID]) -> Professional:
    registration = (
        CouncilRegistration(Council(row["council"]), row["registration_number"], row["registration_state"])
        if row["council"]
        else None
    )
    return Professional(
        tenant_id=TenantId(row["tenant_id"]),
        id=ProfessionalId(row["id"]),
        user_id=UserId(row["user_id"]),
        display_name=row["display_name"],
        registration=registration,
        specialties=tuple(row["specialties"]),
        procedure_ids=frozenset(ProcedureId(p) for p in procedure_ids),
        unit_ids=frozenset(UnitId(u) for u in unit_ids),
        active=bool(row["active"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _professional_values(professional: Professional) -> dict[str, Any]:
    registration = professional.registration
    return {
        "user_id": professional.user_id,
        "display_name": professional.display_name,
        "council": registration.council.value if registration else None,
        "registration_number": registration.number if registration else None,
        "registration_state": registration.state if registration else None,
        "specialties": list(professional.specialties),
        "active": professional.active,
        "updated_at": professional.updated_at,
    }


class SqlProfessionalRepository(_Repository):
    def _mine(self) -> Select[Any]:
        return select(_PRO).where(_PRO.c.tenant_id == self._db.tenant_id())

    async def _professionals(self, rows: list[Row]) -> list[Professional]:
        ids = [r["id"] for r in rows]
        procedures = await _related(self, _PP, "professional_id", "procedure_id", ids)
        units = await _related(self, _PU, "professional_id", "unit_id", ids)
        return [_professional(r, procedures.get(r["id"], ()), units.get(r["id"], ())) for r in rows]

    async def _write_relations(self, professional: Professional) -> None:
        await _replace_related(
            self, _PP, "professional_id", professional.id, "procedure_id", professional.procedure_ids
        )
        await _replace_related(
            self, _PU, "professional_id", professional.id, "unit_id", professional.unit_ids
        )

    async def add(self, professional: Professional) -> None:
        await self._db.execute(
            insert(_PRO).values(
                tenant_id=self._db.tenant_id(),
                id=professional.id,
                created_at=professional.created_at,
                **_professional_values(professional),
            )
        )
        await self._write_relations(professional)
        self._db.saw(professional)

    async def get(self, professional_id: ProfessionalId) -> Professional | None:
        row = await self._row(self._mine().where(_PRO.c.id == professional_id))
        return (await self._professionals([row]))[0] if row is not None else None

    async def get_many(
        self, professional_ids: Collection[ProfessionalId]
    ) -> dict[ProfessionalId, Professional]:
        if not professional_ids:
            return {}
        rows = await self._rows(self._mine().where(_PRO.c.id.in_(set(professional_ids))))
        return {p.id: p for p in await self._professionals(rows)}

    async def get_by_user(self, user_id: UserId) -> Professional | None:
        row = await self._row(self._mine().where(_PRO.c.user_id == user_id))
        return (await self._professionals([row]))[0] if row is not None else None

    async def save(self, professional: Professional) -> None:
        result = await self._db.execute(
            update(_PRO)
            .where(_PRO.c.tenant_id == self._db.tenant_id(), _PRO.c.id == professional.id)
            .values(_professional_values(professional))
        )
        if result.rowcount:
            await self._write_relations(professional)
        self._db.saw(professional)

    async def list(self, query: ProfessionalQuery, page: PageRequest) -> Page[Professional]:
        statement = self._mine()
        if query.active is not None:
            statement = statement.where(_PRO.c.active.is_(query.active))
        if query.unit_id is not None:
            statement = statement.where(
                exists().where(
                    _PU.c.tenant_id == _PRO.c.tenant_id,
                    _PU.c.professional_id == _PRO.c.id,
                    _PU.c.unit_id == query.unit_id,
                )
            )
        for procedure_id in sorted(query.procedure_ids):
            statement = statement.where(
                exists().where(
                    _PP.c.tenant_id == _PRO.c.tenant_id,
                    _PP.c.professional_id == _PRO.c.id,
                    _PP.c.procedure_id == procedure_id,
                )
            )
        if page.after is not None:
            statement = statement.where(_PRO.c.id > page.after)
        rows = await self._rows(statement.order_by(_PRO.c.id).limit(page.limit + 1))
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return Page(await self._professionals(rows), rows[-1]["id"] if more and rows else None)


# --- rooms and equipment ---------------------------------------------------------------------------------


def _unit_thing_values(thing: Room | Equipment) -> dict[str, Any]:
    return {
        "unit_id": thing.unit_id,
        "name": thing.name,
        "type": thing.type,
        "active": thing.active,
        "updated_at": thing.updated_at,
    }


class _UnitThings(_Repository):
    _table: Table

    async def _add(self, thing: Room | Equipment) -> None:
        await self._db.execute(
            insert(self._table).values(
                tenant_id=self._db.tenant_id(),
                id=thing.id,
                created_at=thing.created_at,
                **_unit_thing_values(thing),
            )
        )

    async def _save(self, thing: Room | Equipment) -> None:
        t = self._table
        await self._db.execute(
            update(t)
            .where(t.c.tenant_id == self._db.tenant_id(), t.c.id == thing.id)
            .values(_unit_thing_values(thing))
        )

    async def _get(self, thing_id: UUID) -> Row | None:
        t = self._table
        return await self._row(select(t).where(t.c.tenant_id == self._db.tenant_id(), t.c.id == thing_id))

    async def _list(self, unit_id: UnitId | None, active: bool | None, type: str | None) -> list[Row]:
        t = self._table
        statement = select(t).where(t.c.tenant_id == self._db.tenant_id())
        if unit_id is not None:
            statement = statement.where(t.c.unit_id == unit_id)
        if active is not None:
            statement = statement.where(t.c.active.is_(active))
        if type is not None:
            statement = statement.where(t.c.type == type)
        return await self._rows(statement.order_by(t.c.unit_id, t.c.name, t.c.id))


def _thing_fields(row: Row) -> dict[str, Any]:
    return {
        "tenant_id": TenantId(row["tenant_id"]),
        "unit_id": UnitId(row["unit_id"]),
        "name": row["name"],
        "type": row["type"],
        "active": bool(row["active"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class SqlRoomRepository(_UnitThings):
    _table = ct.rooms

    async def add(self, room: Room) -> None:
        await self._add(room)

    async def get(self, room_id: RoomId) -> Room | None:
        row = await self._get(room_id)
        return Room(id=RoomId(row["id"]), **_thing_fields(row)) if row is not None else None

    async def save(self, room: Room) -> None:
        await self._save(room)

    async def list(
        self, unit_id: UnitId | None = None, *, active: bool | None = None, type: str | None = None
    ) -> list[Room]:
        return [Room(id=RoomId(r["id"]), **_thing_fields(r)) for r in await self._list(unit_id, active, type)]


class SqlEquipmentRepository(_UnitThings):
    _table = ct.equipment

    async def add(self, equipment: Equipment) -> None:
        await self._add(equipment)

    async def get(self, equipment_id: EquipmentId) -> Equipment | None:
        row = await self._get(equipment_id)
        return Equipment(id=EquipmentId(row["id"]), **_thing_fields(row)) if row is not None else None

    async def save(self, equipment: Equipment) -> None:
        await self._save(equipment)

    async def list(
        self, unit_id: UnitId | None = None, *, active: bool | None = None, type: str | None = None
    ) -> list[Equipment]:
        rows = await self._list(unit_id, active, type)
        return [Equipment(id=EquipmentId(r["id"]), **_thing_fields(r)) for r in rows]
