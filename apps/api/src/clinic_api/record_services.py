"""The use cases of the clinical record, built together: one field of ``AppServices``."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.clinical.anamneses import (
    GetAnamnesis,
    ListPatientAnamneses,
    SignAnamnesis,
    StartAnamnesis,
    UpdateAnamnesis,
)
from clinic_core.clinical.history import GetPatientTimeline
from clinic_core.clinical.notes import AmendNote, GetNote, ListPatientNotes, SignNote, WriteNote
from clinic_core.clinical.templates import (
    CreateTemplate,
    GetTemplate,
    GetTemplateVersion,
    ListTemplates,
    ListTemplateVersions,
    PublishTemplateVersion,
    UpdateTemplate,
)
from clinic_core.shared.clock import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicalRecordServices:
    create_template: CreateTemplate
    update_template: UpdateTemplate
    publish_template_version: PublishTemplateVersion
    get_template: GetTemplate
    list_templates: ListTemplates
    get_template_version: GetTemplateVersion
    list_template_versions: ListTemplateVersions
    start_anamnesis: StartAnamnesis
    update_anamnesis: UpdateAnamnesis
    sign_anamnesis: SignAnamnesis
    get_anamnesis: GetAnamnesis
    list_anamneses: ListPatientAnamneses
    write_note: WriteNote
    sign_note: SignNote
    amend_note: AmendNote
    get_note: GetNote
    list_notes: ListPatientNotes
    get_timeline: GetPatientTimeline

    @classmethod
    def build(cls, uow: UnitOfWorkFactory, clock: Clock) -> ClinicalRecordServices:
        return cls(
            create_template=CreateTemplate(uow, clock),
            update_template=UpdateTemplate(uow, clock),
            publish_template_version=PublishTemplateVersion(uow, clock),
            get_template=GetTemplate(uow),
            list_templates=ListTemplates(uow),
            get_template_version=GetTemplateVersion(uow),
            list_template_versions=ListTemplateVersions(uow),
            start_anamnesis=StartAnamnesis(uow, clock),
            update_anamnesis=UpdateAnamnesis(uow, clock),
            sign_anamnesis=SignAnamnesis(uow, clock),
            get_anamnesis=GetAnamnesis(uow, clock),
            list_anamneses=ListPatientAnamneses(uow, clock),
            write_note=WriteNote(uow, clock),
            sign_note=SignNote(uow, clock),
            amend_note=AmendNote(uow, clock),
            get_note=GetNote(uow, clock),
            list_notes=ListPatientNotes(uow, clock),
            get_timeline=GetPatientTimeline(uow, clock),
        )
