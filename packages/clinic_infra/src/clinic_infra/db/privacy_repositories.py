"""SQL repositories of the privacy tables: consent decisions and the clinic's privacy settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update

from clinic_core.privacy.model import (
    ConsentChannel,
    ConsentDecision,
    ConsentId,
    ConsentRecord,
    PrivacySettings,
)
from clinic_core.shared.ids import TenantId, UserId
from clinic_infra.db.privacy_tables import patient_consents, tenant_privacy_settings
from clinic_infra.db.repositories import Row, _Repository


def _consent(row: Row) -> ConsentRecord:
    return ConsentRecord(
        tenant_id=TenantId(row["tenant_id"]),
        id=ConsentId(row["id"]),
        patient_id=row["patient_id"],
        kind=row["kind"],
        decision=ConsentDecision(row["decision"]),
        version=row["version"],
        recorded_at=row["recorded_at"],
        channel=ConsentChannel(row["channel"]),
        recorded_by_user_id=UserId(row["recorded_by_user_id"]) if row["recorded_by_user_id"] else None,
        recorded_by_api_key_id=row["recorded_by_api_key_id"],
        ip=row["ip"],
        user_agent=row["user_agent"],
        evidence=row["evidence"],
        redacted_at=row["redacted_at"],
    )


class SqlConsentRepository(_Repository):
    async def add(self, record: ConsentRecord) -> None:
        await self._db.execute(
            insert(patient_consents).values(
                tenant_id=self._db.tenant_id(),
                id=record.id,
                patient_id=record.patient_id,
                kind=record.kind,
                decision=record.decision.value,
                version=record.version,
                recorded_at=record.recorded_at,
                channel=record.channel.value,
                recorded_by_user_id=record.recorded_by_user_id,
                recorded_by_api_key_id=record.recorded_by_api_key_id,
                ip=record.ip,
                user_agent=record.user_agent,
                evidence=record.evidence,
                redacted_at=record.redacted_at,
            )
        )

    async def of_patient(self, patient_id: UUID) -> list[ConsentRecord]:
        c = patient_consents
        rows = await self._rows(
            select(c)
            .where(c.c.tenant_id == self._db.tenant_id(), c.c.patient_id == patient_id)
            .order_by(c.c.id)
        )
        return [_consent(row) for row in rows]

    async def redact(self, patient_id: UUID, at: datetime) -> int:
        c = patient_consents
        result = await self._db.execute(
            update(c)
            .where(
                c.c.tenant_id == self._db.tenant_id(),
                c.c.patient_id == patient_id,
                c.c.redacted_at.is_(None),
            )
            .values(ip=None, user_agent=None, evidence=None, redacted_at=at)
        )
        return int(result.rowcount or 0)


class SqlPrivacySettingsRepository(_Repository):
    async def get(self) -> PrivacySettings:
        s = tenant_privacy_settings
        row = await self._row(select(s).where(s.c.tenant_id == self._db.tenant_id()))
        if row is None:
            return PrivacySettings()
        return PrivacySettings(
            clinical_record_retention_years=row["clinical_record_retention_years"],
            updated_at=row["updated_at"],
        )

    async def save(self, settings: PrivacySettings) -> None:
        if settings.updated_at is None:
            raise ValueError("saved privacy settings carry the time of the change")
        s = tenant_privacy_settings
        values: dict[str, Any] = {
            "clinical_record_retention_years": settings.clinical_record_retention_years,
            "updated_at": settings.updated_at,
        }
        tenant = self._db.tenant_id()
        changed = await self._db.execute(update(s).where(s.c.tenant_id == tenant).values(**values))
        if not changed.rowcount:
            await self._db.execute(insert(s).values(tenant_id=tenant, **values))
