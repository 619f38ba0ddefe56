"""In-memory patients, with the contracts of the SQL repository: one tenant, unique CPF / microchip /
client account / identifier per tenant, writes over the version read."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import NoTenantInScope, UniqueViolation
from clinic_core.patients.model import (
    GuardianLink,
    Microchip,
    Patient,
    PatientAccess,
    PatientId,
    PatientKind,
    PatientWeight,
    Species,
)
from clinic_core.patients.search import PatientQuery, SearchPage
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

    async def search(self, query: PatientQuery, page: SearchPage) -> list[Patient]:
        found = sorted((p for p in self._mine() if matches(p, query)), key=lambda p: (p.search_name, p.id))
        if page.after is not None:
            key = (page.after.search_name, page.after.id)
            found = [p for p in found if (p.search_name, p.id) > key]
        return [p for p in (self._out(p) for p in found[: page.limit + 1]) if p is not None]

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


def matches(patient: Patient, query: PatientQuery) -> bool:
    """``query`` as the SQL repository applies it, on one patient."""
    terms = patient.search_terms()
    by_prefix = all(any(t.startswith(word) for t in terms) for word in query.words)
    by_infix = False
    if query.infix:
        pattern = ".*".join(re.escape(w) for w in query.infix.split())
        by_infix = re.search(pattern, patient.search_name) is not None
    return (
        (by_prefix or by_infix)
        and (query.cpf is None or patient.cpf == query.cpf)
        and (not query.phone_digits or bool({"+" + d for d in query.phone_digits} & terms))
        and (query.microchip is None or patient.microchip == query.microchip)
        and (query.identifier is None or query.identifier in patient.identifiers)
        and (query.kind is None or patient.kind is query.kind)
        and (query.species is None or patient.species is query.species)
        and (query.status is None or patient.status is query.status)
        and (query.tag is None or query.tag in patient.tags)
        and (query.unit_id is None or patient.unit_id == query.unit_id)
        and (query.visible_units is None or patient.unit_id is None or patient.unit_id in query.visible_units)
        and (query.patient_ids is None or patient.id in query.patient_ids)
    )


class InMemoryGuardians:
    def __init__(self, rows: list[GuardianLink], patients: dict[UUID, Patient], tenant: TenantId) -> None:
        self._rows, self._patients, self._tenant = rows, patients, tenant

    def _mine(self) -> list[GuardianLink]:
        return [link for link in self._rows if link.tenant_id == self._tenant]

    async def of_patient(self, patient_id: PatientId) -> list[GuardianLink]:
        found = [link for link in self._mine() if link.patient_id == patient_id]
        return sorted(found, key=lambda link: (not link.is_primary, link.created_at, link.guardian_id))

    async def of_guardian(self, guardian_id: PatientId) -> list[GuardianLink]:
        found = [link for link in self._mine() if link.guardian_id == guardian_id]
        return sorted(found, key=lambda link: (link.created_at, link.patient_id))

    async def replace(self, patient_id: PatientId, links: list[GuardianLink]) -> None:
        for link in links:
            for end in (link.patient_id, link.guardian_id):
                owner = self._patients.get(end)
                if link.tenant_id != self._tenant or owner is None or owner.tenant_id != self._tenant:
                    raise NoTenantInScope(
                        "a guardian link must join two patients of the unit of work's tenant"
                    )
        if sum(link.is_primary for link in links) > 1:
            raise UniqueViolation("uq_guardian_links_one_primary")
        if len({(link.guardian_id, link.role) for link in links}) != len(links):
            raise UniqueViolation("pk_guardian_links")
        self._rows[:] = [
            link
            for link in self._rows
            if not (link.tenant_id == self._tenant and link.patient_id == patient_id)
        ]
        self._rows.extend(links)

    async def remove_all(self, patient_id: PatientId) -> int:
        kept = [
            link
            for link in self._rows
            if not (link.tenant_id == self._tenant and patient_id in (link.patient_id, link.guardian_id))
        ]
        removed = len(self._rows) - len(kept)
        self._rows[:] = kept
        return removed


class InMemoryPatientAccessLog:
    def __init__(self, rows: list[PatientAccess], tenant: TenantId) -> None:
        self._rows, self._tenant = rows, tenant

    async def add(self, entries: list[PatientAccess]) -> None:
        if any(entry.tenant_id != self._tenant for entry in entries):
            raise NoTenantInScope("an access entry belongs to another tenant than the unit of work's")
        self._rows.extend(entries)

    async def page(self, patient_id: PatientId, page: PageRequest) -> Page[PatientAccess]:
        rows = sorted(
            (
                e
                for e in self._rows
                if e.tenant_id == self._tenant
                and e.patient_id == patient_id
                and (page.after is None or e.id < page.after)
            ),
            key=lambda e: e.id,
            reverse=True,
        )
        items = rows[: page.limit]
        return Page(items, items[-1].id if len(rows) > page.limit and items else None)
