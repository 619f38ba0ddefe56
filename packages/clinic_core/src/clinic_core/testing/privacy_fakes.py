"""Stand-ins for the features privacy works with, for unit tests of privacy on its own.

``FakePatientGateway`` keeps patients as plain dicts of identity fields; ``FakeSection`` and ``FakeStep``
play another feature's export section and anonymisation step. Their state lives beside the unit of work
(not in it): a test that rolls back must not expect them to roll back too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.privacy.model import PatientAnonymised
from clinic_core.privacy.ports import AnonymisationPlan, JsonValue, PatientSubject
from clinic_core.shared.ids import TenantId, UnitId, UserId


@dataclass
class FakePatient:
    tenant_id: TenantId
    id: UUID
    identity: dict[str, Any]
    """Whatever identifies the person: name, cpf, phones... ``anonymise`` empties it."""
    search_terms: set[str] = field(default_factory=set)
    portal_user_ids: set[UserId] = field(default_factory=set)
    unit_id: UnitId | None = None
    anonymised_at: datetime | None = None


@dataclass(frozen=True)
class AccessRow:
    tenant_id: TenantId
    patient_id: UUID
    user_id: UserId | None
    api_key_id: UUID | None
    action: str
    ip: str | None
    at: datetime


class FakePatientGateway:
    """Patients by id; staff restricted to units see only their units' patients."""

    def __init__(self) -> None:
        self.patients: dict[UUID, FakePatient] = {}
        self.access_log: list[AccessRow] = []
        self.events: list[PatientAnonymised] = []

    def add(self, patient: FakePatient) -> FakePatient:
        self.patients[patient.id] = patient
        return patient

    def search(self, tenant_id: TenantId, term: str) -> list[UUID]:
        return [
            p.id
            for p in self.patients.values()
            if p.tenant_id == tenant_id and any(term.lower() in t for t in p.search_terms)
        ]

    async def find(self, uow: UnitOfWork, actor: Actor, patient_id: UUID) -> PatientSubject | None:
        patient = self.patients.get(patient_id)
        if patient is None or patient.tenant_id != uow.scope.tenant_id:
            return None
        if patient.unit_id is not None and not actor.sees_unit(patient.unit_id):
            return None
        return PatientSubject(patient.id, patient.anonymised_at, frozenset(patient.portal_user_ids))

    async def record_access(
        self,
        uow: UnitOfWork,
        actor: Actor,
        patient_id: UUID,
        action: str,
        context: RequestContext,
        at: datetime,
    ) -> None:
        self.access_log.append(
            AccessRow(
                actor.tenant_id,
                patient_id,
                None if actor.api_key_id else actor.user_id,
                actor.api_key_id,
                action,
                context.ip,
                at,
            )
        )

    async def anonymise(
        self, uow: UnitOfWork, plan: AnonymisationPlan, event: PatientAnonymised
    ) -> Mapping[str, int]:
        patient = self.patients[plan.patient_id]
        erased, terms = len(patient.identity), len(patient.search_terms)
        patient.identity = {"name": f"Paciente anonimizado {str(patient.id)[:8]}"}
        patient.search_terms.clear()
        patient.portal_user_ids.clear()
        patient.anonymised_at = plan.at
        self.events.append(event)
        return {"fields_erased": erased, "search_terms_deleted": terms}


class PatientSection:
    """The fake patients' identity as an export section."""

    name = "patient"

    def __init__(self, gateway: FakePatientGateway) -> None:
        self._gateway = gateway

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue:
        patient = self._gateway.patients[patient_id]
        return {"id": str(patient.id), **patient.identity}


class FakeSection:
    def __init__(self, name: str, content: JsonValue) -> None:
        self.name, self.content = name, content
        self.asked: list[UUID] = []

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue:
        self.asked.append(patient_id)
        return self.content


class FakeStep:
    """Another feature's part: it holds clinical entries (last one at ``last_entry``) and photos."""

    def __init__(self, name: str, last_entry: datetime | None = None) -> None:
        self.name, self.last_entry = name, last_entry
        self.plans: list[AnonymisationPlan] = []

    async def last_clinical_entry_at(self, uow: UnitOfWork, patient_id: UUID) -> datetime | None:
        return self.last_entry

    async def apply(self, uow: UnitOfWork, plan: AnonymisationPlan) -> Mapping[str, int]:
        self.plans.append(plan)
        return {"kept": 1} if plan.keep_clinical_records else {"erased": 1}
