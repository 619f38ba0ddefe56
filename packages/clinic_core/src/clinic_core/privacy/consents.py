"""Recording and reading a patient's consents, by staff or by the patient (or guardian) in the portal."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.privacy.model import (
    API_KEY_CHANNELS,
    STAFF_CHANNELS,
    AlreadyAnonymised,
    ConsentChannel,
    ConsentDecision,
    ConsentHistory,
    ConsentId,
    ConsentKind,
    ConsentRecord,
    order_history,
    parse_evidence,
    parse_version,
)
from clinic_core.privacy.ports import AccessAction, PatientGateway, PatientSubject
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Permission


async def reach_patient(
    gateway: PatientGateway, uow: UnitOfWork, actor: Actor, patient_id: UUID, *, portal: bool
) -> PatientSubject | None:
    """The patient as ``actor`` may reach them: as staff (the gateway's rules), or in the portal, only a
    patient whose portal users include the actor. None for anybody else: they learn nothing, not even
    that the patient exists."""
    subject = await gateway.find(uow, actor, patient_id)
    if subject is None:
        return None
    if portal and actor.user_id not in subject.portal_user_ids:
        return None
    return subject


def _not_found(patient_id: UUID) -> Failure[NotFound]:
    return Failure(NotFound("patient", str(patient_id)))


@dataclass(frozen=True, slots=True)
class RecordConsentCommand:
    actor: Actor
    patient_id: UUID
    kind: str
    decision: ConsentDecision
    version: str
    channel: ConsentChannel | None = None
    """Staff: ``in_person`` (the default) or ``import``; an API key: ``api`` (the default) or ``import``.
    In the portal it is always ``portal``."""
    evidence: str | None = None
    portal: bool = False
    """The patient or a guardian, for themself, through the portal: ownership decides, not a permission."""
    context: RequestContext = NO_CONTEXT


def _channel(cmd: RecordConsentCommand) -> Result[ConsentChannel, InvalidInput]:
    if cmd.portal:
        if cmd.channel not in (None, ConsentChannel.PORTAL):
            return Failure(
                InvalidInput.of("channel", "invalid_channel", "the portal records channel 'portal'")
            )
        return Success(ConsentChannel.PORTAL)
    by_key = cmd.actor.api_key_id is not None
    allowed = API_KEY_CHANNELS if by_key else STAFF_CHANNELS
    channel = cmd.channel or (ConsentChannel.API if by_key else ConsentChannel.IN_PERSON)
    if channel not in allowed:
        names = ", ".join(sorted(c.value for c in allowed))
        return Failure(InvalidInput.of("channel", "invalid_channel", f"here the channel is one of: {names}"))
    return Success(channel)


class RecordConsent:
    """Append a decision (granted or withdrawn) to a patient's consents, and to the audit trail.

    Staff need ``patients:write``; a patient or guardian records their own in the portal. A withdrawal is
    recorded like a grant, as easily (LGPD art. 8 §5). Nothing is recorded about an anonymised patient.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, patients: PatientGateway) -> None:
        self._uow, self._clock, self._patients = uow, clock, patients

    async def __call__(
        self, cmd: RecordConsentCommand
    ) -> Result[ConsentRecord, Forbidden | InvalidInput | NotFound | AlreadyAnonymised]:
        actor = cmd.actor
        if not cmd.portal:
            allowed = actor.authorize(Permission.PATIENTS_WRITE)
            if isinstance(allowed, Failure):
                return allowed
        kind, version, evidence, channel = (
            ConsentKind.parse(cmd.kind),
            parse_version(cmd.version),
            parse_evidence(cmd.evidence),
            _channel(cmd),
        )
        invalid = collect_invalid(kind, version, evidence, channel)
        if invalid is not None:
            return Failure(invalid)
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            subject = await reach_patient(self._patients, uow, actor, cmd.patient_id, portal=cmd.portal)
            if subject is None:
                return _not_found(cmd.patient_id)
            if subject.anonymised:
                return Failure(AlreadyAnonymised())
            record = ConsentRecord(
                tenant_id=actor.tenant_id,
                id=ConsentId(new_uuid()),
                patient_id=subject.id,
                kind=kind.unwrap(),
                decision=cmd.decision,
                version=version.unwrap(),
                recorded_at=now,
                channel=channel.unwrap(),
                recorded_by_user_id=None if actor.api_key_id else actor.user_id,
                recorded_by_api_key_id=actor.api_key_id,
                ip=cmd.context.ip,
                user_agent=cmd.context.user_agent,
                evidence=evidence.unwrap(),
            )
            await uow.consents.add(record)
            await uow.audit.add(consent_audit_event(record, cmd.context))
            await uow.commit()
        return Success(record)


def consent_audit_event(record: ConsentRecord, context: RequestContext) -> AuditEvent:
    """The audit event of a recorded decision: ids and the decision, never the evidence note."""
    return AuditEvent.record(
        AuditAction.CONSENT_RECORDED,
        tenant_id=record.tenant_id,
        at=record.recorded_at,
        context=context,
        actor_user_id=record.recorded_by_user_id,
        actor_api_key_id=record.recorded_by_api_key_id,
        target=AuditTarget("patient", str(record.patient_id)),
        consent_id=str(record.id),
        kind=record.kind,
        decision=record.decision.value,
        version=record.version,
        channel=record.channel.value,
    )


@dataclass(frozen=True, slots=True)
class ListConsentsQuery:
    actor: Actor
    patient_id: UUID
    portal: bool = False
    context: RequestContext = NO_CONTEXT


class ListConsents:
    """A patient's consent decisions (oldest first) and their current state. Staff need ``patients:read``;
    a patient or guardian reads their own in the portal. The read is written to the patient's access log."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, patients: PatientGateway) -> None:
        self._uow, self._clock, self._patients = uow, clock, patients

    async def __call__(self, query: ListConsentsQuery) -> Result[ConsentHistory, Forbidden | NotFound]:
        actor = query.actor
        if not query.portal:
            allowed = actor.authorize(Permission.PATIENTS_READ)
            if isinstance(allowed, Failure):
                return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            subject = await reach_patient(self._patients, uow, actor, query.patient_id, portal=query.portal)
            if subject is None:
                return _not_found(query.patient_id)
            history = order_history(await uow.consents.of_patient(subject.id))
            await self._patients.record_access(
                uow, actor, subject.id, AccessAction.CONSENTS_READ, query.context, self._clock.now()
            )
            await uow.commit()
        return Success(history)
