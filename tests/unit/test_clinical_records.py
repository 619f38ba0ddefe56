"""The clinical record's use cases on the in-memory fakes: template versions, anamneses, notes and their
amendments, the timeline, permissions, other clinics' ids, and the access log of every read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from returns.result import Failure, Result, Success

from clinic_core.access.model import ApiKeyNotAllowed
from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditEvent
from clinic_core.clinical.anamneses import (
    GetAnamnesis,
    GetAnamnesisQuery,
    ListAnamnesesQuery,
    ListPatientAnamneses,
    SignAnamnesis,
    SignAnamnesisCommand,
    StartAnamnesis,
    StartAnamnesisCommand,
    UpdateAnamnesis,
    UpdateAnamnesisCommand,
)
from clinic_core.clinical.history import GetPatientTimeline, TimelineRequest
from clinic_core.clinical.model import (
    AnamnesisId,
    ClinicalNote,
    NoteId,
    NoteType,
    NotTheAuthor,
    RecordSigned,
    RecordStatus,
    TemplateId,
    TemplateInactive,
    TemplateNotPublished,
)
from clinic_core.clinical.notes import (
    AmendNote,
    AmendNoteCommand,
    GetNote,
    GetNoteQuery,
    ListNotesQuery,
    ListPatientNotes,
    SignNote,
    SignNoteCommand,
    WriteNote,
    WriteNoteCommand,
)
from clinic_core.clinical.ports import TemplateFilter
from clinic_core.clinical.templates import (
    CreateTemplate,
    CreateTemplateCommand,
    GetTemplate,
    GetTemplateVersion,
    ListTemplates,
    ListTemplateVersions,
    PublishTemplateVersion,
    PublishVersionCommand,
    TemplateDetail,
    UpdateTemplate,
    UpdateTemplateCommand,
)
from clinic_core.clinical.timeline import TimelineEntry, TimelineEntryId, TimelineKind, TimelinePosition
from clinic_core.patients.model import AccessAction, Patient, PatientId, Species
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import ApiKeyId, TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Slug
from clinic_core.tenancy.model import Plan, Tenant, TenantStatus
from clinic_core.tenancy.permissions import Role
from clinic_core.testing import InMemoryUnitOfWorkFactory
from clinic_core.testing.patients import a_person, an_animal
from tests.unit.clinical_world import habits_and_health, short_form

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def person(tenant: TenantId, *roles: Role) -> Actor:
    return Actor(user_id=UserId(new_uuid()), tenant_id=tenant, roles=frozenset(roles), unit_ids=frozenset())


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    tenant: TenantId
    other_tenant: TenantId
    doctor: Actor
    nurse: Actor
    receptionist: Actor
    patient: Patient
    dog: Patient
    foreign_patient: Patient

    def tick(self, seconds: int = 60) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def audit(self, action: AuditAction) -> list[AuditEvent]:
        return [e for e in self.uow.store.tables.audit_events.values() if e.action is action]

    async def template(
        self, sections: object = None, *, actor: Actor | None = None, **kw: Any
    ) -> TemplateDetail:
        created = await CreateTemplate(self.uow, self.clock)(
            CreateTemplateCommand(
                actor or self.doctor, "Anamnese geral", sections=sections or habits_and_health(), **kw
            )
        )
        assert isinstance(created, Success), created
        detail: TemplateDetail = created.unwrap()
        return detail

    async def start(
        self,
        template_id: TemplateId,
        answers: object,
        *,
        sign: bool = False,
        actor: Actor | None = None,
        patient: Patient | None = None,
    ) -> Result[Any, Any]:
        return await StartAnamnesis(self.uow, self.clock)(
            StartAnamnesisCommand(
                actor or self.nurse, (patient or self.patient).id, template_id, answers, sign=sign
            )
        )

    async def note(
        self, body: str = "Paciente relata melhora.", *, sign: bool = False, actor: Actor | None = None
    ) -> ClinicalNote:
        written = await WriteNote(self.uow, self.clock)(
            WriteNoteCommand(actor or self.doctor, self.patient.id, "evolution", body, sign=sign)
        )
        assert isinstance(written, Success), written
        note: ClinicalNote = written.unwrap()
        return note

    async def amend(
        self, note_id: NoteId, body: str, *, actor: Actor | None = None, sign: bool = False
    ) -> Result[Any, Any]:
        return await AmendNote(self.uow, self.clock)(
            AmendNoteCommand(actor or self.doctor, note_id, body, sign=sign)
        )

    async def timeline(
        self, *kinds: str, cursor: str | None = None, limit: int | None = None, actor: Actor | None = None
    ) -> Result[Any, Any]:
        return await GetPatientTimeline(self.uow, self.clock)(
            TimelineRequest(actor or self.doctor, self.patient.id, frozenset(kinds), cursor, limit)
        )


@pytest.fixture
async def world() -> World:
    uow, clock = InMemoryUnitOfWorkFactory(), FixedClock(T0)
    tenant, other = TenantId(new_uuid()), TenantId(new_uuid())
    patient, dog, foreign = (
        a_person(tenant),
        an_animal(tenant, species=Species.DOG),
        a_person(other, "Outra Pessoa"),
    )
    for owner, p in ((tenant, patient), (tenant, dog), (other, foreign)):
        async with uow(Scope(tenant_id=owner)) as w:
            await w.patients.add(p)
            await w.commit()
    return World(
        uow,
        clock,
        tenant,
        other,
        person(tenant, Role.PROFESSIONAL),
        person(tenant, Role.NURSE),
        person(tenant, Role.RECEPTIONIST),
        patient,
        dog,
        foreign,
    )


# --- templates and versions ---------------------------------------------------------------------------------


async def test_answers_to_version_1_stay_valid_and_unchanged_after_version_2(world: World) -> None:
    detail = await world.template()
    template_id = detail.template.id
    assert detail.latest is not None
    assert detail.latest.number == 1
    v1_answers = {"smoker": True, "cigarettes_per_day": 10, "pain": 4}
    first = (await world.start(template_id, v1_answers, sign=True)).unwrap()
    draft = (await world.start(template_id, {"smoker": False})).unwrap()

    # Version 2 drops "smoker" and asks something else, required.
    world.tick()
    published = await PublishTemplateVersion(world.uow, world.clock)(
        PublishVersionCommand(world.doctor, template_id, short_form())
    )
    assert published.unwrap().number == 2

    # The signed response still reads as it was, under version 1's questions.
    again = (
        await GetAnamnesis(world.uow, world.clock)(GetAnamnesisQuery(world.doctor, first.response.id))
    ).unwrap()
    assert again.response.version == 1
    assert again.response.answers == {"smoker": True, "cigarettes_per_day": 10, "pain": 4}
    assert [q.key for q in again.version.questionnaire.questions][:2] == ["smoker", "cigarettes_per_day"]
    # The v1 draft is still validated against version 1 (version 2 has no "smoker"), and signs.
    updated = await UpdateAnamnesis(world.uow, world.clock)(
        UpdateAnamnesisCommand(world.nurse, draft.response.id, {"smoker": True, "cigarettes_per_day": 3})
    )
    assert updated.unwrap().response.answers == {"smoker": True, "cigarettes_per_day": 3}
    signed = await SignAnamnesis(world.uow, world.clock)(
        SignAnamnesisCommand(world.doctor, draft.response.id)
    )
    assert signed.unwrap().response.version == 1
    # A new response answers version 2: version 1's answers no longer fit it.
    refused = await world.start(template_id, v1_answers)
    assert isinstance(refused, Failure)
    assert {e.code for e in refused.failure().errors} == {"unknown_question"}
    second = (await world.start(template_id, {"complaint": "Dor de cabeça"}, sign=True)).unwrap()
    assert second.response.version == 2
    # Both versions remain, each as published.
    versions = (await ListTemplateVersions(world.uow)(world.doctor, template_id)).unwrap()
    assert [v.number for v in versions] == [2, 1]
    v1 = (await GetTemplateVersion(world.uow)(world.doctor, template_id, 1)).unwrap()
    assert v1.questionnaire == detail.latest.questionnaire
    assert v1.published_at == T0


async def test_a_version_keeps_the_title_it_was_published_under(world: World) -> None:
    detail = await world.template()
    renamed = await UpdateTemplate(world.uow, world.clock)(
        UpdateTemplateCommand(world.doctor, detail.template.id, name="Anamnese estética")
    )
    assert renamed.unwrap().template.name == "Anamnese estética"
    v2 = (
        await PublishTemplateVersion(world.uow, world.clock)(
            PublishVersionCommand(world.doctor, detail.template.id, short_form())
        )
    ).unwrap()
    v1 = (await GetTemplateVersion(world.uow)(world.doctor, detail.template.id, 1)).unwrap()
    assert (v1.title, v2.title) == ("Anamnese geral", "Anamnese estética")


async def test_publishing_is_audited_and_an_invalid_structure_publishes_nothing(world: World) -> None:
    detail = await world.template()
    bad = habits_and_health()
    bad[0]["questions"][0]["type"] = "essay"
    refused = await PublishTemplateVersion(world.uow, world.clock)(
        PublishVersionCommand(world.doctor, detail.template.id, bad)
    )
    assert isinstance(refused, Failure)
    assert isinstance(refused.failure(), InvalidInput)
    assert (
        await GetTemplate(world.uow)(world.doctor, detail.template.id)
    ).unwrap().template.latest_version == 1
    [published] = world.audit(AuditAction.ANAMNESIS_TEMPLATE_PUBLISHED)
    assert published.target is not None
    assert published.target.id == str(detail.template.id)
    assert published.details == {"version": 1, "questions": 10}
    assert published.actor_user_id == world.doctor.user_id


async def test_a_template_without_a_version_or_inactive_takes_no_response(world: World) -> None:
    empty = (
        await CreateTemplate(world.uow, world.clock)(CreateTemplateCommand(world.doctor, "Rascunho"))
    ).unwrap()
    assert empty.latest is None
    assert await world.start(empty.template.id, {}) == Failure(TemplateNotPublished())
    detail = await world.template()
    await UpdateTemplate(world.uow, world.clock)(
        UpdateTemplateCommand(world.doctor, detail.template.id, active=False)
    )
    assert await world.start(detail.template.id, {}) == Failure(TemplateInactive())


async def test_templates_for_a_species_are_listed_and_used_for_it_only(world: World) -> None:
    canine = await world.template(short_form(), species=frozenset({"Dog"}))
    anyone = await world.template(short_form())
    procedure = new_uuid()
    facial = await world.template(short_form(), procedure_ids=frozenset({procedure}))
    listed = await ListTemplates(world.uow)(world.doctor, PageRequest(), TemplateFilter(species="cat"))
    assert [t.id for t in listed.unwrap().items] == [anyone.template.id, facial.template.id]
    listed = await ListTemplates(world.uow)(
        world.doctor, PageRequest(), TemplateFilter(procedure_id=procedure)
    )
    assert [t.id for t in listed.unwrap().items] == [
        canine.template.id,
        anyone.template.id,
        facial.template.id,
    ]
    assert canine.template.applies_to.species == frozenset({"dog"})
    refused = await world.start(canine.template.id, {"complaint": "Coceira"})
    assert isinstance(refused, Failure)
    assert refused.failure().errors[0].field == "template_id"
    assert (await world.start(canine.template.id, {"complaint": "Coceira"}, patient=world.dog)).unwrap()


async def test_an_unknown_species_is_refused(world: World) -> None:
    refused = await CreateTemplate(world.uow, world.clock)(
        CreateTemplateCommand(world.doctor, "Aves", species=frozenset({"dragon"}), sections=short_form())
    )
    assert isinstance(refused, Failure)
    assert refused.failure().errors[0].code == "invalid_species"


# --- anamnesis responses ------------------------------------------------------------------------------------


async def test_signing_needs_the_required_questions_shown_and_locks_the_response(world: World) -> None:
    template_id = (await world.template()).template.id
    draft = (await world.start(template_id, {"smoker": True})).unwrap()
    sign = SignAnamnesis(world.uow, world.clock)
    missing = await sign(SignAnamnesisCommand(world.doctor, draft.response.id))
    assert isinstance(missing, Failure)
    assert [(e.field, e.code) for e in missing.failure().errors] == [
        ("answers.cigarettes_per_day", "required")
    ]
    await UpdateAnamnesis(world.uow, world.clock)(
        UpdateAnamnesisCommand(world.nurse, draft.response.id, {"smoker": False})
    )
    world.tick()
    signed = (await sign(SignAnamnesisCommand(world.doctor, draft.response.id))).unwrap().response
    assert (signed.status, signed.signed_by, signed.signed_at) == (
        RecordStatus.SIGNED,
        world.doctor.user_id,
        world.clock.now(),
    )
    assert signed.created_by == world.nurse.user_id

    # Signed: no change, no second signature.
    assert await UpdateAnamnesis(world.uow, world.clock)(
        UpdateAnamnesisCommand(world.nurse, draft.response.id, {"smoker": True, "cigarettes_per_day": 1})
    ) == Failure(RecordSigned())
    assert await sign(SignAnamnesisCommand(world.doctor, draft.response.id)) == Failure(RecordSigned())
    stored = (
        await GetAnamnesis(world.uow, world.clock)(GetAnamnesisQuery(world.doctor, draft.response.id))
    ).unwrap()
    assert stored.response.answers == {"smoker": False}
    [event] = world.audit(AuditAction.ANAMNESIS_SIGNED)
    assert event.actor_user_id == world.doctor.user_id
    assert event.details["patient_id"] == str(world.patient.id)


async def test_a_response_signed_at_once_is_complete_and_audited(world: World) -> None:
    template_id = (await world.template()).template.id
    incomplete = await world.start(template_id, {}, sign=True)
    assert isinstance(incomplete, Failure)
    assert [e.field for e in incomplete.failure().errors] == ["answers.smoker"]
    signed = (await world.start(template_id, {"smoker": False}, sign=True)).unwrap()
    assert signed.response.is_signed
    assert len(world.audit(AuditAction.ANAMNESIS_SIGNED)) == 1


async def test_a_draft_refuses_answers_of_the_wrong_shape(world: World) -> None:
    template_id = (await world.template()).template.id
    refused = await world.start(template_id, {"smoker": "sim", "pain": 99, "cigarettes_per_day": 3, "x": 1})
    assert isinstance(refused, Failure)
    assert {(e.field, e.code) for e in refused.failure().errors} == {
        ("answers.x", "unknown_question"),
        ("answers.smoker", "invalid_type"),
        ("answers.pain", "out_of_range"),
        # smoker was not a valid answer, so nothing shows the question on cigarettes
        ("answers.cigarettes_per_day", "not_applicable"),
    }
    assert world.uow.store.tables.clinical.responses == {}


async def test_a_patients_anamneses_list_newest_first_with_their_versions(world: World) -> None:
    template_id = (await world.template()).template.id
    ids = []
    for answers in ({"smoker": False}, {"smoker": True}, {"smoker": False, "pain": 2}):
        world.tick()
        ids.append((await world.start(template_id, answers)).unwrap().response.id)
    listed = ListPatientAnamneses(world.uow, world.clock)
    first = (await listed(ListAnamnesesQuery(world.doctor, world.patient.id, PageRequest(limit=2)))).unwrap()
    assert [v.response.id for v in first.items] == [ids[2], ids[1]]
    rest = (
        await listed(ListAnamnesesQuery(world.doctor, world.patient.id, PageRequest(first.next_after, 2)))
    ).unwrap()
    assert [v.response.id for v in rest.items] == [ids[0]]
    assert rest.next_after is None
    assert {v.version.title for v in first.items} == {"Anamnese geral"}


# --- clinical notes -----------------------------------------------------------------------------------------


async def test_only_the_author_signs_a_draft_note_and_then_it_is_locked(world: World) -> None:
    note = await world.note()
    sign = SignNote(world.uow, world.clock)
    refused = await sign(SignNoteCommand(world.nurse, note.id))
    assert isinstance(refused, Failure)
    assert isinstance(refused.failure(), NotTheAuthor)
    world.tick()
    signed = (await sign(SignNoteCommand(world.doctor, note.id))).unwrap()
    assert (signed.status, signed.signed_at) == (RecordStatus.SIGNED, world.clock.now())
    assert await sign(SignNoteCommand(world.doctor, note.id)) == Failure(RecordSigned())
    [event] = world.audit(AuditAction.CLINICAL_NOTE_SIGNED)
    assert event.target is not None
    assert event.target.id == str(note.id)


async def test_an_amendment_of_an_amendment_chains_to_the_same_original_which_never_changes(
    world: World,
) -> None:
    original = await world.note("Pressão 12/8.", sign=True)
    world.tick()
    first = (await world.amend(original.id, "Correção: pressão 13/8.", actor=world.nurse)).unwrap()
    world.tick()
    second = (await world.amend(first.id, "Correção da correção: 13/9.", sign=True)).unwrap()
    assert (first.amends, first.root_id) == (original.id, original.id)
    assert (second.amends, second.root_id) == (first.id, original.id)
    assert (first.author_id, first.type, first.status) == (
        world.nurse.user_id,
        NoteType.EVOLUTION,
        RecordStatus.DRAFT,
    )

    thread = (await GetNote(world.uow, world.clock)(GetNoteQuery(world.doctor, second.id))).unwrap()
    assert thread.note.id == original.id
    assert thread.note.body == "Pressão 12/8."
    assert thread.note.signed_at == T0
    assert [a.id for a in thread.amendments] == [first.id, second.id]

    listed = (
        await ListPatientNotes(world.uow, world.clock)(
            ListNotesQuery(world.doctor, world.patient.id, PageRequest())
        )
    ).unwrap()
    assert [(t.note.id, [a.id for a in t.amendments]) for t in listed.items] == [
        (original.id, [first.id, second.id])
    ]
    amended = world.audit(AuditAction.CLINICAL_NOTE_AMENDED)
    assert [(e.target.id if e.target else None, e.details["amendment_id"]) for e in amended] == [
        (str(original.id), str(first.id)),
        (str(first.id), str(second.id)),
    ]
    assert all(e.details["root_id"] == str(original.id) for e in amended)


async def test_notes_list_newest_original_first_each_with_its_own_amendments(world: World) -> None:
    older = await world.note("Primeira consulta.", sign=True)
    world.tick()
    newer = await world.note("Retorno.", sign=True)
    world.tick()
    fix = (await world.amend(older.id, "Adendo à primeira consulta.")).unwrap()
    listed = ListPatientNotes(world.uow, world.clock)
    page = (await listed(ListNotesQuery(world.doctor, world.patient.id, PageRequest(limit=1)))).unwrap()
    assert [(t.note.id, t.amendments) for t in page.items] == [(newer.id, ())]
    page = (
        await listed(ListNotesQuery(world.doctor, world.patient.id, PageRequest(page.next_after, 1)))
    ).unwrap()
    assert [(t.note.id, [a.id for a in t.amendments]) for t in page.items] == [(older.id, [fix.id])]


async def test_notes_refuse_bad_types_and_empty_or_control_text(world: World) -> None:
    write = WriteNote(world.uow, world.clock)
    refused = await write(WriteNoteCommand(world.doctor, world.patient.id, "diary", "  "))
    assert isinstance(refused, Failure)
    assert {(e.field, e.code) for e in refused.failure().errors} == {
        ("type", "invalid_note_type"),
        ("body", "required"),
    }
    refused = await write(WriteNoteCommand(world.doctor, world.patient.id, "evolution", "a\x07b"))
    assert isinstance(refused, Failure)
    assert refused.failure().errors[0].code == "invalid_characters"
    kept = await write(WriteNoteCommand(world.doctor, world.patient.id, "observation", "Linha 1\n\tLinha 2"))
    assert kept.unwrap().body == "Linha 1\n\tLinha 2"


# --- timeline -----------------------------------------------------------------------------------------------


async def test_the_timeline_is_newest_first_filterable_and_follows_signatures(world: World) -> None:
    template_id = (await world.template()).template.id
    anamnesis = (await world.start(template_id, {"smoker": False})).unwrap().response
    world.tick()
    note = await world.note(sign=True)
    world.tick()
    fix = (await world.amend(note.id, "Adendo.")).unwrap()
    entries = (await world.timeline()).unwrap().items
    assert [(e.kind, e.ref_id, e.status) for e in entries] == [
        (TimelineKind.CLINICAL_NOTE, fix.id, "draft"),
        (TimelineKind.CLINICAL_NOTE, note.id, "signed"),
        (TimelineKind.ANAMNESIS, anamnesis.id, "draft"),
    ]
    assert [e.summary for e in entries] == ["evolution (amendment)", "evolution", "Anamnese geral"]
    assert entries[2].actor_id == world.nurse.user_id
    # Signing later moves nothing and changes the entry in place.
    world.tick()
    await SignAnamnesis(world.uow, world.clock)(SignAnamnesisCommand(world.doctor, anamnesis.id))
    only = (await world.timeline(TimelineKind.ANAMNESIS)).unwrap().items
    assert [(e.id, e.occurred_at, e.status, e.actor_id) for e in only] == [
        (entries[2].id, T0, "signed", world.doctor.user_id)
    ]
    assert (await world.timeline("appointment")).unwrap().items == []


async def test_the_timeline_pages_through_entries_of_the_same_instant(world: World) -> None:
    # Entries another feature adds, some at one instant: the cursor carries (occurred_at, id).
    moments = [T0, T0, T0, T0 - timedelta(days=1), T0 + timedelta(days=1)]
    async with world.uow(Scope(tenant_id=world.tenant)) as uow:
        for at in moments:
            await uow.timeline.record(
                TimelineEntry(
                    tenant_id=world.tenant,
                    id=TimelineEntryId(new_uuid()),
                    patient_id=world.patient.id,
                    occurred_at=at,
                    kind="appointment",
                    ref_id=new_uuid(),
                    summary="Consulta",
                )
            )
        await uow.commit()
    seen: list[tuple[datetime, UUID]] = []
    cursor = None
    while True:
        page = (await world.timeline(cursor=cursor, limit=2)).unwrap()
        seen.extend((e.occurred_at, e.id) for e in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 5


async def test_the_timeline_refuses_bad_queries(world: World) -> None:
    for kwargs, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
    ):
        refused = await world.timeline(**kwargs)
        assert isinstance(refused, Failure)
        assert refused.failure().errors[0].field == field
    refused = await world.timeline("Appointment; DROP")
    assert isinstance(refused, Failure)
    assert refused.failure().errors[0].code == "invalid_kind"
    position = TimelinePosition(T0, new_uuid())
    assert TimelinePosition.decode(position.encode()) == position


# --- who may, and whose ---------------------------------------------------------------------------------------


async def test_the_front_desk_reads_and_writes_no_clinical_record(world: World) -> None:
    detail = await world.template()
    receptionist = world.receptionist
    assert isinstance(
        await CreateTemplate(world.uow, world.clock)(
            CreateTemplateCommand(receptionist, "X", sections=short_form())
        ),
        Failure,
    )
    assert isinstance((await GetTemplate(world.uow)(receptionist, detail.template.id)).failure(), Forbidden)
    assert isinstance((await world.start(detail.template.id, {}, actor=receptionist)).failure(), Forbidden)
    assert isinstance((await world.timeline(actor=receptionist)).failure(), Forbidden)
    listed = await ListPatientNotes(world.uow, world.clock)(
        ListNotesQuery(receptionist, world.patient.id, PageRequest())
    )
    assert isinstance(listed.failure(), Forbidden)


async def test_an_api_key_reads_but_writes_nothing_in_a_record(world: World) -> None:
    from dataclasses import replace

    from clinic_core.tenancy.permissions import Permission

    key = replace(
        person(world.tenant),
        api_key_id=ApiKeyId(new_uuid()),
        granted=frozenset({Permission.CLINICAL_READ, Permission.CLINICAL_WRITE}),
    )
    detail = await world.template()
    assert isinstance((await world.start(detail.template.id, {}, actor=key)).failure(), ApiKeyNotAllowed)
    written = await WriteNote(world.uow, world.clock)(
        WriteNoteCommand(key, world.patient.id, "evolution", "x")
    )
    assert isinstance(written.failure(), ApiKeyNotAllowed)
    assert (await world.timeline(actor=key)).unwrap().items == []


async def test_another_clinics_ids_are_not_found(world: World) -> None:
    template_id = (await world.template()).template.id
    anamnesis = (await world.start(template_id, {"smoker": False})).unwrap().response
    note = await world.note()
    stranger = person(world.other_tenant, Role.OWNER)
    assert isinstance((await GetTemplate(world.uow)(stranger, template_id)).failure(), NotFound)
    assert isinstance(
        (await GetAnamnesis(world.uow, world.clock)(GetAnamnesisQuery(stranger, anamnesis.id))).failure(),
        NotFound,
    )
    assert isinstance(
        (await SignNote(world.uow, world.clock)(SignNoteCommand(stranger, note.id))).failure(), NotFound
    )
    assert isinstance(
        (await AmendNote(world.uow, world.clock)(AmendNoteCommand(stranger, note.id, "x"))).failure(),
        NotFound,
    )
    timeline = await GetPatientTimeline(world.uow, world.clock)(TimelineRequest(stranger, world.patient.id))
    assert isinstance(timeline.failure(), NotFound)
    # And this clinic cannot write into the other's patient, nor answer with the other's template.
    other_template = (await world.template(actor=person(world.other_tenant, Role.OWNER))).template.id
    assert isinstance((await world.start(other_template, {})).failure(), NotFound)
    assert isinstance((await world.start(template_id, {}, patient=world.foreign_patient)).failure(), NotFound)
    written = await WriteNote(world.uow, world.clock)(
        WriteNoteCommand(world.doctor, world.foreign_patient.id, "evolution", "x")
    )
    assert isinstance(written.failure(), NotFound)
    assert isinstance(
        (await GetNote(world.uow, world.clock)(GetNoteQuery(world.doctor, NoteId(new_uuid())))).failure(),
        NotFound,
    )
    assert isinstance(
        (
            await GetAnamnesis(world.uow, world.clock)(
                GetAnamnesisQuery(world.doctor, AnamnesisId(new_uuid()))
            )
        ).failure(),
        NotFound,
    )
    unknown = await ListPatientAnamneses(world.uow, world.clock)(
        ListAnamnesesQuery(world.doctor, PatientId(new_uuid()), PageRequest())
    )
    assert isinstance(unknown.failure(), NotFound)


# --- the access log and per-unit visibility ---------------------------------------------------------------


async def _access(world: World) -> list[tuple[AccessAction, UserId | None]]:
    async with world.uow(Scope(tenant_id=world.tenant), read_only=True) as uow:
        page = await uow.patient_access.page(world.patient.id, PageRequest(limit=50))
    return sorted((entry.action, entry.actor_user_id) for entry in page.items)


async def test_every_read_of_the_clinical_record_is_in_the_patients_access_log(world: World) -> None:
    template_id = (await world.template()).template.id
    anamnesis = (await world.start(template_id, {"smoker": False})).unwrap().response
    note = await world.note()
    assert await _access(world) == []  # writing is not reading

    doctor = world.doctor
    get_anamnesis = GetAnamnesis(world.uow, world.clock)
    assert isinstance(await get_anamnesis(GetAnamnesisQuery(doctor, anamnesis.id)), Success)
    listed = ListPatientAnamneses(world.uow, world.clock)
    assert isinstance(await listed(ListAnamnesesQuery(doctor, world.patient.id, PageRequest())), Success)
    assert isinstance(await GetNote(world.uow, world.clock)(GetNoteQuery(doctor, note.id)), Success)
    notes = ListPatientNotes(world.uow, world.clock)
    assert isinstance(await notes(ListNotesQuery(doctor, world.patient.id, PageRequest())), Success)
    assert isinstance(await world.timeline(), Success)

    assert await _access(world) == sorted(
        (action, doctor.user_id)
        for action in (
            AccessAction.ANAMNESIS,
            AccessAction.ANAMNESES,
            AccessAction.CLINICAL_NOTE,
            AccessAction.CLINICAL_NOTES,
            AccessAction.TIMELINE,
        )
    )
    # A refused read (another clinic) leaves no row.
    stranger = person(world.other_tenant, Role.OWNER)
    assert isinstance(await get_anamnesis(GetAnamnesisQuery(stranger, anamnesis.id)), Failure)
    assert len(await _access(world)) == 5


async def test_a_clinic_that_keeps_patients_per_unit_hides_other_units_records(world: World) -> None:
    north, centre = UnitId(new_uuid()), UnitId(new_uuid())
    async with world.uow(Scope(tenant_id=world.tenant)) as uow:
        await uow.tenants.add(
            Tenant(
                id=world.tenant,
                slug=Slug("clinica-centro"),
                name="Clínica Centro",
                plan=Plan.CLINIC,
                status=TenantStatus.ACTIVE,
                created_at=T0,
                patients_shared_across_units=False,
            )
        )
        patient = await uow.patients.get(world.patient.id)
        assert patient is not None
        patient.unit_id = centre
        await uow.patients.save(patient)
        await uow.commit()
    template_id = (await world.template()).template.id
    anamnesis = (await world.start(template_id, {"smoker": False})).unwrap().response
    note = await world.note()

    northern = replace(person(world.tenant, Role.PROFESSIONAL), unit_ids=frozenset({north}))
    not_found = [
        await GetAnamnesis(world.uow, world.clock)(GetAnamnesisQuery(northern, anamnesis.id)),
        await GetNote(world.uow, world.clock)(GetNoteQuery(northern, note.id)),
        await SignNote(world.uow, world.clock)(SignNoteCommand(northern, note.id)),
        await AmendNote(world.uow, world.clock)(AmendNoteCommand(northern, note.id, "Correção")),
        await world.timeline(actor=northern),
        await WriteNote(world.uow, world.clock)(
            WriteNoteCommand(northern, world.patient.id, "evolution", "Evolução")
        ),
    ]
    assert all(isinstance(result.failure(), NotFound) for result in not_found), not_found
    central = replace(person(world.tenant, Role.PROFESSIONAL), unit_ids=frozenset({centre}))
    assert isinstance(await world.timeline(actor=central), Success)
