"""The clinical record as privacy (LGPD) sees it: its part of the patient data export, and of anonymisation.

The export holds every anamnesis (with its answers) and every note with its amendments. Anonymisation keeps
the clinical record as written, linked to the anonymised patient only, for as long as the retention window
runs from its latest entry (CFM Resolução 1.821/2007, Lei 13.787/2018): the prontuário may not be altered.
Erasing a record whose window has closed is NOT done yet: the clinical record has no deletion, and its signed
rows are immutable in the database; such records are counted (``past_window_not_erased``) in the audit trail
of the anonymisation so that the clinic knows (see docs/PRIVACY.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from clinic_core.application.pagination import MAX_LIMIT, PageRequest
from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.clinical.model import AnamnesisResponse, ClinicalNote
from clinic_core.patients.model import PatientId
from clinic_core.privacy.ports import AnonymisationPlan, JsonValue


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def all_anamneses(uow: UnitOfWork, patient_id: PatientId) -> list[AnamnesisResponse]:
    found: list[AnamnesisResponse] = []
    page = PageRequest(None, MAX_LIMIT)
    while True:
        batch = await uow.anamnesis_responses.list_for_patient(patient_id, page)
        found.extend(batch.items)
        if batch.next_after is None:
            return found
        page = PageRequest(batch.next_after, MAX_LIMIT)


async def all_notes(uow: UnitOfWork, patient_id: PatientId) -> list[ClinicalNote]:
    """Every original note, newest first, then every amendment, oldest first."""
    originals: list[ClinicalNote] = []
    page = PageRequest(None, MAX_LIMIT)
    while True:
        batch = await uow.clinical_notes.list_originals(patient_id, page)
        originals.extend(batch.items)
        if batch.next_after is None:
            break
        page = PageRequest(batch.next_after, MAX_LIMIT)
    amendments = await uow.clinical_notes.amendments_of(frozenset(n.id for n in originals))
    return [*originals, *amendments]


def _answer(value: object) -> JsonValue:
    if isinstance(value, tuple):
        return [str(v) for v in value]
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)


def _anamnesis(response: AnamnesisResponse) -> dict[str, JsonValue]:
    return {
        "id": str(response.id),
        "template_id": str(response.template_id),
        "template_version": response.version,
        "appointment_id": str(response.appointment_id) if response.appointment_id else None,
        "answers": {key: _answer(value) for key, value in response.answers.items()},
        "status": response.status.value,
        "created_by_user_id": str(response.created_by),
        "created_at": response.created_at.isoformat(),
        "updated_at": response.updated_at.isoformat(),
        "signed_by_user_id": str(response.signed_by) if response.signed_by else None,
        "signed_at": _iso(response.signed_at),
    }


def _note(note: ClinicalNote) -> dict[str, JsonValue]:
    return {
        "id": str(note.id),
        "type": note.type.value,
        "body": note.body,
        "author_user_id": str(note.author_id),
        "appointment_id": str(note.appointment_id) if note.appointment_id else None,
        "status": note.status.value,
        "created_at": note.created_at.isoformat(),
        "signed_at": _iso(note.signed_at),
        "amends": str(note.amends) if note.amends else None,
    }


class ClinicalRecordsSection:
    """``clinical_records``: ``anamneses`` (newest first, with their answers) and ``notes`` (originals
    newest first, then their amendments oldest first, each naming the note it ``amends``)."""

    name = "clinical_records"

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue:
        pid = PatientId(patient_id)
        return {
            "anamneses": [_anamnesis(a) for a in await all_anamneses(uow, pid)],
            "notes": [_note(n) for n in await all_notes(uow, pid)],
        }


class ClinicalRecordsRetention:
    """Anamneses and notes are clinical entries: the retention window runs from the latest of them."""

    name = "clinical_records"

    async def last_clinical_entry_at(self, uow: UnitOfWork, patient_id: UUID) -> datetime | None:
        pid = PatientId(patient_id)
        moments = [a.signed_at or a.updated_at for a in await all_anamneses(uow, pid)]
        moments += [n.signed_at or n.created_at for n in await all_notes(uow, pid)]
        return max(moments, default=None)

    async def apply(self, uow: UnitOfWork, plan: AnonymisationPlan) -> Mapping[str, int]:
        pid = PatientId(plan.patient_id)
        anamneses, notes = len(await all_anamneses(uow, pid)), len(await all_notes(uow, pid))
        if plan.keep_clinical_records:
            return {"anamneses_kept": anamneses, "notes_kept": notes}
        return {"past_window_not_erased": anamneses + notes}
