"""Anonymising a patient on request (LGPD art. 18 IV and VI), keeping what the law requires clinics to keep.

Irreversible. The identity goes (the patients feature erases it and the search terms, so nothing of it
can be found again); the patient row stays as a neutral stub, so that the access log, the audit trail and
the clinical records kept for retention still point at something. Clinical records are kept, de-identified,
while inside the retention window (their last entry plus the clinic's ``clinical_record_retention_years``;
LGPD art. 16 I, CFM Resolução 1.821/2007, Lei 13.787/2018 art. 6); outside it they are erased with the
rest. Consents granted are withdrawn, and every decision loses its free text and network details. See
docs/PRIVACY.md for the whole list and the reasons.

Running it again on an anonymised patient is allowed and re-applies the retention rule: records whose
window has closed since are erased then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.access.model import ApiKeyNotAllowed
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget, DetailValue
from clinic_core.privacy.consents import consent_audit_event
from clinic_core.privacy.model import (
    ConsentChannel,
    ConsentDecision,
    ConsentId,
    ConsentRecord,
    PatientAnonymised,
    order_history,
)
from clinic_core.privacy.ports import AccessAction, AnonymisationPlan, AnonymisationStep, PatientGateway
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import FieldError, Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import new_uuid
from clinic_core.shared.values import has_control_characters
from clinic_core.tenancy.permissions import Permission

REASON_MAX = 300


def years_after(moment: datetime, years: int) -> datetime:
    """The same instant ``years`` later; 29 February falls back to the 28th in a year without one."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def check_steps(steps: Sequence[AnonymisationStep]) -> tuple[AnonymisationStep, ...]:
    found = tuple(steps)
    names = [s.name for s in found]
    clashes = sorted({n for n in names if names.count(n) > 1} | ({"patient", "consents"} & set(names)))
    if clashes:
        raise ValueError(f"anonymisation steps clash on {clashes}")
    return found


@dataclass(frozen=True, slots=True)
class AnonymisePatientCommand:
    actor: Actor
    patient_id: UUID
    reason: str
    """Why (the request's reference, say): recorded in the audit trail. Never the patient's name."""
    confirm: str
    """The patient's id again: anonymisation cannot be undone, so the caller says which one, twice."""
    context: RequestContext = NO_CONTEXT


@dataclass(frozen=True, slots=True)
class AnonymisationOutcome:
    patient_id: UUID
    anonymised_at: datetime
    clinical_records_kept_until: datetime | None
    retention_years: int
    counts: Mapping[str, int] = field(default_factory=dict)
    """What each part did, as ``<part>.<what>``: ``patient.search_terms_deleted``, ``consents.redacted``."""


def _validate(cmd: AnonymisePatientCommand) -> Result[str, InvalidInput]:
    errors: list[FieldError] = []
    reason = " ".join(cmd.reason.split())
    if not reason:
        errors.append(FieldError("reason", "required", "say why (the request's reference, say)"))
    elif len(reason) > REASON_MAX or has_control_characters(reason):
        errors.append(
            FieldError("reason", "invalid_reason", f"at most {REASON_MAX} characters, no control characters")
        )
    if cmd.confirm.strip().lower() != str(cmd.patient_id):
        errors.append(
            FieldError(
                "confirm",
                "confirmation_required",
                "anonymisation cannot be undone: repeat the patient's id in 'confirm'",
            )
        )
    return Failure(InvalidInput(tuple(errors))) if errors else Success(reason)


class AnonymisePatient:
    """Erase a patient's identity for good (``patients:anonymise``: owners and admins; people only)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        patients: PatientGateway,
        steps: Sequence[AnonymisationStep] = (),
    ) -> None:
        self._uow, self._clock, self._patients = uow, clock, patients
        self._steps = check_steps(steps)

    async def __call__(
        self, cmd: AnonymisePatientCommand
    ) -> Result[AnonymisationOutcome, Forbidden | InvalidInput | NotFound]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_ANONYMISE)
        if isinstance(allowed, Failure):
            return allowed
        if actor.api_key_id is not None:
            return Failure(ApiKeyNotAllowed())
        validated = _validate(cmd)
        if isinstance(validated, Failure):
            return validated
        reason = validated.unwrap()
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            subject = await self._patients.find(uow, actor, cmd.patient_id)
            if subject is None:
                return Failure(NotFound("patient", str(cmd.patient_id)))
            retention = (await uow.privacy_settings.get()).clinical_record_retention_years
            last_entry: datetime | None = None
            for step in self._steps:
                entry = await step.last_clinical_entry_at(uow, subject.id)
                if entry is not None and (last_entry is None or entry > last_entry):
                    last_entry = entry
            kept_until = years_after(last_entry, retention) if last_entry is not None else None
            if kept_until is not None and kept_until <= now:
                kept_until = None
            plan = AnonymisationPlan(
                patient_id=subject.id,
                at=now,
                clinical_records_kept_until=kept_until,
                actor_user_id=actor.user_id,
            )
            counts: dict[str, int] = {}
            for name, done in (
                ("consents", await self._consents(uow, plan, cmd.context)),
                (
                    "patient",
                    await self._patients.anonymise(
                        uow,
                        plan,
                        PatientAnonymised(
                            tenant_id=actor.tenant_id,
                            occurred_at=now,
                            patient_id=subject.id,
                            anonymised_by=actor.user_id,
                            clinical_records_kept_until=kept_until,
                        ),
                    ),
                ),
            ):
                counts.update({f"{name}.{key}": value for key, value in done.items()})
            for step in self._steps:
                done = await step.apply(uow, plan)
                counts.update({f"{step.name}.{key}": value for key, value in done.items()})
            await self._patients.record_access(
                uow, actor, subject.id, AccessAction.ANONYMISE, cmd.context, now
            )
            details: dict[str, DetailValue] = {
                "reason": reason,
                "repeated": subject.anonymised,
                "retention_years": retention,
                "last_clinical_entry_at": last_entry.isoformat() if last_entry else None,
                "clinical_records_kept_until": kept_until.isoformat() if kept_until else None,
                **counts,
            }
            event = AuditEvent.record(
                AuditAction.PATIENT_ANONYMISED,
                tenant_id=actor.tenant_id,
                at=now,
                context=cmd.context,
                actor_user_id=actor.user_id,
                target=AuditTarget("patient", str(subject.id)),
            )
            await uow.audit.add(replace(event, details=details))
            await uow.commit()
        return Success(AnonymisationOutcome(subject.id, now, kept_until, retention, counts))

    @staticmethod
    async def _consents(uow: UnitOfWork, plan: AnonymisationPlan, context: RequestContext) -> dict[str, int]:
        """Withdraw what is still granted (nobody is left to contact, nor to share about), then clear the
        free text and network details of every decision. The decisions themselves stay: they prove what
        the clinic was allowed to do, and when (LGPD art. 8 §2)."""
        history = order_history(await uow.consents.of_patient(plan.patient_id))
        withdrawn = 0
        for granted in (r for r in history.current if r.granted):
            record = ConsentRecord(
                tenant_id=granted.tenant_id,
                id=ConsentId(new_uuid()),
                patient_id=plan.patient_id,
                kind=granted.kind,
                decision=ConsentDecision.WITHDRAWN,
                version=granted.version,
                recorded_at=plan.at,
                channel=ConsentChannel.SYSTEM,
                recorded_by_user_id=plan.actor_user_id,
                redacted_at=plan.at,
            )
            await uow.consents.add(record)
            await uow.audit.add(consent_audit_event(record, context))
            withdrawn += 1
        redacted = await uow.consents.redact(plan.patient_id, plan.at)
        return {"withdrawn": withdrawn, "redacted": redacted}
