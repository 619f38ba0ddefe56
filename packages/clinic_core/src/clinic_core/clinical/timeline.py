"""A patient's history: one chronological timeline of everything recorded about them.

The timeline is a table of small entries, not a query over every feature's tables: each use case that
records something about a patient writes its entry through ``uow.timeline.record(...)`` in the same
transaction as the change itself, so the timeline never shows what did not happen nor misses what did.
A new feature (appointments, prescriptions, vital signs...) adds its entries the same way, under a kind
of its own, and nothing here changes:

- ``kind`` is an open string (``anamnesis``, ``clinical_note``, ``attachment``; later ``appointment``...),
  lower-case ``a-z`` and ``_``;
- ``ref_id`` is the id of the thing in its own feature; (kind, ref_id) names one entry, and recording it
  again replaces it (an anamnesis that gets signed, an appointment that moves);
- ``summary`` is a short title (a template's name, a note's type), never the record's free text: the
  timeline lists; reading the record itself is a separate, logged read;
- ``occurred_at`` orders the timeline (newest first), ties broken by the entry's id.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NewType
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.patients.model import PatientId
from clinic_core.shared.errors import FieldError, InvalidInput
from clinic_core.shared.ids import TenantId, UserId

TimelineEntryId = NewType("TimelineEntryId", UUID)

KIND_PATTERN = re.compile(r"[a-z][a-z_]{0,31}")
MAX_SUMMARY = 200
MAX_KINDS_PER_QUERY = 20
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimelineKind:
    """The kinds of entry this code base writes. Open: a feature adds its own without touching the timeline."""

    ANAMNESIS = "anamnesis"
    CLINICAL_NOTE = "clinical_note"
    ATTACHMENT = "attachment"


def summary_of(text: str) -> str:
    """``text`` on one line, cut to the summary's length."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_SUMMARY else line[: MAX_SUMMARY - 1] + "…"


@dataclass(frozen=True, kw_only=True)
class TimelineEntry:
    tenant_id: TenantId
    id: TimelineEntryId
    patient_id: PatientId
    occurred_at: datetime
    kind: str
    ref_id: UUID
    summary: str
    status: str | None = None
    """The referenced record's state when it has one (``draft``, ``signed``), for the list to show."""
    actor_id: UserId | None = None
    """Who recorded it (a note's author, who took the anamnesis)."""

    def __post_init__(self) -> None:
        if KIND_PATTERN.fullmatch(self.kind) is None:
            raise ValueError(f"timeline kind {self.kind!r} is not lower-case a-z and _")
        if len(self.summary) > MAX_SUMMARY or "\n" in self.summary:
            raise ValueError("a timeline summary is one line of at most 200 characters: use summary_of")


@dataclass(frozen=True, slots=True)
class TimelinePosition:
    """Where a page ended: the (occurred_at, id) of its last entry. The next page starts strictly below."""

    occurred_at: datetime
    id: UUID

    def encode(self) -> str:
        micros = (self.occurred_at - _EPOCH) // timedelta(microseconds=1)
        raw = struct.pack(">q", micros) + self.id.bytes
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> TimelinePosition | None:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            if len(raw) != 24:
                return None
            (micros,) = struct.unpack(">q", raw[:8])
            return cls(_EPOCH + timedelta(microseconds=micros), UUID(bytes=raw[8:]))
        except (binascii.Error, ValueError, OverflowError, struct.error):
            return None


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    patient_id: PatientId
    kinds: frozenset[str] = frozenset()
    """Only these kinds; empty: every kind."""
    after: TimelinePosition | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(
        cls, patient_id: PatientId, kinds: frozenset[str], cursor: str | None, limit: int | None
    ) -> Result[TimelineQuery, InvalidInput]:
        errors: list[FieldError] = []
        size = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= size <= MAX_LIMIT:
            errors.append(FieldError("limit", "out_of_range", f"limit must be 1 to {MAX_LIMIT}"))
        if len(kinds) > MAX_KINDS_PER_QUERY:
            errors.append(FieldError("kind", "too_many", f"at most {MAX_KINDS_PER_QUERY} kinds"))
        errors.extend(
            FieldError("kind", "invalid_kind", f"{k!r} is not a kind (lower-case a-z and _)")
            for k in sorted(kinds)
            if KIND_PATTERN.fullmatch(k) is None
        )
        after = TimelinePosition.decode(cursor) if cursor else None
        if cursor and after is None:
            errors.append(FieldError("cursor", "invalid_cursor", "not a cursor this API returned"))
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        return Success(cls(patient_id, kinds, after, size))


@dataclass(frozen=True, slots=True)
class TimelinePage:
    items: list[TimelineEntry]
    next_after: TimelinePosition | None

    @property
    def next_cursor(self) -> str | None:
        return self.next_after.encode() if self.next_after is not None else None


def newest_first_key(entry: TimelineEntry) -> tuple[datetime, UUID]:
    return (entry.occurred_at, entry.id)


def is_below(entry: TimelineEntry, position: TimelinePosition) -> bool:
    """Whether ``entry`` comes after ``position`` in newest-first order."""
    return (entry.occurred_at, entry.id) < (position.occurred_at, position.id)
