"""In-memory fakes of the import's storage: external practitioners (one NPI per tenant) and the directory of
which patient holds an identifier."""

from __future__ import annotations

import copy
from collections.abc import Collection
from uuid import UUID

from clinic_core.application.unit_of_work import UniqueViolation
from clinic_core.interop.practitioners import ExternalPractitioner
from clinic_core.patients.model import Identifier, Patient, PatientId
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


class InMemoryIdentifierHolders:
    def __init__(self, patients: dict[UUID, Patient], tenant: TenantId) -> None:
        self._patients, self._tenant = patients, tenant

    async def holders(self, identifiers: Collection[Identifier]) -> dict[Identifier, PatientId]:
        wanted = set(identifiers)
        return {
            identifier: patient.id
            for patient in self._patients.values()
            if patient.tenant_id == self._tenant
            for identifier in patient.identifiers
            if identifier in wanted
        }
