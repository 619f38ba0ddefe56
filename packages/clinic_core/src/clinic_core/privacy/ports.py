"""Where consents and the clinic's privacy settings are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from clinic_core.privacy.model import ConsentRecord, PrivacySettings


class ConsentRepository(Protocol):
    """The current tenant's consent decisions. Append-only: a decision is never changed nor removed; the one
    exception is ``redact``, which anonymisation uses to clear the free text and network details."""

    async def add(self, record: ConsentRecord) -> None: ...

    async def of_patient(self, patient_id: UUID) -> list[ConsentRecord]:
        """Every decision about the patient, in no particular order."""
        ...

    async def redact(self, patient_id: UUID, at: datetime) -> int:
        """Clear ``ip``, ``user_agent`` and ``evidence`` of the patient's decisions not redacted yet, and
        set ``redacted_at``; the kind, decision, version, time, channel and recorder stay. How many rows."""
        ...


class PrivacySettingsRepository(Protocol):
    """The current tenant's privacy settings (one row, or none when the defaults apply)."""

    async def get(self) -> PrivacySettings: ...

    async def save(self, settings: PrivacySettings) -> None: ...
