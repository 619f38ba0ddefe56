"""Taking a patient's anamnesis: answers to one template version, a draft until signed, then read-only.

A response is always validated against the version it answers, never against the template's newest one:
a draft started on version 1 stays on version 1 when version 2 is published. Drafts are checked for
types, ranges, choices, unknown and not-applicable answers; signing checks that every required question
shown is answered too. Whoever holds ``clinical:write`` may sign (the professional who reviews what a
nurse took, say); the signer is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.clinical.model import (
    AnamnesisId,
    AnamnesisResponse,
    AppointmentId,
    RecordSigned,
    RecordStatus,
    TemplateId,
    TemplateInactive,
    TemplateNotPublished,
    TemplateVersion,
)
from clinic_core.clinical.questionnaires import validate_answers
from clinic_core.clinical.records import may_write, patient_in_tenant, read_logged, scope_of
from clinic_core.clinical.timeline import TimelineEntry, TimelineEntryId, TimelineKind, summary_of
from clinic_core.patients.model import AccessAction, PatientId
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Permission


@dataclass(frozen=True, slots=True)
class AnamnesisView:
    """A response with the version it answers (its title and questions, to show the answers as asked)."""

    response: AnamnesisResponse
    version: TemplateVersion


def _timeline_entry(response: AnamnesisResponse, version: TemplateVersion) -> TimelineEntry:
    return TimelineEntry(
        tenant_id=response.tenant_id,
        id=TimelineEntryId(new_uuid()),
        patient_id=response.patient_id,
        occurred_at=response.created_at,
        kind=TimelineKind.ANAMNESIS,
        ref_id=response.id,
        summary=summary_of(version.title),
        status=response.status.value,
        actor_id=response.signed_by or response.created_by,
    )


async def _signed_audit(
    uow: UnitOfWork, actor: Actor, response: AnamnesisResponse, context: RequestContext
) -> None:
    assert response.signed_at is not None
    await uow.audit.add(
        AuditEvent.record(
            AuditAction.ANAMNESIS_SIGNED,
            tenant_id=actor.tenant_id,
            at=response.signed_at,
            context=context,
            actor_user_id=actor.user_id,
            target=AuditTarget("anamnesis", str(response.id)),
            patient_id=str(response.patient_id),
            template_id=str(response.template_id),
            version=response.version,
        )
    )


@dataclass(frozen=True, slots=True)
class StartAnamnesisCommand:
    actor: Actor
    patient_id: PatientId
    template_id: TemplateId
    answers: object
    """A JSON object of answers by question key (may be empty for a draft)."""
    appointment_id: AppointmentId | None = None
    sign: bool = False
    """Sign at once: every required question shown must then be answered."""
    context: RequestContext = NO_CONTEXT


class StartAnamnesis:
    """Answer the template's newest version for a patient, as a draft or signed at once."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: StartAnamnesisCommand
    ) -> Result[AnamnesisView, Forbidden | InvalidInput | NotFound | TemplateInactive | TemplateNotPublished]:
        actor = cmd.actor
        allowed = may_write(actor)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            patient = await patient_in_tenant(uow, cmd.actor, cmd.patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(cmd.patient_id)))
            template = await uow.anamnesis_templates.get(cmd.template_id)
            if template is None:
                return Failure(NotFound("anamnesis template", str(cmd.template_id)))
            if not template.active:
                return Failure(TemplateInactive())
            if template.latest_version == 0:
                return Failure(TemplateNotPublished())
            species = patient.species.value if patient.species is not None else None
            if template.applies_to.species and species not in template.applies_to.species:
                return Failure(
                    InvalidInput.of(
                        "template_id",
                        "not_applicable",
                        "this template is for " + ", ".join(sorted(template.applies_to.species)),
                    )
                )
            version = await uow.anamnesis_templates.get_version(template.id, template.latest_version)
            assert version is not None, "a template's latest version exists"
            answers = validate_answers(version.questionnaire, cmd.answers, complete=cmd.sign)
            if isinstance(answers, Failure):
                return answers
            now = self._clock.now()
            response = AnamnesisResponse(
                tenant_id=actor.tenant_id,
                id=AnamnesisId(new_uuid()),
                patient_id=cmd.patient_id,
                template_id=template.id,
                version=version.number,
                appointment_id=cmd.appointment_id,
                answers=answers.unwrap(),
                status=RecordStatus.DRAFT,
                created_by=actor.user_id,
                created_at=now,
                updated_at=now,
            )
            if cmd.sign:
                response.sign(actor.user_id, now)
                await _signed_audit(uow, actor, response, cmd.context)
            await uow.anamnesis_responses.add(response)
            await uow.timeline.record(_timeline_entry(response, version))
            await uow.commit()
        return Success(AnamnesisView(response, version))


@dataclass(frozen=True, slots=True)
class UpdateAnamnesisCommand:
    actor: Actor
    anamnesis_id: AnamnesisId
    answers: object
    """Every answer of the draft (what is not given is no longer answered)."""


class UpdateAnamnesis:
    """Replace a draft's answers. A signed response never changes (``record_signed``)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: UpdateAnamnesisCommand
    ) -> Result[AnamnesisView, Forbidden | InvalidInput | NotFound | RecordSigned]:
        allowed = may_write(cmd.actor)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(cmd.actor)) as uow:
            found = await _view(uow, cmd.actor, cmd.anamnesis_id)
            if isinstance(found, Failure):
                return found
            response, version = found.unwrap().response, found.unwrap().version
            if response.is_signed:
                return Failure(RecordSigned())
            answers = validate_answers(version.questionnaire, cmd.answers, complete=False)
            if isinstance(answers, Failure):
                return answers
            replaced = response.replace_answers(answers.unwrap(), self._clock.now())
            if isinstance(replaced, Failure):
                return replaced
            if not await uow.anamnesis_responses.save(response):
                return Failure(RecordSigned())
            await uow.commit()
        return Success(AnamnesisView(response, version))


@dataclass(frozen=True, slots=True)
class SignAnamnesisCommand:
    actor: Actor
    anamnesis_id: AnamnesisId
    context: RequestContext = NO_CONTEXT


class SignAnamnesis:
    """Sign a draft: its answers must be complete for its version. From then on it is read-only."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: SignAnamnesisCommand
    ) -> Result[AnamnesisView, Forbidden | InvalidInput | NotFound | RecordSigned]:
        actor = cmd.actor
        allowed = may_write(actor)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            found = await _view(uow, cmd.actor, cmd.anamnesis_id)
            if isinstance(found, Failure):
                return found
            response, version = found.unwrap().response, found.unwrap().version
            if response.is_signed:
                return Failure(RecordSigned())
            complete = validate_answers(version.questionnaire, dict(response.answers), complete=True)
            if isinstance(complete, Failure):
                return complete
            signed = response.sign(actor.user_id, self._clock.now())
            if isinstance(signed, Failure):
                return signed
            if not await uow.anamnesis_responses.save(response):
                return Failure(RecordSigned())
            await uow.timeline.record(_timeline_entry(response, version))
            await _signed_audit(uow, actor, response, cmd.context)
            await uow.commit()
        return Success(AnamnesisView(response, version))


async def _view(uow: UnitOfWork, actor: Actor, anamnesis_id: AnamnesisId) -> Result[AnamnesisView, NotFound]:
    """The anamnesis, if the actor sees its patient (else, like another tenant's id, not found)."""
    response = await uow.anamnesis_responses.get(anamnesis_id)
    if response is None or await patient_in_tenant(uow, actor, response.patient_id) is None:
        return Failure(NotFound("anamnesis", str(anamnesis_id)))
    version = await uow.anamnesis_templates.get_version(response.template_id, response.version)
    assert version is not None, "a response's version exists (foreign key)"
    return Success(AnamnesisView(response, version))


@dataclass(frozen=True, slots=True)
class GetAnamnesisQuery:
    actor: Actor
    anamnesis_id: AnamnesisId
    context: RequestContext = NO_CONTEXT


class GetAnamnesis:
    """Read one anamnesis: a read of the patient's record, written to the patient's access log."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, query: GetAnamnesisQuery) -> Result[AnamnesisView, Forbidden | NotFound]:
        allowed = query.actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(query.actor)) as uow:
            found = await _view(uow, query.actor, query.anamnesis_id)
            if isinstance(found, Failure):
                return found
            view = found.unwrap()
            await read_logged(
                uow, query.actor, view.response.patient_id, AccessAction.ANAMNESIS, self._clock, query.context
            )
            await uow.commit()
        return Success(view)


@dataclass(frozen=True, slots=True)
class ListAnamnesesQuery:
    actor: Actor
    patient_id: PatientId
    page: PageRequest
    context: RequestContext = NO_CONTEXT


class ListPatientAnamneses:
    """A patient's anamneses, newest first, each with the version it answers. Logged as a read."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, query: ListAnamnesesQuery) -> Result[Page[AnamnesisView], Forbidden | NotFound]:
        allowed = query.actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(query.actor)) as uow:
            if await patient_in_tenant(uow, query.actor, query.patient_id) is None:
                return Failure(NotFound("patient", str(query.patient_id)))
            page = await uow.anamnesis_responses.list_for_patient(query.patient_id, query.page)
            versions: dict[tuple[TemplateId, int], TemplateVersion] = {}
            for response in page.items:
                key = (response.template_id, response.version)
                if key not in versions:
                    version = await uow.anamnesis_templates.get_version(*key)
                    assert version is not None, "a response's version exists (foreign key)"
                    versions[key] = version
            await read_logged(
                uow, query.actor, query.patient_id, AccessAction.ANAMNESES, self._clock, query.context
            )
            await uow.commit()
        views = [AnamnesisView(r, versions[(r.template_id, r.version)]) for r in page.items]
        return Success(Page(views, page.next_after))
