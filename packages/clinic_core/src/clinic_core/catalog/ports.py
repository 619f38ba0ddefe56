"""Where the catalog is kept. Every repository is built for the unit of work's tenant and sees only it:
another tenant's id reads as None, and is left out of lists and look-ups."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from clinic_core.application.pagination import Page, PageRequest
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
from clinic_core.shared.ids import UnitId, UserId
from clinic_core.shared.values import Slug


@dataclass(frozen=True, slots=True)
class ProcedurePosition:
    """Where a page of procedures ends: lists are in (``sort_order``, ``id``) order."""

    sort_order: int
    id: ProcedureId


@dataclass(frozen=True, slots=True)
class ProcedureQuery:
    active: bool | None = None
    category_id: CategoryId | None = None
    professional_id: ProfessionalId | None = None
    """Only the procedures this professional performs."""
    after: ProcedurePosition | None = None
    limit: int | None = None
    """At most this many; None: all of them."""


@dataclass(frozen=True, slots=True)
class ProfessionalQuery:
    active: bool | None = None
    unit_id: UnitId | None = None
    """Only those who work in this unit."""
    procedure_ids: frozenset[ProcedureId] = frozenset()
    """Only those who perform every one of these procedures."""


class CategoryRepository(Protocol):
    async def add(self, category: Category) -> None:
        """Raises ``UniqueViolation`` (``uq_categories_tenant_id_slug``) when the tenant has the slug."""
        ...

    async def get(self, category_id: CategoryId) -> Category | None: ...

    async def get_by_slug(self, slug: Slug) -> Category | None: ...

    async def get_many(self, category_ids: Collection[CategoryId]) -> dict[CategoryId, Category]: ...

    async def save(self, category: Category) -> None:
        """Unique violations as for ``add``."""
        ...

    async def list(self, active: bool | None = None) -> list[Category]:
        """The tenant's categories in (``sort_order``, ``name``, ``id``) order (a clinic has tens of them)."""
        ...


class ProcedureRepository(Protocol):
    async def add(self, procedure: Procedure) -> None:
        """Insert the procedure and who performs it (``professional_ids``)."""
        ...

    async def get(self, procedure_id: ProcedureId) -> Procedure | None: ...

    async def get_many(self, procedure_ids: Collection[ProcedureId]) -> dict[ProcedureId, Procedure]:
        """The tenant's procedures among ``procedure_ids`` (the others are left out)."""
        ...

    async def save(self, procedure: Procedure) -> None:
        """Write the procedure and make ``professional_ids`` the whole set of who performs it."""
        ...

    async def list(self, query: ProcedureQuery) -> list[Procedure]:
        """The matching procedures in (``sort_order``, ``id``) order, after ``query.after``."""
        ...

    async def ordered_ids(self, category_id: CategoryId | None = None) -> builtins.list[ProcedureId]:
        """Every procedure of the tenant (or of one category), active or not, in (``sort_order``, ``id``)
        order: what a reorder must list in full."""
        ...

    async def set_sort_orders(self, orders: Mapping[ProcedureId, int]) -> None:
        """Give each procedure its sort order (nothing else changes)."""
        ...

    async def next_sort_order(self) -> int:
        """One past the largest sort order of the tenant's procedures (0 for the first)."""
        ...


class ProfessionalRepository(Protocol):
    async def add(self, professional: Professional) -> None:
        """Insert the professional with their procedures and units.

        Raises ``UniqueViolation`` when the user is a professional of the tenant already
        (``uq_professionals_tenant_id_user_id``) or another one has the registration
        (``uq_professionals_tenant_id_registration``)."""
        ...

    async def get(self, professional_id: ProfessionalId) -> Professional | None: ...

    async def get_many(
        self, professional_ids: Collection[ProfessionalId]
    ) -> dict[ProfessionalId, Professional]: ...

    async def get_by_user(self, user_id: UserId) -> Professional | None: ...

    async def save(self, professional: Professional) -> None:
        """Write the professional and make ``procedure_ids`` and ``unit_ids`` their whole sets.
        Unique violations as for ``add``."""
        ...

    async def list(self, query: ProfessionalQuery, page: PageRequest) -> Page[Professional]:
        """The matching professionals in id (creation) order."""
        ...


class RoomRepository(Protocol):
    async def add(self, room: Room) -> None:
        """Raises ``UniqueViolation`` (``uq_rooms_tenant_id_unit_id_name``) when the unit has a room of that
        name."""
        ...

    async def get(self, room_id: RoomId) -> Room | None: ...

    async def save(self, room: Room) -> None: ...

    async def list(
        self, unit_id: UnitId | None = None, *, active: bool | None = None, type: str | None = None
    ) -> list[Room]:
        """The rooms (of one unit) in (``unit_id``, ``name``, ``id``) order."""
        ...


class EquipmentRepository(Protocol):
    async def add(self, equipment: Equipment) -> None:
        """Raises ``UniqueViolation`` (``uq_equipment_tenant_id_unit_id_name``) when the unit has equipment
        of that name."""
        ...

    async def get(self, equipment_id: EquipmentId) -> Equipment | None: ...

    async def save(self, equipment: Equipment) -> None: ...

    async def list(
        self, unit_id: UnitId | None = None, *, active: bool | None = None, type: str | None = None
    ) -> list[Equipment]:
        """The equipment (of one unit) in (``unit_id``, ``name``, ``id``) order."""
        ...
