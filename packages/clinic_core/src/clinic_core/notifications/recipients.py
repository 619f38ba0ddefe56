"""Who gets a patient's emails: the patient, or for an animal or a person without an address, their
primary guardian. Nobody for an anonymised or deceased patient."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.patients.model import Patient, PatientId, PatientStatus


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    name: str
    """How to greet them."""
    patient_name: str
    """Whom the email is about: the recipient themself, or the pet or dependant they answer for."""


def _reachable(patient: Patient | None) -> bool:
    return (
        patient is not None
        and not patient.anonymised
        and patient.status is not PatientStatus.DECEASED
        and bool(patient.emails)
    )


async def recipient_of(uow: UnitOfWork, patient_id: PatientId) -> Recipient | None:
    patient = await uow.patients.get(patient_id)
    if patient is None or patient.anonymised or patient.status is PatientStatus.DECEASED:
        return None
    if patient.is_person and _reachable(patient):
        return Recipient(patient.emails[0].value, patient.display_name, patient.display_name)
    primary = next((link for link in await uow.guardians.of_patient(patient_id) if link.is_primary), None)
    if primary is None:
        return None
    guardian = await uow.patients.get(primary.guardian_id)
    if guardian is None or not _reachable(guardian):
        return None
    return Recipient(guardian.emails[0].value, guardian.display_name, patient.display_name)
