"""Anamnesis templates: a clinic's questionnaires, published as immutable versions.

Templates are clinical content (what the clinic asks its patients, and when a question is asked), so
they take the clinical permissions: ``clinical:read`` to read them, ``clinical:write`` to write them. A
template's name, applicability and active flag can change at any time; its questions change only by
publishing a new version, which leaves the earlier versions, and the answers given to them, untouched.
Writing is a person's act (``published_by``): API keys may read templates, not write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import UniqueViolation, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.clinical.model import (
    AnamnesisTemplate,
    TemplateId,
    TemplateVersion,
    VersionConflict,
    parse_applicability,
    parse_template_name,
)
from clinic_core.clinical.ports import TemplateFilter
from clinic_core.clinical.questionnaires import Questionnaire, parse_questionnaire
from clinic_core.clinical.records import may_write, scope_of
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Permission


@dataclass(frozen=True, slots=True)
class TemplateDetail:
    template: AnamnesisTemplate
    latest: TemplateVersion | None
    """The newest published version; None while none is."""


async def publish(
    uow: UnitOfWork,
    actor: Actor,
    template: AnamnesisTemplate,
    questionnaire: Questionnaire,
    at_clock: Clock,
    context: RequestContext,
) -> TemplateVersion:
    """Add the template's next version and record it in the audit trail (inside the caller's unit of
    work; a concurrent publication of the same number raises ``UniqueViolation`` from here or commit)."""
    now = at_clock.now()
    version = TemplateVersion(
        tenant_id=template.tenant_id,
        template_id=template.id,
        number=template.next_version(),
        title=template.name,
        questionnaire=questionnaire,
        published_at=now,
        published_by=actor.user_id,
    )
    template.latest_version, template.updated_at = version.number, now
    await uow.anamnesis_templates.add_version(version)
    await uow.audit.add(
        AuditEvent.record(
            AuditAction.ANAMNESIS_TEMPLATE_PUBLISHED,
            tenant_id=actor.tenant_id,
            at=now,
            context=context,
            actor_user_id=actor.user_id,
            target=AuditTarget("anamnesis_template", str(template.id)),
            version=version.number,
            questions=len(questionnaire.questions),
        )
    )
    return version


@dataclass(frozen=True, slots=True)
class CreateTemplateCommand:
    actor: Actor
    name: str
    procedure_ids: frozenset[UUID] = frozenset()
    species: frozenset[str] = frozenset()
    sections: object = None
    """A questionnaire as JSON (a list of sections): published at once as version 1. None: no version yet."""
    context: RequestContext = NO_CONTEXT


class CreateTemplate:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: CreateTemplateCommand) -> Result[TemplateDetail, Forbidden | InvalidInput]:
        allowed = may_write(cmd.actor)
        if isinstance(allowed, Failure):
            return allowed
        name = parse_template_name(cmd.name)
        applies_to = parse_applicability(cmd.procedure_ids, cmd.species)
        questionnaire = parse_questionnaire(cmd.sections) if cmd.sections is not None else Success(None)
        invalid = collect_invalid(name, applies_to, questionnaire)
        if invalid is not None:
            return Failure(invalid)
        now = self._clock.now()
        template = AnamnesisTemplate(
            tenant_id=cmd.actor.tenant_id,
            id=TemplateId(new_uuid()),
            name=name.unwrap(),
            applies_to=applies_to.unwrap(),
            active=True,
            latest_version=0,
            created_at=now,
            updated_at=now,
        )
        async with self._uow(scope_of(cmd.actor)) as uow:
            await uow.anamnesis_templates.add(template)
            latest = None
            parsed = questionnaire.unwrap()
            if parsed is not None:
                latest = await publish(uow, cmd.actor, template, parsed, self._clock, cmd.context)
                await uow.anamnesis_templates.save(template)
            await uow.commit()
        return Success(TemplateDetail(template, latest))


@dataclass(frozen=True, slots=True)
class UpdateTemplateCommand:
    """Only the fields given change."""

    actor: Actor
    template_id: TemplateId
    name: str | None = None
    procedure_ids: frozenset[UUID] | None = None
    species: frozenset[str] | None = None
    active: bool | None = None


class UpdateTemplate:
    """Rename a template, change where it applies, or (de)activate it. Its versions never change here."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: UpdateTemplateCommand
    ) -> Result[TemplateDetail, Forbidden | InvalidInput | NotFound]:
        allowed = may_write(cmd.actor)
        if isinstance(allowed, Failure):
            return allowed
        name = parse_template_name(cmd.name) if cmd.name is not None else Success(None)
        async with self._uow(scope_of(cmd.actor)) as uow:
            template = await uow.anamnesis_templates.get(cmd.template_id)
            if template is None:
                return Failure(NotFound("anamnesis template", str(cmd.template_id)))
            current = template.applies_to
            applies_to = parse_applicability(
                current.procedure_ids if cmd.procedure_ids is None else cmd.procedure_ids,
                current.species if cmd.species is None else cmd.species,
            )
            invalid = collect_invalid(name, applies_to)
            if invalid is not None:
                return Failure(invalid)
            new_name = name.unwrap()
            latest = await _latest(uow, template)
            changed = (
                (new_name is not None and new_name != template.name)
                or applies_to.unwrap() != current
                or (cmd.active is not None and cmd.active != template.active)
            )
            if changed:
                template.name = new_name or template.name
                template.applies_to = applies_to.unwrap()
                template.active = template.active if cmd.active is None else cmd.active
                template.updated_at = self._clock.now()
                await uow.anamnesis_templates.save(template)
                await uow.commit()
        return Success(TemplateDetail(template, latest))


async def _latest(uow: UnitOfWork, template: AnamnesisTemplate) -> TemplateVersion | None:
    if template.latest_version == 0:
        return None
    return await uow.anamnesis_templates.get_version(template.id, template.latest_version)


@dataclass(frozen=True, slots=True)
class PublishVersionCommand:
    actor: Actor
    template_id: TemplateId
    sections: object
    context: RequestContext = NO_CONTEXT


class PublishTemplateVersion:
    """Publish the template's next version. The versions before it stay exactly as they were."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: PublishVersionCommand
    ) -> Result[TemplateVersion, Forbidden | InvalidInput | NotFound | VersionConflict]:
        allowed = may_write(cmd.actor)
        if isinstance(allowed, Failure):
            return allowed
        questionnaire = parse_questionnaire(cmd.sections)
        if isinstance(questionnaire, Failure):
            return questionnaire
        async with self._uow(scope_of(cmd.actor)) as uow:
            template = await uow.anamnesis_templates.get(cmd.template_id)
            if template is None:
                return Failure(NotFound("anamnesis template", str(cmd.template_id)))
            try:
                version = await publish(
                    uow, cmd.actor, template, questionnaire.unwrap(), self._clock, cmd.context
                )
                await uow.anamnesis_templates.save(template)
                await uow.commit()
            except UniqueViolation:
                return Failure(VersionConflict())
        return Success(version)


class GetTemplate:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, template_id: TemplateId
    ) -> Result[TemplateDetail, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            template = await uow.anamnesis_templates.get(template_id)
            if template is None:
                return Failure(NotFound("anamnesis template", str(template_id)))
            return Success(TemplateDetail(template, await _latest(uow, template)))


class ListTemplates:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, page: PageRequest, where: TemplateFilter
    ) -> Result[Page[AnamnesisTemplate], Forbidden]:
        allowed = actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            return Success(await uow.anamnesis_templates.search(page, where))


class GetTemplateVersion:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, template_id: TemplateId, number: int
    ) -> Result[TemplateVersion, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            version = await uow.anamnesis_templates.get_version(template_id, number)
        if version is None:
            return Failure(NotFound("anamnesis template version", f"{template_id} v{number}"))
        return Success(version)


class ListTemplateVersions:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, template_id: TemplateId
    ) -> Result[list[TemplateVersion], Forbidden | NotFound]:
        allowed = actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            if await uow.anamnesis_templates.get(template_id) is None:
                return Failure(NotFound("anamnesis template", str(template_id)))
            return Success(await uow.anamnesis_templates.versions(template_id))
