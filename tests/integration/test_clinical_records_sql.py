"""The clinical record over the SQL adapters, on PostgreSQL (as the app role) and SQLite: round trips of
templates, versions, responses, notes and the timeline; signed records that the database itself refuses
to change; a concurrent publication that loses; row-level security."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from returns.result import Failure
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.clinical.anamneses import (
    GetAnamnesis,
    GetAnamnesisQuery,
    SignAnamnesis,
    SignAnamnesisCommand,
    StartAnamnesis,
    StartAnamnesisCommand,
    UpdateAnamnesis,
    UpdateAnamnesisCommand,
)
from clinic_core.clinical.history import GetPatientTimeline, TimelineRequest
from clinic_core.clinical.model import RecordSigned, RecordStatus, TemplateId, VersionConflict
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
    GetTemplateVersion,
    ListTemplates,
    PublishTemplateVersion,
    PublishVersionCommand,
)
from clinic_core.clinical.timeline import TimelineEntry, TimelineEntryId
from clinic_core.patients.model import Patient, Species
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp
from clinic_core.testing import a_person, an_animal
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up
from tests.unit.clinical_world import habits_and_health, short_form

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass
class Clinic:
    uow: SqlUnitOfWorkFactory
    clock: FixedClock
    signed_up: SignedUp
    doctor: Actor
    patient: Patient


async def a_clinic(uow: SqlUnitOfWorkFactory, name: str = "Clínica Teste") -> Clinic:
    signed_up = await sign_up(uow, name)
    tenant = signed_up.tenant.id
    patient = a_person(tenant)
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.patients.add(patient)
        await tx.patients.add(an_animal(tenant, species=Species.CAT))
        await tx.commit()
    doctor = Actor(
        user_id=signed_up.owner.id,
        tenant_id=tenant,
        roles=frozenset({Role.PROFESSIONAL}),
        unit_ids=frozenset(),
    )
    return Clinic(uow, FixedClock(T0), signed_up, doctor, patient)


async def test_templates_versions_responses_and_timeline_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    c = await a_clinic(sql_uow)
    created = (
        await CreateTemplate(c.uow, c.clock)(
            CreateTemplateCommand(
                c.doctor,
                "Anamnese geral",
                procedure_ids=frozenset({new_uuid()}),
                species=frozenset({"cat", "dog"}),
                sections=habits_and_health(),
            )
        )
    ).unwrap()
    template_id = created.template.id
    assert created.latest is not None
    v1 = (await GetTemplateVersion(c.uow)(c.doctor, template_id, 1)).unwrap()
    assert v1.questionnaire == created.latest.questionnaire
    assert v1.published_at == T0
    listed = (await ListTemplates(c.uow)(c.doctor, PageRequest(), TemplateFilter(species="cat"))).unwrap()
    assert [t.id for t in listed.items] == [template_id]
    assert listed.items[0].applies_to == created.template.applies_to
    assert (
        await ListTemplates(c.uow)(c.doctor, PageRequest(), TemplateFilter(species="bird"))
    ).unwrap().items == []

    # A person is no cat or dog: a template for any species answers them.
    anyone = (
        await CreateTemplate(c.uow, c.clock)(
            CreateTemplateCommand(c.doctor, "Geral", sections=habits_and_health())
        )
    ).unwrap()
    answers = {
        "smoker": True,
        "cigarettes_per_day": 12,
        "conditions": ["asthma", "diabetes"],
        "diabetes_type": "type1",
        "insulin": True,
        "last_exam": "2026-01-31",
        "pain": 7,
        "weight": 68.4,
        "remarks": "Acorda à noite.\nRonca.",
    }
    start = StartAnamnesis(c.uow, c.clock)
    view = (
        await start(
            StartAnamnesisCommand(c.doctor, c.patient.id, anyone.template.id, answers, appointment_id=None)
        )
    ).unwrap()
    c.clock.advance(timedelta(minutes=5))
    got = (await GetAnamnesis(c.uow, c.clock)(GetAnamnesisQuery(c.doctor, view.response.id))).unwrap()
    assert got.response.answers == answers | {"conditions": ("diabetes", "asthma")}
    assert got.response.status is RecordStatus.DRAFT
    assert got.version.title == "Geral"

    signed = (await SignAnamnesis(c.uow, c.clock)(SignAnamnesisCommand(c.doctor, view.response.id))).unwrap()
    assert signed.response.signed_at == T0 + timedelta(minutes=5)
    assert await UpdateAnamnesis(c.uow, c.clock)(
        UpdateAnamnesisCommand(c.doctor, view.response.id, {"smoker": False})
    ) == Failure(RecordSigned())

    timeline = (await GetPatientTimeline(c.uow, c.clock)(TimelineRequest(c.doctor, c.patient.id))).unwrap()
    assert [(e.kind, e.ref_id, e.status, e.summary, e.occurred_at) for e in timeline.items] == [
        ("anamnesis", view.response.id, "signed", "Geral", T0)
    ]


async def test_notes_and_amendment_chains_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    c = await a_clinic(sql_uow)
    write = WriteNote(c.uow, c.clock)
    original = (await write(WriteNoteCommand(c.doctor, c.patient.id, "evolution", "PA 12/8."))).unwrap()
    c.clock.advance(timedelta(minutes=1))
    signed = (await SignNote(c.uow, c.clock)(SignNoteCommand(c.doctor, original.id))).unwrap()
    assert signed.signed_at == T0 + timedelta(minutes=1)
    assert await SignNote(c.uow, c.clock)(SignNoteCommand(c.doctor, original.id)) == Failure(RecordSigned())
    c.clock.advance(timedelta(minutes=1))
    first = (
        await AmendNote(c.uow, c.clock)(AmendNoteCommand(c.doctor, original.id, "PA 13/8.", sign=True))
    ).unwrap()
    c.clock.advance(timedelta(minutes=1))
    second = (
        await AmendNote(c.uow, c.clock)(AmendNoteCommand(c.doctor, first.id, "PA 13/9.", "observation"))
    ).unwrap()

    thread = (await GetNote(c.uow, c.clock)(GetNoteQuery(c.doctor, second.id))).unwrap()
    assert (thread.note.id, thread.note.body, thread.note.status) == (
        original.id,
        "PA 12/8.",
        RecordStatus.SIGNED,
    )
    assert [(a.id, a.amends, a.root_id, a.type.value) for a in thread.amendments] == [
        (first.id, original.id, original.id, "evolution"),
        (second.id, first.id, original.id, "observation"),
    ]
    listed = (
        await ListPatientNotes(c.uow, c.clock)(ListNotesQuery(c.doctor, c.patient.id, PageRequest()))
    ).unwrap()
    assert [(t.note.id, len(t.amendments)) for t in listed.items] == [(original.id, 2)]
    timeline = (await GetPatientTimeline(c.uow, c.clock)(TimelineRequest(c.doctor, c.patient.id))).unwrap()
    assert [e.ref_id for e in timeline.items] == [second.id, first.id, original.id]


async def test_the_timeline_pages_by_time_then_id_and_filters_by_kind(sql_uow: SqlUnitOfWorkFactory) -> None:
    c = await a_clinic(sql_uow)
    moments = [T0, T0, T0, T0 - timedelta(hours=1), T0 + timedelta(microseconds=1)]
    kinds = ["appointment", "exam", "appointment", "appointment", "exam"]
    async with c.uow(Scope(tenant_id=c.signed_up.tenant.id)) as tx:
        for at, kind in zip(moments, kinds, strict=True):
            await tx.timeline.record(
                TimelineEntry(
                    tenant_id=c.signed_up.tenant.id,
                    id=TimelineEntryId(new_uuid()),
                    patient_id=c.patient.id,
                    occurred_at=at,
                    kind=kind,
                    ref_id=new_uuid(),
                    summary="x",
                )
            )
        await tx.commit()
    get = GetPatientTimeline(c.uow, c.clock)
    seen: list[tuple[datetime, UUID]] = []
    cursor = None
    while True:
        page = (await get(TimelineRequest(c.doctor, c.patient.id, cursor=cursor, limit=2))).unwrap()
        seen.extend((e.occurred_at, e.id) for e in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen, reverse=True)
    exams = (await get(TimelineRequest(c.doctor, c.patient.id, frozenset({"exam"})))).unwrap().items
    assert [e.occurred_at for e in exams] == [T0 + timedelta(microseconds=1), T0]


async def test_two_publications_at_once_one_wins(sql_uow: SqlUnitOfWorkFactory) -> None:
    c = await a_clinic(sql_uow)
    template_id = (
        (
            await CreateTemplate(c.uow, c.clock)(
                CreateTemplateCommand(c.doctor, "Geral", sections=short_form())
            )
        )
        .unwrap()
        .template.id
    )
    publish = PublishTemplateVersion(c.uow, c.clock)
    results = await asyncio.gather(
        *(
            publish(PublishVersionCommand(c.doctor, template_id, short_form(f"Pergunta {i}")))
            for i in range(2)
        )
    )
    numbers = sorted(r.unwrap().number for r in results if not isinstance(r, Failure))
    losers = [r.failure() for r in results if isinstance(r, Failure)]
    # PostgreSQL runs both and one loses on the key; SQLite serialises writers and both win in turn.
    assert numbers in ([2], [2, 3])
    assert all(isinstance(f, VersionConflict) for f in losers)
    assert len(numbers) + len(losers) == 2


async def _raw(uow: SqlUnitOfWorkFactory, tenant: TenantId, statement: str, **params: object) -> None:
    async with uow(Scope(tenant_id=tenant)) as tx:
        connection = await tx.connection()
        await connection.execute(text(statement), params)
        await tx.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE anamnesis_responses SET answers = '{}' WHERE id = :id",
        "UPDATE anamnesis_responses SET status = 'draft', signed_at = NULL, signed_by = NULL WHERE id = :id",
        "DELETE FROM anamnesis_responses WHERE id = :id",
    ],
)
async def test_the_database_refuses_to_change_a_signed_anamnesis(
    sql_uow: SqlUnitOfWorkFactory, statement: str
) -> None:
    c = await a_clinic(sql_uow)
    template_id = (
        (
            await CreateTemplate(c.uow, c.clock)(
                CreateTemplateCommand(c.doctor, "Geral", sections=short_form())
            )
        )
        .unwrap()
        .template.id
    )
    view = (
        await StartAnamnesis(c.uow, c.clock)(
            StartAnamnesisCommand(c.doctor, c.patient.id, template_id, {"complaint": "Dor"}, sign=True)
        )
    ).unwrap()
    with pytest.raises(DBAPIError):
        await _raw(c.uow, c.signed_up.tenant.id, statement, id=view.response.id)
    got = (await GetAnamnesis(c.uow, c.clock)(GetAnamnesisQuery(c.doctor, view.response.id))).unwrap()
    assert (got.response.answers, got.response.status) == ({"complaint": "Dor"}, RecordStatus.SIGNED)


@pytest.mark.parametrize(
    ("statement", "signed"),
    [
        ("UPDATE clinical_notes SET body = 'reescrito' WHERE id = :id", False),
        (
            "UPDATE clinical_notes SET body = 'reescrito', status = 'signed', signed_at = created_at WHERE id = :id",
            False,
        ),
        ("UPDATE clinical_notes SET status = 'draft', signed_at = NULL WHERE id = :id", True),
        ("UPDATE clinical_notes SET signed_at = created_at WHERE id = :id", True),
        ("DELETE FROM clinical_notes WHERE id = :id", False),
        ("DELETE FROM clinical_notes WHERE id = :id", True),
    ],
)
async def test_the_database_lets_a_note_change_only_by_signing_a_draft(
    sql_uow: SqlUnitOfWorkFactory, statement: str, signed: bool
) -> None:
    c = await a_clinic(sql_uow)
    note = (
        await WriteNote(c.uow, c.clock)(
            WriteNoteCommand(c.doctor, c.patient.id, "evolution", "Texto.", sign=signed)
        )
    ).unwrap()
    with pytest.raises(DBAPIError):
        await _raw(c.uow, c.signed_up.tenant.id, statement, id=note.id)
    thread = (await GetNote(c.uow, c.clock)(GetNoteQuery(c.doctor, note.id))).unwrap()
    assert thread.note.body == "Texto."
    # Signing a draft is the one change allowed.
    if not signed:
        assert (await SignNote(c.uow, c.clock)(SignNoteCommand(c.doctor, note.id))).unwrap().is_signed


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE anamnesis_template_versions SET title = 'x' WHERE template_id = :id",
        "DELETE FROM anamnesis_template_versions WHERE template_id = :id",
    ],
)
async def test_a_published_version_is_append_only(sql_uow: SqlUnitOfWorkFactory, statement: str) -> None:
    c = await a_clinic(sql_uow)
    template_id = (
        (
            await CreateTemplate(c.uow, c.clock)(
                CreateTemplateCommand(c.doctor, "Geral", sections=short_form())
            )
        )
        .unwrap()
        .template.id
    )
    with pytest.raises(DBAPIError):
        await _raw(c.uow, c.signed_up.tenant.id, statement, id=template_id)
    assert (await GetTemplateVersion(c.uow)(c.doctor, TemplateId(template_id), 1)).unwrap().title == "Geral"


async def test_an_amendment_cannot_point_at_another_patients_note(sql_uow: SqlUnitOfWorkFactory) -> None:
    c = await a_clinic(sql_uow)
    other_patient = a_person(c.signed_up.tenant.id, "Outra Pessoa")
    async with c.uow(Scope(tenant_id=c.signed_up.tenant.id)) as tx:
        await tx.patients.add(other_patient)
        await tx.commit()
    note = (
        await WriteNote(c.uow, c.clock)(WriteNoteCommand(c.doctor, c.patient.id, "evolution", "x"))
    ).unwrap()
    with pytest.raises(DBAPIError):
        await _raw(
            c.uow,
            c.signed_up.tenant.id,
            "INSERT INTO clinical_notes (tenant_id, id, patient_id, author_id, type, body, created_at, status,"
            " amends, root_id) VALUES (:t, :id, :p, :a, 'evolution', 'y', :at, 'draft', :n, :n)",
            t=c.signed_up.tenant.id,
            id=new_uuid(),
            p=other_patient.id,
            a=c.doctor.user_id,
            at=T0,
            n=note.id,
        )


# --- PostgreSQL: row-level security as the app role ---------------------------------------------------------

CLINICAL_TABLES = (
    "anamnesis_templates",
    "anamnesis_template_versions",
    "anamnesis_responses",
    "clinical_notes",
    "patient_timeline",
)


async def test_clinical_tables_are_invisible_to_another_tenant_as_the_app_role(
    pg_app_engine: AsyncEngine,
) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    c, other = await a_clinic(uow), await a_clinic(uow, "Outra")
    template_id = (
        (
            await CreateTemplate(c.uow, c.clock)(
                CreateTemplateCommand(c.doctor, "Geral", sections=short_form())
            )
        )
        .unwrap()
        .template.id
    )
    await StartAnamnesis(c.uow, c.clock)(
        StartAnamnesisCommand(c.doctor, c.patient.id, template_id, {"complaint": "Dor"})
    )
    await WriteNote(c.uow, c.clock)(WriteNoteCommand(c.doctor, c.patient.id, "evolution", "x"))
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(c.signed_up.tenant.id)}
        )
        mine = {
            t: (await connection.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
            for t in CLINICAL_TABLES
        }
    assert mine == {
        "anamnesis_templates": 1,
        "anamnesis_template_versions": 1,
        "anamnesis_responses": 1,
        "clinical_notes": 1,
        "patient_timeline": 2,
    }
    async with pg_app_engine.connect() as connection, connection.begin():
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(other.signed_up.tenant.id)}
        )
        theirs = {
            t: (await connection.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
            for t in CLINICAL_TABLES
        }
        assert set(theirs.values()) == {0}
        # Nor can the other tenant write into this one's patient.
        with pytest.raises(DBAPIError):
            await connection.execute(
                text(
                    "INSERT INTO clinical_notes (tenant_id, id, patient_id, author_id, type, body, created_at, status)"
                    " VALUES (:t, :id, :p, :a, 'evolution', 'x', now(), 'draft')"
                ),
                {"t": c.signed_up.tenant.id, "id": new_uuid(), "p": c.patient.id, "a": c.doctor.user_id},
            )
