"""Consents, the clinic's privacy settings, and what anonymisation announces: plain Python, no persistence.

A consent is never edited: every decision (granted or withdrawn) is a new record, kept with the version of
the terms it answered, when, through which channel and by whom. What a patient consents to now is the
latest decision of each kind (LGPD art. 8 §2: the clinic must be able to prove consent; §5: it can be
withdrawn at any time, freely and as easily as it was given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import Conflict, InvalidInput
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import TenantId, UserId
from clinic_core.shared.values import has_control_characters

ConsentId = NewType("ConsentId", UUID)

CONSENT_VERSION_MAX = 40
CONSENT_EVIDENCE_MAX = 500
_KIND = re.compile(r"[a-z][a-z0-9_]{1,59}")


class ConsentKind:
    """What a consent is about. The platform knows a few; a clinic may record others (``research``)."""

    DATA_SHARING_ACROSS_UNITS = "data_sharing_across_units"
    """The patient's record may be read by the other units of the clinic (a franchise network)."""
    MARKETING_CONTACT = "marketing_contact"
    """The clinic may contact the patient with offers and news (not appointment reminders)."""
    RESEARCH = "research"
    """De-identified data may be used in research."""

    WELL_KNOWN = (DATA_SHARING_ACROSS_UNITS, MARKETING_CONTACT, RESEARCH)

    @staticmethod
    def parse(raw: str, field: str = "kind") -> Result[str, InvalidInput]:
        kind = raw.strip().lower()
        if not _KIND.fullmatch(kind):
            return Failure(
                InvalidInput.of(
                    field,
                    "invalid_kind",
                    "2 to 60 lower-case letters, digits and underscores, starting with a letter",
                )
            )
        return Success(kind)


class ConsentDecision(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentChannel(StrEnum):
    """How the decision reached the clinic."""

    IN_PERSON = "in_person"
    """At the front desk or in the consulting room, recorded by staff (a signed form, say)."""
    PORTAL = "portal"
    """By the patient or their guardian themself, signed in to the patient portal."""
    API = "api"
    """By an integration, with an API key."""
    IMPORT = "import"
    """Brought over from another system, recorded by staff."""
    SYSTEM = "system"
    """By the platform itself: the withdrawals an anonymisation records."""


STAFF_CHANNELS = frozenset({ConsentChannel.IN_PERSON, ConsentChannel.IMPORT})
API_KEY_CHANNELS = frozenset({ConsentChannel.API, ConsentChannel.IMPORT})


def parse_version(raw: str) -> Result[str, InvalidInput]:
    version = raw.strip()
    if not version:
        return Failure(
            InvalidInput.of("version", "required", "the version of the terms the patient answered")
        )
    if len(version) > CONSENT_VERSION_MAX or has_control_characters(version):
        return Failure(
            InvalidInput.of(
                "version",
                "invalid_version",
                f"at most {CONSENT_VERSION_MAX} characters, no control characters",
            )
        )
    return Success(version)


def parse_evidence(raw: str | None) -> Result[str | None, InvalidInput]:
    evidence = " ".join((raw or "").split())
    if len(evidence) > CONSENT_EVIDENCE_MAX:
        return Failure(InvalidInput.of("evidence", "too_long", f"at most {CONSENT_EVIDENCE_MAX} characters"))
    if has_control_characters(evidence):
        return Failure(InvalidInput.of("evidence", "invalid_characters", "no control characters"))
    return Success(evidence or None)


@dataclass(frozen=True, kw_only=True)
class ConsentRecord:
    """One decision of a patient (or their guardian) about one kind of consent."""

    tenant_id: TenantId
    id: ConsentId
    patient_id: UUID
    kind: str
    decision: ConsentDecision
    version: str
    """The version of the terms or policy the decision answered (``2025-03``, ``v4``)."""
    recorded_at: datetime
    channel: ConsentChannel
    recorded_by_user_id: UserId | None = None
    """The person who recorded it: staff at the desk, or the patient/guardian in the portal."""
    recorded_by_api_key_id: UUID | None = None
    ip: str | None = None
    user_agent: str | None = None
    evidence: str | None = None
    """A short note: where the signed form is, what was shown. Never a health detail."""
    redacted_at: datetime | None = None
    """When anonymisation cleared ``ip``, ``user_agent`` and ``evidence``; the decision itself stays."""

    @property
    def granted(self) -> bool:
        return self.decision is ConsentDecision.GRANTED


@dataclass(frozen=True, slots=True)
class ConsentHistory:
    """Every decision, oldest first, and the current state: the latest decision of each kind."""

    history: tuple[ConsentRecord, ...]

    @property
    def current(self) -> tuple[ConsentRecord, ...]:
        latest: dict[str, ConsentRecord] = {}
        for record in self.history:
            latest[record.kind] = record
        return tuple(sorted(latest.values(), key=lambda r: r.kind))

    def granted(self, kind: str) -> bool:
        """Whether the patient consents to ``kind`` now; never asked means no."""
        return any(r.kind == kind and r.granted for r in self.current)


def order_history(records: list[ConsentRecord]) -> ConsentHistory:
    """Oldest first; ids are UUIDv7 so they break ties between decisions recorded in the same instant."""
    return ConsentHistory(tuple(sorted(records, key=lambda r: (r.recorded_at, r.id))))


# --- the clinic's privacy settings --------------------------------------------------------------------------

DEFAULT_CLINICAL_RECORD_RETENTION_YEARS = 20
"""CFM Resolução 1.821/2007 art. 8 and Lei 13.787/2018 art. 6: the prontuário is kept at least 20 years
from its last entry."""
MIN_CLINICAL_RECORD_RETENTION_YEARS = 5
"""The shortest any council asks for (CFMV Resolução 1.321/2020, veterinary records: 5 years). A medical
clinic must not go below 20; the setting leaves that to the clinic, which knows which council it answers to."""
MAX_CLINICAL_RECORD_RETENTION_YEARS = 100


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    clinical_record_retention_years: int = DEFAULT_CLINICAL_RECORD_RETENTION_YEARS
    """How long clinical records outlive their last entry, anonymised patient or not."""
    updated_at: datetime | None = None
    """None: never changed, the defaults apply."""


def parse_retention_years(raw: int) -> Result[int, InvalidInput]:
    low, high = MIN_CLINICAL_RECORD_RETENTION_YEARS, MAX_CLINICAL_RECORD_RETENTION_YEARS
    if isinstance(raw, bool) or not low <= raw <= high:
        return Failure(
            InvalidInput.of("clinical_record_retention_years", "out_of_range", f"from {low} to {high} years")
        )
    return Success(raw)


# --- anonymisation ------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PatientAnonymised(DomainEvent):
    """A patient's identity was erased. Carries ids only: subscribers erase what they hold of the person."""

    topic = "patient.anonymised"
    patient_id: UUID
    anonymised_by: UserId | None
    clinical_records_kept_until: datetime | None
    """When the retained clinical records fall out of the retention window; None when none were kept."""


class AlreadyAnonymised(Conflict):
    code = "patient_anonymised"

    @property
    def detail(self) -> str:
        return "this patient was anonymised: nothing can be recorded about them any more"
