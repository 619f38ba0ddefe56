"""What every use case of the clinical record shares: who may write, the patient, the access log."""

from __future__ import annotations

from returns.result import Failure, Result, Success

from clinic_core.access.model import ApiKeyNotAllowed
from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork
from clinic_core.patients.model import AccessAction, Patient, PatientId
from clinic_core.patients.use_cases import log_access, visible_patient
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden
from clinic_core.tenancy.permissions import Permission


def scope_of(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


def may_write(actor: Actor) -> Result[None, Forbidden]:
    """``clinical:write``, held by a person: what is written in a clinical record has a responsible
    author, which an API key is not."""
    allowed = actor.authorize(Permission.CLINICAL_WRITE)
    if isinstance(allowed, Failure):
        return allowed
    if actor.api_key_id is not None:
        return Failure(ApiKeyNotAllowed(permission=Permission.CLINICAL_WRITE.value))
    return Success(None)


async def patient_in_tenant(uow: UnitOfWork, actor: Actor, patient_id: PatientId) -> Patient | None:
    """The patient, if the actor sees them: one of the unit of work's tenant (another tenant's id finds
    nothing), of a unit the actor works in when the clinic keeps patients per unit."""
    return await visible_patient(uow, actor, patient_id)


async def read_logged(
    uow: UnitOfWork,
    actor: Actor,
    patient_id: PatientId,
    action: AccessAction,
    clock: Clock,
    context: RequestContext,
) -> None:
    """Write the patient access log's row for a read of part of the patient's clinical record (LGPD), in
    the read's own unit of work: the row commits with the read or not at all."""
    await log_access(uow, actor, context, [patient_id], action, clock.now())
