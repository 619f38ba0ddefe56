"""What every use case of the clinical record shares: who may write, the patient, the access log."""

from __future__ import annotations

from returns.result import Failure, Result, Success

from clinic_core.access.model import ApiKeyNotAllowed
from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork
from clinic_core.patients.model import Patient, PatientId
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


async def patient_in_tenant(uow: UnitOfWork, patient_id: PatientId) -> Patient | None:
    """The patient, if they are one of the unit of work's tenant (another tenant's id finds nothing)."""
    return await uow.patients.get(patient_id)


async def read_logged(
    uow: UnitOfWork, actor: Actor, patient_id: PatientId, what: str, clock: Clock, context: RequestContext
) -> None:
    """Write the patient access log's row for a read of ``what`` of the patient's record (LGPD).

    PENDING: the access log's port (``uow.patient_access``) is not on main yet; until it is, this writes
    nothing. Every read path of the clinical record already calls it, inside its unit of work."""
    del uow, actor, patient_id, what, clock, context
