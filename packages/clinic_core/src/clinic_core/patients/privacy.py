"""The patients feature as privacy (LGPD) sees it: the ``PatientGateway``, and the export's sections of the
patient record and of its access log.

The gateway applies the feature's own rules, not copies of them: staff reach a patient as
``visible_patient`` decides (the units a member is restricted to), the portal as ``family_of`` does (its
inverse, ``portal_users_of``), and access-log rows are written by ``log_access``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.pagination import MAX_LIMIT, PageRequest
from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.patients.guardians import portal_users_of
from clinic_core.patients.model import AccessAction, Patient, PatientAccess, PatientId, PatientWeight
from clinic_core.patients.use_cases import log_access, visible_patient
from clinic_core.privacy.model import PatientAnonymised
from clinic_core.privacy.ports import AnonymisationPlan, JsonValue, PatientSubject

SAVE_ATTEMPTS = 5
"""An anonymisation re-reads the patient and tries again when a concurrent change won the version."""


class ConcurrentPatientChange(RuntimeError):
    """The patient kept changing under an anonymisation: the transaction is rolled back, nothing erased."""


class PatientsPrivacyGateway:
    """``clinic_core.privacy.ports.PatientGateway`` over ``uow.patients``, ``uow.guardians`` and
    ``uow.patient_access``."""

    async def find(self, uow: UnitOfWork, actor: Actor, patient_id: UUID) -> PatientSubject | None:
        patient = await visible_patient(uow, actor, PatientId(patient_id))
        if patient is None:
            return None
        return PatientSubject(patient.id, patient.anonymised_at, await portal_users_of(uow, patient))

    async def record_access(
        self,
        uow: UnitOfWork,
        actor: Actor,
        patient_id: UUID,
        action: str,
        context: RequestContext,
        at: datetime,
    ) -> None:
        await log_access(uow, actor, context, [PatientId(patient_id)], AccessAction(action), at)

    async def anonymise(
        self, uow: UnitOfWork, plan: AnonymisationPlan, event: PatientAnonymised
    ) -> Mapping[str, int]:
        patient_id = PatientId(plan.patient_id)
        for _ in range(SAVE_ATTEMPTS):
            patient = await uow.patients.get(patient_id)
            if patient is None:  # the caller found it in this unit of work: rows are never deleted
                raise LookupError(f"patient {patient_id} vanished during its anonymisation")
            terms = len(patient.search_terms())
            identifiers = len(patient.identifiers)
            cleared = patient.anonymise(plan.at)
            if await uow.patients.save(patient):
                patient.events.append(event)  # after the save: a lost attempt's copy announces nothing
                links = await uow.guardians.remove_all(patient_id)
                return {
                    "fields_erased": len(cleared),
                    "identifiers_erased": identifiers,
                    "search_terms_deleted": terms,
                    "guardian_links_removed": links,
                }
        raise ConcurrentPatientChange(f"patient {patient_id} kept changing during its anonymisation")


# --- the export ------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _str(value: object | None) -> str | None:
    return str(value) if value is not None else None


def patient_document(patient: Patient) -> dict[str, JsonValue]:
    """Every field of the record, as JSON-ready values."""
    address = patient.address
    return {
        "id": str(patient.id),
        "kind": patient.kind.value,
        "name": patient.name.value,
        "social_name": patient.social_name.value if patient.social_name else None,
        "sex": patient.sex.value,
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        "birth_date_estimated": patient.birth_date_estimated,
        "cpf": patient.cpf.value if patient.cpf else None,
        "identifiers": [{"system": i.system, "value": i.value} for i in patient.identifiers],
        "phones": list[JsonValue](p.value for p in patient.phones),
        "emails": list[JsonValue](e.value for e in patient.emails),
        "address": None
        if address is None
        else {
            "street": address.street,
            "number": address.number,
            "complement": address.complement,
            "district": address.district,
            "city": address.city,
            "state": address.state,
            "postal_code": address.postal_code,
            "country": address.country,
        },
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction, "severity": a.severity.value}
            for a in patient.allergies
        ],
        "notes": patient.notes,
        "tags": list[JsonValue](sorted(patient.tags)),
        "status": patient.status.value,
        "deceased_at": _iso(patient.deceased_at),
        "species": patient.species.value if patient.species else None,
        "breed": patient.breed,
        "coat": patient.coat,
        "neutered": patient.neutered,
        "microchip": patient.microchip.value if patient.microchip else None,
        "unit_id": _str(patient.unit_id),
        "user_id": _str(patient.user_id),
        "anonymised_at": _iso(patient.anonymised_at),
        "created_at": patient.created_at.isoformat(),
        "updated_at": patient.updated_at.isoformat(),
        "version": patient.version,
    }


def _weight(weight: PatientWeight) -> dict[str, JsonValue]:
    return {
        "id": str(weight.id),
        "kg": str(weight.kg),
        "measured_at": weight.measured_at.isoformat(),
        "recorded_by_user_id": _str(weight.recorded_by),
        "created_at": weight.created_at.isoformat(),
    }


async def all_weights(uow: UnitOfWork, patient_id: PatientId) -> list[PatientWeight]:
    """Every measurement, newest first."""
    found: list[PatientWeight] = []
    page = PageRequest(None, MAX_LIMIT)
    while True:
        batch = await uow.patients.weights(patient_id, page)
        found.extend(batch.items)
        if batch.next_after is None:
            return found
        page = PageRequest(batch.next_after, MAX_LIMIT)


class PatientRecordSection:
    """``patient``: the record with its identifiers, contacts, address, guardians (and, for a person, the
    patients they answer for) and every weight."""

    name = "patient"

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue:
        pid = PatientId(patient_id)
        patient = await uow.patients.get(pid)
        if patient is None:
            return None
        guardians = await uow.guardians.of_patient(pid)
        dependants = await uow.guardians.of_guardian(pid)
        others = await uow.patients.get_many(
            frozenset(link.guardian_id for link in guardians) | {link.patient_id for link in dependants}
        )

        def name_of(other: PatientId) -> str | None:
            found = others.get(other)
            return found.display_name if found is not None else None

        document = patient_document(patient)
        document["guardians"] = [
            {
                "guardian_id": str(link.guardian_id),
                "name": name_of(link.guardian_id),
                "role": link.role.value,
                "is_primary": link.is_primary,
                "since": link.created_at.isoformat(),
            }
            for link in guardians
        ]
        document["dependants"] = [
            {
                "patient_id": str(link.patient_id),
                "name": name_of(link.patient_id),
                "role": link.role.value,
                "since": link.created_at.isoformat(),
            }
            for link in dependants
        ]
        document["weights"] = [_weight(w) for w in await all_weights(uow, pid)]
        return document


def _access(entry: PatientAccess) -> dict[str, JsonValue]:
    return {
        "id": str(entry.id),
        "at": entry.at.isoformat(),
        "action": entry.action.value,
        "actor_user_id": _str(entry.actor_user_id),
        "actor_api_key_id": _str(entry.actor_api_key_id),
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "request_id": entry.request_id,
    }


class AccessLogSection:
    """``access_log``: every read of the record (who, when, what, from where), newest first."""

    name = "access_log"

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue:
        rows: list[JsonValue] = []
        page = PageRequest(None, MAX_LIMIT)
        while True:
            batch = await uow.patient_access.page(PatientId(patient_id), page)
            rows.extend(_access(e) for e in batch.items)
            if batch.next_after is None:
                return rows
            page = PageRequest(batch.next_after, MAX_LIMIT)
