"""Where patients are kept. Every repository is built for the unit of work's tenant and sees only it."""

from __future__ import annotations

from typing import Protocol

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.patients.model import (
    GuardianLink,
    Microchip,
    Patient,
    PatientAccess,
    PatientId,
    PatientWeight,
)
from clinic_core.patients.search import PatientQuery, SearchPage
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

    async def search(self, query: PatientQuery, page: SearchPage) -> list[Patient]:
        """Up to ``page.limit + 1`` patients matching ``query``, after ``page.after``, in the order of
        (``search_name``, id): the extra one tells that there is a next page. With ``query.infix``,
        names that contain its words in order match too."""
        ...


class GuardianRepository(Protocol):
    """Who answers for whom, in the scope's tenant."""

    async def of_patient(self, patient_id: PatientId) -> list[GuardianLink]:
        """The patient's guardians: the primary first, then by when they were linked."""
        ...

    async def of_guardian(self, guardian_id: PatientId) -> list[GuardianLink]:
        """The links where ``guardian_id`` is the guardian (their dependants)."""
        ...

    async def replace(self, patient_id: PatientId, links: list[GuardianLink]) -> None:
        """Make ``links`` the patient's whole set of guardians. Raises ``UniqueViolation``
        (``uq_guardian_links_one_primary``) for a second primary."""
        ...

    async def remove_all(self, patient_id: PatientId) -> int:
        """Remove every link the patient is in, as the one answered for or as the guardian (anonymisation).
        How many links went."""
        ...


class PatientAccessLog(Protocol):
    """The record of who read which patient. Append-only: no update, no delete."""

    async def add(self, entries: list[PatientAccess]) -> None:
        """Append within the unit of work: the entries commit with the read they record."""
        ...

    async def page(self, patient_id: PatientId, page: PageRequest) -> Page[PatientAccess]:
        """Newest first; ``page.after`` continues below the last id of the previous page."""
        ...
