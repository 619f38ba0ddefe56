"""In-memory consents and privacy settings, with the contracts of the SQL ones (see ``memory.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from clinic_core.application.unit_of_work import UniqueViolation
from clinic_core.privacy.model import ConsentRecord, PrivacySettings
from clinic_core.shared.ids import TenantId


class InMemoryConsents:
    def __init__(self, rows: dict[UUID, ConsentRecord], tenant: Callable[[], TenantId]) -> None:
        self._rows, self._tenant = rows, tenant

    async def add(self, record: ConsentRecord) -> None:
        if record.tenant_id != self._tenant():
            raise AssertionError("a consent of another tenant than the unit of work's")
        if record.id in self._rows:
            raise UniqueViolation("pk_patient_consents")
        self._rows[record.id] = record

    async def of_patient(self, patient_id: UUID) -> list[ConsentRecord]:
        tenant = self._tenant()
        return [r for r in self._rows.values() if r.tenant_id == tenant and r.patient_id == patient_id]

    async def redact(self, patient_id: UUID, at: datetime) -> int:
        found = [r for r in await self.of_patient(patient_id) if r.redacted_at is None]
        for record in found:
            self._rows[record.id] = replace(record, ip=None, user_agent=None, evidence=None, redacted_at=at)
        return len(found)


class InMemoryPrivacySettings:
    def __init__(self, rows: dict[UUID, PrivacySettings], tenant: Callable[[], TenantId]) -> None:
        self._rows, self._tenant = rows, tenant

    async def get(self) -> PrivacySettings:
        return self._rows.get(self._tenant(), PrivacySettings())

    async def save(self, settings: PrivacySettings) -> None:
        self._rows[self._tenant()] = settings
