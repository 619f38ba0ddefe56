"""Where patients are kept. Every repository is built for the unit of work's tenant and sees only it."""

from __future__ import annotations

from typing import Protocol

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.patients.model import Microchip, Patient, PatientId, PatientWeight
from clinic_core.shared.ids import UserId
from clinic_core.shared.values import CPF


class PatientRepository(Protocol):
    async def add(self, patient: Patient) -> None:
        """Insert the patient with its identifiers and search terms.

        Raises ``UniqueViolation`` when another patient of the tenant has its CPF
        (``uq_patients_tenant_id_cpf``), microchip (``uq_patients_tenant_id_microchip``), client account
        (``uq_patients_tenant_id_user_id``) or one of its identifiers
        (``uq_patient_identifiers_tenant_id_system_value``)."""
        ...

    async def get(self, patient_id: PatientId) -> Patient | None:
        """The tenant's patient, or None (another tenant's id reads as None)."""
        ...

    async def get_many(self, patient_ids: frozenset[PatientId]) -> dict[PatientId, Patient]: ...

    async def save(self, patient: Patient, expected_version: int | None = None) -> bool:
        """Write the patient over ``expected_version`` (default: ``patient.version``, the version it was
        read at) and bump ``patient.version``. False, writing nothing, when the stored version is another
        one (somebody saved in between). Unique violations as for ``add``."""
        ...

    async def find_by_identifier(self, system: str, value: str) -> Patient | None: ...

    async def find_by_cpf(self, cpf: CPF) -> Patient | None: ...

    async def find_by_microchip(self, microchip: Microchip) -> Patient | None: ...

    async def find_by_user(self, user_id: UserId) -> Patient | None:
        """The person record linked to a client account."""
        ...

    async def add_weight(self, weight: PatientWeight) -> None: ...

    async def weights(self, patient_id: PatientId, page: PageRequest) -> Page[PatientWeight]:
        """Newest measurement first (by ``measured_at``, then id)."""
        ...
