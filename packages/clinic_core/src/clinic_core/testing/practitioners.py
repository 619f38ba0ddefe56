"""In-memory external practitioners, with the SQL repository's contracts: one tenant, one NPI per tenant."""

from __future__ import annotations

import copy
from uuid import UUID

from clinic_core.application.unit_of_work import UniqueViolation
from clinic_core.interop.practitioners import ExternalPractitioner
from clinic_core.shared.ids import TenantId


class InMemoryExternalPractitioners:
    def __init__(self, rows: dict[UUID, ExternalPractitioner], tenant: TenantId) -> None:
        self._rows, self._tenant = rows, tenant

    def _mine(self) -> list[ExternalPractitioner]:
        return [p for p in self._rows.values() if p.tenant_id == self._tenant]

    async def get_by_npi(self, npi: str) -> ExternalPractitioner | None:
        found = next((p for p in self._mine() if p.npi == npi), None)
        return copy.deepcopy(found)

    async def add(self, practitioner: ExternalPractitioner) -> None:
        if practitioner.tenant_id != self._tenant:
            raise ValueError("the practitioner belongs to another tenant than the unit of work's")
        if any(p.npi == practitioner.npi for p in self._mine()):
            raise UniqueViolation("uq_external_practitioners_tenant_id_npi")
        self._rows[practitioner.id] = copy.deepcopy(practitioner)

    async def save(self, practitioner: ExternalPractitioner) -> None:
        stored = self._rows.get(practitioner.id)
        if stored is not None and stored.tenant_id == self._tenant:
            self._rows[practitioner.id] = copy.deepcopy(practitioner)

    async def count(self) -> int:
        return len(self._mine())
