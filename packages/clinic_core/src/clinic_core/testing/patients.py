"""In-memory patients, with the contracts of the SQL repository: one tenant, unique CPF / microchip /
client account / identifier per tenant, writes over the version read."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import NoTenantInScope, UniqueViolation
from clinic_core.patients.model import (
    Microchip,
    Patient,
    PatientId,
    PatientKind,
    PatientWeight,
    Species,
)
from clinic_core.shared.ids import TenantId, UserId, new_uuid
from clinic_core.shared.values import CPF, PersonName

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def a_person(tenant_id: TenantId, name: str = "Maria da Silva", **values: Any) -> Patient:
    """A person patient for tests (a new id, ``values`` override the rest); records ``patient.created``."""
    defaults: dict[str, Any] = {"created_at": _EPOCH, "updated_at": _EPOCH, "id": PatientId(new_uuid())}
    return Patient.register(
        tenant_id=tenant_id, kind=PatientKind.PERSON, name=PersonName(name), **(defaults | values)
    )


def an_animal(
    tenant_id: TenantId, name: str = "Rex", species: Species = Species.DOG, **values: Any
) -> Patient:
    """An animal patient for tests, like ``a_person``."""
    defaults: dict[str, Any] = {"created_at": _EPOCH, "updated_at": _EPOCH, "id": PatientId(new_uuid())}
    return Patient.register(
        tenant_id=tenant_id,
        kind=PatientKind.ANIMAL,
        name=PersonName(name),
        species=species,
        **(defaults | values),
    )


class InMemoryPatients:
    def __init__(
        self,
        rows: dict[UUID, Patient],
        weights: dict[UUID, PatientWeight],
        seen: list[object],
        tenant: TenantId,
    ) -> None:
        self._rows, self._weights, self._seen, self._tenant = rows, weights, seen, tenant

    def _mine(self) -> list[Patient]:
        return [p for p in self._rows.values() if p.tenant_id == self._tenant]

    def _out(self, stored: Patient | None) -> Patient | None:
        """A copy for the caller (the stored row changes only through ``save``)."""
        if stored is None:
            return None
        patient = copy.deepcopy(stored)
        self._seen.append(patient)
        return patient

    def _store(self, patient: Patient) -> None:
        stored = copy.deepcopy(patient)
        stored.events = []
        self._rows[patient.id] = stored
        self._seen.append(patient)

    def _check_unique(self, patient: Patient) -> None:
        others = [p for p in self._mine() if p.id != patient.id]
        if patient.cpf is not None and any(p.cpf == patient.cpf for p in others):
            raise UniqueViolation("uq_patients_tenant_id_cpf")
        if patient.microchip is not None and any(p.microchip == patient.microchip for p in others):
            raise UniqueViolation("uq_patients_tenant_id_microchip")
        if patient.user_id is not None and any(p.user_id == patient.user_id for p in others):
            raise UniqueViolation("uq_patients_tenant_id_user_id")
        taken = {i for p in others for i in p.identifiers}
        if any(i in taken for i in patient.identifiers):
            raise UniqueViolation("uq_patient_identifiers_tenant_id_system_value")

    async def add(self, patient: Patient) -> None:
        if patient.tenant_id != self._tenant:
            raise NoTenantInScope("the patient belongs to another tenant than the unit of work's")
        if patient.id in self._rows:
            raise UniqueViolation("pk_patients")
        self._check_unique(patient)
        self._store(patient)

    async def get(self, patient_id: PatientId) -> Patient | None:
        stored = self._rows.get(patient_id)
        return self._out(stored if stored is not None and stored.tenant_id == self._tenant else None)

    async def get_many(self, patient_ids: frozenset[PatientId]) -> dict[PatientId, Patient]:
        found = {}
        for patient_id in patient_ids:
            patient = await self.get(patient_id)
            if patient is not None:
                found[patient_id] = patient
        return found

    async def save(self, patient: Patient, expected_version: int | None = None) -> bool:
        if patient.tenant_id != self._tenant:
            raise NoTenantInScope("the patient belongs to another tenant than the unit of work's")
        expected = patient.version if expected_version is None else expected_version
        stored = self._rows.get(patient.id)
        if stored is None or stored.tenant_id != self._tenant or stored.version != expected:
            return False
        self._check_unique(patient)
        patient.version = expected + 1
        self._store(patient)
        return True

    def _first(self, found: list[Patient]) -> Patient | None:
        return self._out(found[0]) if found else None

    async def find_by_identifier(self, system: str, value: str) -> Patient | None:
        return self._first(
            [p for p in self._mine() if any(i.system == system and i.value == value for i in p.identifiers)]
        )

    async def find_by_cpf(self, cpf: CPF) -> Patient | None:
        return self._first([p for p in self._mine() if p.cpf == cpf])

    async def find_by_microchip(self, microchip: Microchip) -> Patient | None:
        return self._first([p for p in self._mine() if p.microchip == microchip])

    async def find_by_user(self, user_id: UserId) -> Patient | None:
        return self._first([p for p in self._mine() if p.user_id == user_id])

    async def add_weight(self, weight: PatientWeight) -> None:
        owner = self._rows.get(weight.patient_id)
        if weight.tenant_id != self._tenant or owner is None or owner.tenant_id != self._tenant:
            raise NoTenantInScope("the weight's patient is not the unit of work's tenant's")
        if weight.id in self._weights:
            raise UniqueViolation("pk_patient_weights")
        self._weights[weight.id] = weight

    async def weights(self, patient_id: PatientId, page: PageRequest) -> Page[PatientWeight]:
        rows = sorted(
            (w for w in self._weights.values() if w.tenant_id == self._tenant and w.patient_id == patient_id),
            key=lambda w: (w.measured_at, w.id),
            reverse=True,
        )
        if page.after is not None:
            anchor = next((w for w in rows if w.id == page.after), None)
            rows = (
                []
                if anchor is None
                else [w for w in rows if (w.measured_at, w.id) < (anchor.measured_at, anchor.id)]
            )
        items = rows[: page.limit]
        more = len(rows) > page.limit
        return Page(items, items[-1].id if more and items else None)
