"""The JSON of the privacy routes (LGPD): consents, the patient data export, anonymisation, retention."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from clinic_api.schemas import RequestModel, ResponseModel
from clinic_core.privacy.anonymisation import AnonymisationOutcome
from clinic_core.privacy.model import ConsentHistory, ConsentRecord, PrivacySettings


class ConsentRequest(RequestModel):
    """One decision about one kind of consent: a new record, never a change to an old one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "marketing_contact",
                    "decision": "granted",
                    "version": "2026-01",
                    "channel": "in_person",
                    "evidence": "Termo assinado na recepção, pasta 12",
                }
            ]
        }
    )

    kind: Annotated[str, Field(max_length=100)]
    """`data_sharing_across_units`, `marketing_contact`, `research`, or a kind of the clinic's own
    (lower-case letters, digits and underscores)."""
    decision: Literal["granted", "withdrawn"]
    version: Annotated[str, Field(max_length=100)]
    """The version of the terms or policy the patient answered (`2026-01`, `v4`)."""
    channel: Literal["in_person", "portal", "api", "import", "system"] | None = None
    """Staff: `in_person` (default) or `import`; an API key: `api` (default) or `import`; the portal
    always records `portal`."""
    evidence: Annotated[str, Field(max_length=1000)] | None = None
    """A short note (where the signed form is); never a health detail. Cleared if the patient is
    anonymised."""


class ConsentOut(ResponseModel):
    id: UUID
    patient_id: UUID
    kind: str
    decision: str
    version: str
    recorded_at: datetime
    channel: str
    recorded_by_user_id: UUID | None
    recorded_by_api_key_id: UUID | None
    ip: str | None
    user_agent: str | None
    evidence: str | None
    redacted_at: datetime | None
    """When anonymisation cleared `ip`, `user_agent` and `evidence`."""

    @classmethod
    def of(cls, record: ConsentRecord) -> ConsentOut:
        return cls(
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


class ConsentsOut(ResponseModel):
    current: list[ConsentOut]
    """The latest decision of each kind, by kind: what the patient consents to now."""
    history: list[ConsentOut]
    """Every decision, oldest first."""

    @classmethod
    def of(cls, history: ConsentHistory) -> ConsentsOut:
        return cls(
            current=[ConsentOut.of(r) for r in history.current],
            history=[ConsentOut.of(r) for r in history.history],
        )


class PatientExportOut(ResponseModel):
    """The patient's data, complete: `schema_version`, `generated_at`, `tenant`, then one key per section
    (`patient`, `consents`, `access_log`, and those of other features, such as `clinical_records`)."""

    model_config = ConfigDict(extra="allow")

    schema_: str = Field(alias="schema")
    schema_version: int
    generated_at: datetime
    generated_by: dict[str, Any]
    tenant: dict[str, Any]
    patient_id: UUID
    anonymised: bool


class AnonymiseRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "Pedido do titular, protocolo 2026-17",
                    "confirm": "0193b5d4-6f2a-7c1e-9a8b-2f4e6d8c0a1b",
                }
            ]
        }
    )

    reason: Annotated[str, Field(max_length=1000)]
    """Why (the request's reference, say), for the audit trail. Never the patient's name."""
    confirm: Annotated[str, Field(max_length=100)]
    """The patient's id again: anonymisation cannot be undone."""


class AnonymisationOut(ResponseModel):
    patient_id: UUID
    anonymised_at: datetime
    clinical_records_kept_until: datetime | None
    """Clinical records stay, de-identified, until then (their last entry plus the retention); null: none
    were kept."""
    retention_years: int
    counts: dict[str, int]
    """What each part did (`patient.search_terms_deleted`, `consents.withdrawn`, ...)."""

    @classmethod
    def of(cls, outcome: AnonymisationOutcome) -> AnonymisationOut:
        return cls(
            patient_id=outcome.patient_id,
            anonymised_at=outcome.anonymised_at,
            clinical_records_kept_until=outcome.clinical_records_kept_until,
            retention_years=outcome.retention_years,
            counts=dict(outcome.counts),
        )


class PrivacySettingsRequest(RequestModel):
    """Fields left out stay as they are."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"clinical_record_retention_years": 25}]})

    clinical_record_retention_years: int | None = None
    """5 to 100. How long clinical records outlive their last entry when a patient is anonymised
    (default 20: CFM Resolução 1.821/2007, Lei 13.787/2018)."""


class PrivacySettingsOut(ResponseModel):
    clinical_record_retention_years: int
    updated_at: datetime | None
    """null: never changed, the defaults apply."""

    @classmethod
    def of(cls, settings: PrivacySettings) -> PrivacySettingsOut:
        return cls(
            clinical_record_retention_years=settings.clinical_record_retention_years,
            updated_at=settings.updated_at,
        )
