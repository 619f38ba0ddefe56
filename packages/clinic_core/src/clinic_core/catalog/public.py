"""The catalog a clinic shows to the public (its booking page): no sign-in, so nothing internal.

``GetPublicCatalog(slug)`` answers the clinic's name, its units (name, time zone, city), and its active
procedures with their active categories, durations and prices. It leaves out what only staff should see:
inactive entries, sort orders, buffers, room types, who performs what, timestamps. A clinic that does not
exist or is suspended answers ``NotFound``, the same as one that never existed.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.pagination import MAX_LIMIT, PageRequest
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.catalog.model import CategoryId, ProcedureId
from clinic_core.catalog.ports import ProcedureQuery
from clinic_core.shared.errors import InvalidInput, NotFound
from clinic_core.shared.ids import UnitId
from clinic_core.shared.values import Money, Slug
from clinic_core.tenancy.model import Unit


@dataclass(frozen=True, slots=True)
class PublicUnit:
    id: UnitId
    name: str
    timezone: str
    city: str | None
    state: str | None


@dataclass(frozen=True, slots=True)
class PublicCategory:
    id: CategoryId
    name: str
    slug: str
    icon: str | None
    colour: str | None


@dataclass(frozen=True, slots=True)
class PublicProcedure:
    id: ProcedureId
    name: str
    description: str | None
    category_id: CategoryId | None
    """None, or one of the catalog's ``categories`` (a procedure of an inactive category has none here)."""
    duration_minutes: int
    price: Money


@dataclass(frozen=True, slots=True)
class PublicCatalog:
    slug: str
    name: str
    units: list[PublicUnit]
    categories: list[PublicCategory]
    """Active categories that hold at least one active procedure, in display order."""
    procedures: list[PublicProcedure]
    """Active procedures, in display order."""


def _public_unit(unit: Unit) -> PublicUnit:
    address = unit.address
    return PublicUnit(
        id=unit.id,
        name=unit.name,
        timezone=unit.timezone.value,
        city=address.city if address else None,
        state=address.state if address else None,
    )


class GetPublicCatalog:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, tenant_slug: str) -> Result[PublicCatalog, NotFound | InvalidInput]:
        slug = Slug.parse(tenant_slug, "slug")
        if isinstance(slug, Failure):
            return Failure(NotFound("clinic", tenant_slug[:63]))
        async with self._uow(Scope(), read_only=True) as uow:
            tenant = await uow.tenants.get_by_slug(slug.unwrap())
            if tenant is None or not tenant.is_active:
                return Failure(NotFound("clinic", slug.unwrap().value))
            await uow.bind(Scope(tenant_id=tenant.id))
            units: list[Unit] = []
            page = PageRequest(limit=MAX_LIMIT)
            while True:
                batch = await uow.units.list(page)
                units.extend(batch.items)
                if batch.next_after is None:
                    break
                page = PageRequest(batch.next_after, MAX_LIMIT)
            categories = await uow.categories.list(active=True)
            procedures = await uow.procedures.list(ProcedureQuery(active=True))
        shown = {c.id for c in categories}
        public_procedures = [
            PublicProcedure(
                id=p.id,
                name=p.name,
                description=p.description,
                category_id=p.category_id if p.category_id in shown else None,
                duration_minutes=p.duration_minutes,
                price=p.price,
            )
            for p in procedures
        ]
        used = {p.category_id for p in public_procedures}
        return Success(
            PublicCatalog(
                slug=tenant.slug.value,
                name=tenant.name,
                units=[_public_unit(u) for u in units],
                categories=[
                    PublicCategory(c.id, c.name, c.slug.value, c.icon, c.colour)
                    for c in categories
                    if c.id in used
                ],
                procedures=public_procedures,
            )
        )
