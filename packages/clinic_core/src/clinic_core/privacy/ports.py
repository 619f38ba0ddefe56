"""What privacy needs from storage and from the other features.

Consents and the clinic's privacy settings are privacy's own. Patients, clinical records, attachments
and the rest belong to their features: privacy sees them only through the ports below, which each feature
implements and the composition root assembles. A new feature takes part in the export and in
anonymisation by adding a ``PatientDataSection`` and an ``AnonymisationStep``; the use cases do not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeAlias
from uuid import UUID

from clinic_core.application.context import RequestContext
from clinic_core.privacy.model import ConsentRecord, PatientAnonymised, PrivacySettings
from clinic_core.shared.ids import UserId

if TYPE_CHECKING:
    from clinic_core.application.actor import Actor
    from clinic_core.application.unit_of_work import UnitOfWork

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"


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

    async def save(self, settings: PrivacySettings) -> None:
        """Raises ``UniqueViolation`` when a concurrent first save won the row."""
        ...


# --- the patients feature, as privacy sees it -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientSubject:
    """A patient, reduced to what privacy decides on."""

    id: UUID
    anonymised_at: datetime | None
    portal_user_ids: frozenset[UserId]
    """The client users (the patient, their guardians) who reach this patient through the portal."""

    @property
    def anonymised(self) -> bool:
        return self.anonymised_at is not None


class AccessAction:
    """What an access-log row says was done with the record, for the rows privacy writes."""

    CONSENTS_READ = "consents.read"
    EXPORT = "export"
    ANONYMISE = "anonymise"


class PatientGateway(Protocol):
    """The patients feature, for privacy: finding a patient as the caller may see them, the access log."""

    async def find(self, uow: UnitOfWork, actor: Actor, patient_id: UUID) -> PatientSubject | None:
        """The patient, if it exists in the unit of work's tenant and ``actor`` may see it as staff (the
        units they are restricted to, say). A portal caller is checked against ``portal_user_ids``."""
        ...

    async def record_access(
        self,
        uow: UnitOfWork,
        actor: Actor,
        patient_id: UUID,
        action: str,
        context: RequestContext,
        at: datetime,
    ) -> None:
        """Append a row to the patient's access log (who, when, what, from where)."""
        ...

    async def anonymise(
        self, uow: UnitOfWork, plan: AnonymisationPlan, event: PatientAnonymised
    ) -> Mapping[str, int]:
        """Erase the patient's identity (names, documents, identifiers, contacts, address, exact birth date,
        notes, tags, microchip, portal and guardian links), delete their search terms, set
        ``anonymised_at``, and record ``event`` on the patient so that it reaches the outbox with the
        change. Counts for the audit trail, as ``AnonymisationStep.apply``."""
        ...


@dataclass(frozen=True, slots=True)
class AnonymisationPlan:
    """What an anonymisation does, decided once and handed to every step."""

    patient_id: UUID
    at: datetime
    clinical_records_kept_until: datetime | None
    """Clinical records (notes, anamneses, exams) stay, de-identified, until then: their last entry plus the
    clinic's retention. None: nothing is inside the window (or there is nothing clinical), erase them."""
    actor_user_id: UserId | None

    @property
    def keep_clinical_records(self) -> bool:
        return self.clinical_records_kept_until is not None


class PatientDataSection(Protocol):
    """A part of the patient data export (LGPD art. 18 II and V: access and portability).

    ``name`` is the section's key in the exported document; ``collect`` returns it as JSON-ready values
    (strings for ids and instants). It runs in the export's unit of work, for a patient that exists.
    """

    @property
    def name(self) -> str: ...

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue: ...


class AnonymisationStep(Protocol):
    """What one feature erases or keeps when a patient is anonymised.

    ``last_clinical_entry_at`` is the latest clinical entry the feature holds about the patient (None if it
    holds none, or nothing clinical): the retention window runs from the latest over every step.
    ``apply`` does the feature's part in the anonymisation's unit of work, and returns counts for the
    audit trail (``{"notes_kept": 3}``), never a value that identifies the person.
    """

    @property
    def name(self) -> str: ...

    async def last_clinical_entry_at(self, uow: UnitOfWork, patient_id: UUID) -> datetime | None: ...

    async def apply(self, uow: UnitOfWork, plan: AnonymisationPlan) -> Mapping[str, int]: ...
