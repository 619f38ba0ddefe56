"""Availability for the public booking page: the clinic found by its slug, no one signed in.

``GetPublicAvailability`` answers what staff get from ``GetAvailability`` (the same engine, through
``GetAvailability.at_unit``) for a clinic named by its public slug: only active procedures and professionals,
the unit's booking rules (minimum notice, horizon, slot grid) always, and busy time as bare intervals, so no
patient's name and no reason of time off can leak. A clinic that does not exist or is suspended, and a unit
that is not the clinic's, answer ``NotFound``, the same as one that never existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from returns.result import Failure, Result

from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.catalog.model import ProcedureId, ProfessionalId
from clinic_core.scheduling.working_time_use_cases import (
    Availability,
    GetAvailability,
    check_availability_request,
)
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import InvalidInput, NotFound
from clinic_core.shared.ids import UnitId
from clinic_core.shared.values import Slug


@dataclass(frozen=True, slots=True)
class PublicAvailabilityRequest:
    tenant_slug: str
    unit_id: UnitId
    procedure_ids: Sequence[ProcedureId]
    starts_from: datetime
    starts_before: datetime
    professional_id: ProfessionalId | None = None


class GetPublicAvailability:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._search = GetAvailability(uow, clock)

    async def __call__(
        self, request: PublicAvailabilityRequest
    ) -> Result[Availability, NotFound | InvalidInput]:
        slug = Slug.parse(request.tenant_slug, "slug")
        if isinstance(slug, Failure):
            return Failure(NotFound("clinic", request.tenant_slug[:63]))
        problem = check_availability_request(request)
        if problem is not None:
            return Failure(problem)
        async with self._uow(Scope(), read_only=True) as uow:
            tenant = await uow.tenants.get_by_slug(slug.unwrap())
            if tenant is None or not tenant.is_active:
                return Failure(NotFound("clinic", slug.unwrap().value))
            await uow.bind(Scope(tenant_id=tenant.id))
            unit = await uow.units.get(request.unit_id)
            if unit is None or unit.tenant_id != tenant.id:
                return Failure(NotFound("unit", str(request.unit_id)))
            return await self._search.at_unit(uow, unit, request)
