"""Privacy (LGPD) on the in-memory fakes: consents, the retention setting, the export and anonymisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from returns.result import Failure, Success

from clinic_core.access.model import ApiKeyNotAllowed
from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditEvent
from clinic_core.privacy.anonymisation import AnonymisePatient, AnonymisePatientCommand, years_after
from clinic_core.privacy.consents import (
    ListConsents,
    ListConsentsQuery,
    RecordConsent,
    RecordConsentCommand,
)
from clinic_core.privacy.export import ConsentsSection, ExportPatientData, ExportPatientDataQuery
from clinic_core.privacy.model import (
    AlreadyAnonymised,
    ConsentChannel,
    ConsentDecision,
    ConsentKind,
    PrivacySettings,
)
from clinic_core.privacy.settings import (
    GetPrivacySettings,
    UpdatePrivacySettings,
    UpdatePrivacySettingsCommand,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import ApiKeyId, TenantId, UnitId, UserId, new_uuid
from clinic_core.tenancy.permissions import Permission, Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher, InMemoryUnitOfWorkFactory
from clinic_core.testing.privacy_fakes import (
    FakePatient,
    FakePatientGateway,
    FakeSection,
    FakeStep,
    PatientSection,
)

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
CONTEXT = RequestContext(ip="203.0.113.7", user_agent="pytest", request_id="req-1")
GRANTED, WITHDRAWN = ConsentDecision.GRANTED, ConsentDecision.WITHDRAWN


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    patients: FakePatientGateway
    clinic: SignedUp
    other: SignedUp
    maria: FakePatient
    """A patient of the clinic, with a portal user (herself)."""
    maria_user: UserId

    def actor(self, *roles: Role, tenant: TenantId | None = None, **extra: object) -> Actor:
        return Actor(
            user_id=UserId(new_uuid()),
            tenant_id=tenant or self.clinic.tenant.id,
            roles=frozenset(roles),
            unit_ids=frozenset(),
            **extra,  # type: ignore[arg-type]
        )

    @property
    def owner(self) -> Actor:
        return Actor(
            user_id=self.clinic.owner.id,
            tenant_id=self.clinic.tenant.id,
            roles=frozenset({Role.OWNER}),
            unit_ids=frozenset(),
        )

    @property
    def maria_in_portal(self) -> Actor:
        return Actor(
            user_id=self.maria_user,
            tenant_id=self.clinic.tenant.id,
            roles=frozenset({Role.CLIENT}),
            unit_ids=frozenset(),
        )

    def audit(self, action: AuditAction) -> list[AuditEvent]:
        return sorted(
            (e for e in self.uow.store.tables.audit_events.values() if e.action is action), key=lambda e: e.id
        )

    def record_consent(self) -> RecordConsent:
        return RecordConsent(self.uow, self.clock, self.patients)

    async def consent(
        self,
        actor: Actor,
        kind: str = ConsentKind.MARKETING_CONTACT,
        decision: ConsentDecision = GRANTED,
        *,
        patient: UUID | None = None,
        portal: bool = False,
        channel: ConsentChannel | None = None,
        evidence: str | None = None,
        version: str = "2026-01",
    ) -> object:
        return await self.record_consent()(
            RecordConsentCommand(
                actor=actor,
                patient_id=patient or self.maria.id,
                kind=kind,
                decision=decision,
                version=version,
                channel=channel,
                evidence=evidence,
                portal=portal,
                context=CONTEXT,
            )
        )

    def exporter(self, *extra: object) -> ExportPatientData:
        sections = (PatientSection(self.patients), ConsentsSection(), *extra)
        return ExportPatientData(self.uow, self.clock, self.patients, sections)  # type: ignore[arg-type]


@pytest.fixture
async def world() -> World:
    uow, clock = InMemoryUnitOfWorkFactory(), FixedClock(T0)

    async def sign_up(email: str, name: str) -> SignedUp:
        cmd = SignUpCommand(name, "Centro", "America/Sao_Paulo", "Ana Souza", email, "correct horse battery")
        return (await SignUp(uow, FakePasswordHasher(), clock)(cmd)).unwrap()

    clinic = await sign_up("ana@example.com", "Clínica A")
    other = await sign_up("bia@example.com", "Clínica B")
    patients = FakePatientGateway()
    maria_user = UserId(new_uuid())
    maria = patients.add(
        FakePatient(
            tenant_id=clinic.tenant.id,
            id=new_uuid(),
            identity={"name": "Maria da Silva", "cpf": "52998224725", "phone": "+5511987654321"},
            search_terms={"maria", "silva", "52998224725", "5511987654321"},
            portal_user_ids={maria_user},
        )
    )
    return World(uow, clock, patients, clinic, other, maria, maria_user)


# --- consents ---------------------------------------------------------------------------------------------


async def test_staff_record_a_consent_with_its_evidence_and_the_audit_trail_says_so(world: World) -> None:
    receptionist = world.actor(Role.RECEPTIONIST)
    recorded = await world.consent(receptionist, evidence="Termo assinado, pasta 12")
    record = recorded.unwrap()  # type: ignore[attr-defined]
    assert (record.kind, record.decision, record.version) == ("marketing_contact", GRANTED, "2026-01")
    assert record.channel is ConsentChannel.IN_PERSON
    assert (record.recorded_by_user_id, record.ip, record.user_agent) == (
        receptionist.user_id,
        "203.0.113.7",
        "pytest",
    )
    assert record.evidence == "Termo assinado, pasta 12"
    [event] = world.audit(AuditAction.CONSENT_RECORDED)
    assert event.actor_user_id == receptionist.user_id
    assert event.target is not None
    assert event.target.id == str(world.maria.id)
    assert dict(event.details) == {
        "consent_id": str(record.id),
        "kind": "marketing_contact",
        "decision": "granted",
        "version": "2026-01",
        "channel": "in_person",
    }
    assert "Termo" not in str(event.details)


async def test_the_current_state_is_the_latest_decision_of_each_kind(world: World) -> None:
    staff = world.actor(Role.RECEPTIONIST)
    await world.consent(staff, ConsentKind.MARKETING_CONTACT, GRANTED, version="v1")
    await world.consent(staff, ConsentKind.DATA_SHARING_ACROSS_UNITS, GRANTED, version="v1")
    world.clock.advance(timedelta(days=3))
    await world.consent(world.maria_in_portal, ConsentKind.MARKETING_CONTACT, WITHDRAWN, portal=True)
    await world.consent(staff, "research", GRANTED, version="v2")

    history = (
        await ListConsents(world.uow, world.clock, world.patients)(
            ListConsentsQuery(staff, world.maria.id, context=CONTEXT)
        )
    ).unwrap()
    assert [(r.kind, r.decision) for r in history.history] == [
        ("marketing_contact", GRANTED),
        ("data_sharing_across_units", GRANTED),
        ("marketing_contact", WITHDRAWN),
        ("research", GRANTED),
    ]
    assert {r.kind: r.decision for r in history.current} == {
        "data_sharing_across_units": GRANTED,
        "marketing_contact": WITHDRAWN,
        "research": GRANTED,
    }
    assert not history.granted(ConsentKind.MARKETING_CONTACT)
    assert history.granted(ConsentKind.DATA_SHARING_ACROSS_UNITS)
    assert not history.granted("never_asked")
    # Reading the consents is a read of the record: it is in the access log.
    assert [(row.action, row.user_id) for row in world.patients.access_log] == [
        ("consents.read", staff.user_id)
    ]


async def test_decisions_recorded_in_the_same_instant_keep_their_order(world: World) -> None:
    staff = world.actor(Role.RECEPTIONIST)
    for decision in (GRANTED, WITHDRAWN, GRANTED, WITHDRAWN):
        await world.consent(staff, decision=decision)
    history = (
        await ListConsents(world.uow, world.clock, world.patients)(ListConsentsQuery(staff, world.maria.id))
    ).unwrap()
    assert [r.decision for r in history.history] == [GRANTED, WITHDRAWN, GRANTED, WITHDRAWN]
    assert [r.decision for r in history.current] == [WITHDRAWN]


async def test_the_patient_records_her_own_consent_in_the_portal_and_nobody_elses(world: World) -> None:
    mine = (await world.consent(world.maria_in_portal, portal=True)).unwrap()  # type: ignore[attr-defined]
    assert mine.channel is ConsentChannel.PORTAL
    assert mine.recorded_by_user_id == world.maria_user

    joana = world.patients.add(
        FakePatient(tenant_id=world.clinic.tenant.id, id=new_uuid(), identity={"name": "Joana"})
    )
    for patient in (joana.id, new_uuid()):
        refused = await world.consent(world.maria_in_portal, patient=patient, portal=True)
        assert refused == Failure(NotFound("patient", str(patient)))
    listed = await ListConsents(world.uow, world.clock, world.patients)(
        ListConsentsQuery(world.maria_in_portal, joana.id, portal=True)
    )
    assert listed == Failure(NotFound("patient", str(joana.id)))
    # Without the portal flag the client is staff-checked, and holds no patients:write.
    assert isinstance((await world.consent(world.maria_in_portal)), Failure)


async def test_the_portal_records_only_the_portal_channel(world: World) -> None:
    refused = await world.consent(world.maria_in_portal, portal=True, channel=ConsentChannel.IN_PERSON)
    assert isinstance(refused, Failure)
    assert [e.field for e in refused.failure().errors] == ["channel"]


@pytest.mark.parametrize(
    ("api_key", "channel", "accepted"),
    [
        (False, ConsentChannel.IN_PERSON, True),
        (False, ConsentChannel.IMPORT, True),
        (False, ConsentChannel.PORTAL, False),
        (False, ConsentChannel.API, False),
        (False, ConsentChannel.SYSTEM, False),
        (True, ConsentChannel.API, True),
        (True, ConsentChannel.IMPORT, True),
        (True, ConsentChannel.IN_PERSON, False),
        (True, ConsentChannel.PORTAL, False),
    ],
)
async def test_who_records_decides_the_channels_allowed(
    world: World, api_key: bool, channel: ConsentChannel, accepted: bool
) -> None:
    actor = world.actor(Role.ADMIN, api_key_id=ApiKeyId(new_uuid())) if api_key else world.actor(Role.NURSE)
    recorded = await world.consent(actor, channel=channel)
    assert isinstance(recorded, Success) is accepted
    if accepted:
        record = recorded.unwrap()  # type: ignore[attr-defined]
        assert record.channel is channel
        assert (record.recorded_by_user_id is None) is api_key
        assert record.recorded_by_api_key_id == actor.api_key_id


async def test_an_api_key_records_channel_api_by_default(world: World) -> None:
    key = world.actor(Role.ADMIN, api_key_id=ApiKeyId(new_uuid()))
    record = (await world.consent(key)).unwrap()  # type: ignore[attr-defined]
    assert record.channel is ConsentChannel.API
    [event] = world.audit(AuditAction.CONSENT_RECORDED)
    assert (event.actor_user_id, event.actor_api_key_id) == (None, key.api_key_id)


async def test_malformed_consents_are_refused_field_by_field(world: World) -> None:
    refused = await world.record_consent()(
        RecordConsentCommand(
            actor=world.actor(Role.RECEPTIONIST),
            patient_id=world.maria.id,
            kind="Marketing Contact!",
            decision=GRANTED,
            version="  ",
            evidence="x" * 501,
        )
    )
    assert isinstance(refused, Failure)
    assert isinstance(refused.failure(), InvalidInput)
    assert {e.field for e in refused.failure().errors} == {"kind", "version", "evidence"}
    assert world.uow.store.tables.consents == {}


async def test_kinds_are_normalised_and_extensible(world: World) -> None:
    record = (await world.consent(world.actor(Role.RECEPTIONIST), kind="  Research_2026 ")).unwrap()  # type: ignore[attr-defined]
    assert record.kind == "research_2026"


async def test_roles_without_patients_write_record_nothing_and_staff_read_with_patients_read(
    world: World,
) -> None:
    manager_without = world.actor(Role.CLIENT)
    assert await world.consent(manager_without) == Failure(Forbidden(permission="patients:write"))
    listed = await ListConsents(world.uow, world.clock, world.patients)(
        ListConsentsQuery(world.actor(Role.CLIENT), world.maria.id)
    )
    assert listed == Failure(Forbidden(permission="patients:read"))


async def test_another_clinics_patient_is_not_found(world: World) -> None:
    intruder = world.actor(Role.OWNER, tenant=world.other.tenant.id)
    assert await world.consent(intruder) == Failure(NotFound("patient", str(world.maria.id)))
    listed = await ListConsents(world.uow, world.clock, world.patients)(
        ListConsentsQuery(intruder, world.maria.id)
    )
    assert listed == Failure(NotFound("patient", str(world.maria.id)))
    assert world.patients.access_log == []


async def test_staff_restricted_to_other_units_do_not_reach_the_patient(world: World) -> None:
    world.maria.unit_id = UnitId(new_uuid())
    elsewhere = Actor(
        user_id=UserId(new_uuid()),
        tenant_id=world.clinic.tenant.id,
        roles=frozenset({Role.RECEPTIONIST}),
        unit_ids=frozenset({UnitId(new_uuid())}),
    )
    assert await world.consent(elsewhere) == Failure(NotFound("patient", str(world.maria.id)))


# --- privacy settings ---------------------------------------------------------------------------------------


async def test_retention_defaults_to_twenty_years_and_the_owner_changes_it(world: World) -> None:
    get = GetPrivacySettings(world.uow)
    assert (await get(world.actor(Role.RECEPTIONIST))).unwrap() == PrivacySettings(20, None)
    update = UpdatePrivacySettings(world.uow, world.clock)
    changed = await update(
        UpdatePrivacySettingsCommand(world.owner, clinical_record_retention_years=25, context=CONTEXT)
    )
    assert changed == Success(PrivacySettings(25, T0))
    assert (await get(world.owner)).unwrap().clinical_record_retention_years == 25
    [event] = world.audit(AuditAction.PRIVACY_SETTINGS_CHANGED)
    assert dict(event.details) == {
        "old_clinical_record_retention_years": 20,
        "new_clinical_record_retention_years": 25,
    }
    # The other clinic still has the default.
    other_owner = world.actor(Role.OWNER, tenant=world.other.tenant.id)
    assert (await get(other_owner)).unwrap().clinical_record_retention_years == 20
    # The same value again changes nothing and records nothing.
    world.clock.advance(timedelta(hours=1))
    again = await update(UpdatePrivacySettingsCommand(world.owner, clinical_record_retention_years=25))
    assert again == Success(PrivacySettings(25, T0))
    assert len(world.audit(AuditAction.PRIVACY_SETTINGS_CHANGED)) == 1


@pytest.mark.parametrize("years", [0, 4, 101, -20])
async def test_retention_out_of_range_is_refused(world: World, years: int) -> None:
    refused = await UpdatePrivacySettings(world.uow, world.clock)(
        UpdatePrivacySettingsCommand(world.owner, clinical_record_retention_years=years)
    )
    assert isinstance(refused, Failure)
    assert refused.failure().errors[0].field == "clinical_record_retention_years"


async def test_only_tenant_write_changes_the_retention(world: World) -> None:
    refused = await UpdatePrivacySettings(world.uow, world.clock)(
        UpdatePrivacySettingsCommand(world.actor(Role.ADMIN), clinical_record_retention_years=30)
    )
    assert refused == Failure(Forbidden(permission="tenant:write"))


# --- export -----------------------------------------------------------------------------------------------


async def test_the_export_holds_every_section_and_is_logged(world: World) -> None:
    staff = world.actor(Role.RECEPTIONIST)
    await world.consent(staff, evidence="Termo 12")
    records = FakeSection("clinical_records", {"notes": [{"text": "Retorno em 30 dias"}]})
    admin = world.actor(Role.ADMIN)
    exported = (
        await world.exporter(records)(ExportPatientDataQuery(admin, world.maria.id, context=CONTEXT))
    ).unwrap()
    doc = exported.document
    assert doc["schema_version"] == 1
    assert doc["generated_at"] == T0.isoformat()
    assert doc["tenant"] == {
        "id": str(world.clinic.tenant.id),
        "name": "Clínica A",
        "slug": world.clinic.tenant.slug.value,
    }
    assert doc["patient"] == {"id": str(world.maria.id), **world.maria.identity}
    assert doc["clinical_records"] == {"notes": [{"text": "Retorno em 30 dias"}]}
    consents: Any = doc["consents"]
    [current] = consents["current"]
    assert current["evidence"] == "Termo 12"
    assert doc["anonymised"] is False
    assert doc["generated_by"] == {"user_id": str(admin.user_id), "api_key_id": None, "through": "staff"}
    assert records.asked == [world.maria.id]
    assert exported.filename == f"patient-{world.maria.id}-20260302.json"
    assert [(r.action, r.user_id, r.ip) for r in world.patients.access_log] == [
        ("export", admin.user_id, "203.0.113.7")
    ]
    [event] = world.audit(AuditAction.PATIENT_EXPORTED)
    assert dict(event.details) == {"through": "staff", "sections": "patient,consents,clinical_records"}


async def test_export_needs_patients_export_and_reaches_own_patients_only(world: World) -> None:
    exporter = world.exporter()
    receptionist = world.actor(Role.RECEPTIONIST)
    assert await exporter(ExportPatientDataQuery(receptionist, world.maria.id)) == Failure(
        Forbidden(permission="patients:export")
    )
    intruder = world.actor(Role.OWNER, tenant=world.other.tenant.id)
    assert await exporter(ExportPatientDataQuery(intruder, world.maria.id)) == Failure(
        NotFound("patient", str(world.maria.id))
    )
    granted = world.actor(Role.RECEPTIONIST, granted=frozenset({Permission.PATIENTS_EXPORT}))
    assert isinstance(await exporter(ExportPatientDataQuery(granted, world.maria.id)), Success)


async def test_the_patient_exports_her_own_data_in_the_portal(world: World) -> None:
    exporter = world.exporter()
    mine = (
        await exporter(ExportPatientDataQuery(world.maria_in_portal, world.maria.id, portal=True))
    ).unwrap()
    assert mine.document["generated_by"] == {
        "user_id": str(world.maria_user),
        "api_key_id": None,
        "through": "portal",
    }
    stranger = world.actor(Role.CLIENT)
    assert await exporter(ExportPatientDataQuery(stranger, world.maria.id, portal=True)) == Failure(
        NotFound("patient", str(world.maria.id))
    )


def test_sections_that_clash_are_a_wiring_error(world: World) -> None:
    with pytest.raises(ValueError, match="consents"):
        world.exporter(FakeSection("consents", {}))
    with pytest.raises(ValueError, match="tenant"):
        world.exporter(FakeSection("tenant", {}))


# --- anonymisation ----------------------------------------------------------------------------------------


def _anonymise(world: World, *steps: FakeStep) -> AnonymisePatient:
    return AnonymisePatient(world.uow, world.clock, world.patients, steps)


def _command(world: World, actor: Actor | None = None, **overrides: object) -> AnonymisePatientCommand:
    values: dict[str, object] = {
        "actor": actor or world.owner,
        "patient_id": world.maria.id,
        "reason": "Pedido do titular, protocolo 2026-17",
        "confirm": str(world.maria.id),
        "context": CONTEXT,
    }
    values.update(overrides)
    return AnonymisePatientCommand(**values)  # type: ignore[arg-type]


async def test_anonymisation_erases_the_identity_and_keeps_clinical_records_inside_retention(
    world: World,
) -> None:
    staff = world.actor(Role.RECEPTIONIST)
    await world.consent(staff, ConsentKind.MARKETING_CONTACT, GRANTED, evidence="Termo assinado por Maria")
    await world.consent(staff, ConsentKind.RESEARCH, WITHDRAWN)
    records = FakeStep("clinical_records", last_entry=T0 - timedelta(days=400))
    photos = FakeStep("attachments")

    outcome = (await _anonymise(world, records, photos)(_command(world))).unwrap()

    kept_until = datetime(2045, 1, 26, 12, tzinfo=UTC)  # the last entry (2025-01-26) plus 20 years
    assert outcome.clinical_records_kept_until == kept_until
    assert records.plans[0].keep_clinical_records
    assert photos.plans[0].keep_clinical_records
    assert world.maria.identity == {"name": f"Paciente anonimizado {str(world.maria.id)[:8]}"}
    assert world.maria.anonymised_at == T0
    for term in ("maria", "silva", "52998224725", "987654321"):
        assert world.patients.search(world.clinic.tenant.id, term) == []
    # Consents: the grant is withdrawn by the platform, every decision loses its free text and address.
    consents = sorted(world.uow.store.tables.consents.values(), key=lambda r: r.id)
    assert [(r.kind, r.decision, r.channel) for r in consents] == [
        ("marketing_contact", GRANTED, ConsentChannel.IN_PERSON),
        ("research", WITHDRAWN, ConsentChannel.IN_PERSON),
        ("marketing_contact", WITHDRAWN, ConsentChannel.SYSTEM),
    ]
    assert all(r.evidence is None and r.ip is None and r.user_agent is None for r in consents)
    assert all(r.redacted_at == T0 for r in consents)
    # The event and the audit trail carry ids and counts, never the identity.
    [event] = world.patients.events
    assert (event.patient_id, event.clinical_records_kept_until) == (world.maria.id, kept_until)
    assert event.topic == "patient.anonymised"
    [audited] = world.audit(AuditAction.PATIENT_ANONYMISED)
    assert audited.actor_user_id == world.owner.user_id
    assert dict(audited.details) == {
        "reason": "Pedido do titular, protocolo 2026-17",
        "repeated": False,
        "retention_years": 20,
        "last_clinical_entry_at": (T0 - timedelta(days=400)).isoformat(),
        "clinical_records_kept_until": kept_until.isoformat(),
        "consents.withdrawn": 1,
        "consents.redacted": 2,
        "patient.fields_erased": 3,
        "patient.search_terms_deleted": 4,
        "clinical_records.kept": 1,
        "attachments.kept": 1,
    }
    assert "Maria" not in repr([e.details for e in world.uow.store.tables.audit_events.values()])
    assert [r.action for r in world.patients.access_log] == ["anonymise"]


async def test_clinical_records_outside_the_retention_window_are_erased(world: World) -> None:
    async with world.uow(Scope(tenant_id=world.clinic.tenant.id)) as uow:
        await uow.privacy_settings.save(PrivacySettings(5, T0))
        await uow.commit()
    old = FakeStep("clinical_records", last_entry=T0 - timedelta(days=6 * 366))
    outcome = (await _anonymise(world, old)(_command(world))).unwrap()
    assert outcome.clinical_records_kept_until is None
    assert outcome.retention_years == 5
    assert old.plans[0].keep_clinical_records is False
    assert outcome.counts["clinical_records.erased"] == 1


async def test_the_window_runs_from_the_latest_entry_of_any_feature(world: World) -> None:
    notes = FakeStep("clinical_records", last_entry=T0 - timedelta(days=30 * 365))
    exams = FakeStep("exams", last_entry=T0 - timedelta(days=2))
    outcome = (await _anonymise(world, notes, exams)(_command(world))).unwrap()
    assert outcome.clinical_records_kept_until == years_after(T0 - timedelta(days=2), 20)
    assert notes.plans[0].keep_clinical_records


async def test_a_patient_without_clinical_entries_keeps_nothing_clinical(world: World) -> None:
    outcome = (await _anonymise(world, FakeStep("clinical_records"))(_command(world))).unwrap()
    assert outcome.clinical_records_kept_until is None


def test_years_after_handles_the_leap_day() -> None:
    assert years_after(datetime(2024, 2, 29, 9, tzinfo=UTC), 1) == datetime(2025, 2, 28, 9, tzinfo=UTC)
    assert years_after(datetime(2024, 2, 29, 9, tzinfo=UTC), 4) == datetime(2028, 2, 29, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"confirm": ""}, {"confirm"}),
        ({"confirm": str(new_uuid())}, {"confirm"}),
        ({"reason": "   "}, {"reason"}),
        ({"reason": "x" * 301, "confirm": "yes"}, {"reason", "confirm"}),
        ({"reason": "linha\x00"}, {"reason"}),
    ],
)
async def test_anonymisation_needs_a_reason_and_the_confirmation(
    world: World, overrides: dict[str, object], fields: set[str]
) -> None:
    refused = await _anonymise(world)(_command(world, None, **overrides))
    assert isinstance(refused, Failure)
    assert {e.field for e in refused.failure().errors} == fields
    assert world.maria.anonymised_at is None
    assert world.audit(AuditAction.PATIENT_ANONYMISED) == []


async def test_the_confirmation_ignores_case_and_spaces(world: World) -> None:
    confirmed = await _anonymise(world)(_command(world, confirm=f"  {str(world.maria.id).upper()} "))
    assert isinstance(confirmed, Success)


async def test_only_people_with_patients_anonymise_anonymise(world: World) -> None:
    for role in (Role.MANAGER, Role.PROFESSIONAL, Role.RECEPTIONIST, Role.CLIENT):
        refused = await _anonymise(world)(_command(world, world.actor(role)))
        assert refused == Failure(Forbidden(permission="patients:anonymise"))
    key = world.actor(Role.ADMIN, api_key_id=ApiKeyId(new_uuid()))
    assert await _anonymise(world)(_command(world, key)) == Failure(ApiKeyNotAllowed())
    intruder = world.actor(Role.OWNER, tenant=world.other.tenant.id)
    refused = await _anonymise(world)(_command(world, intruder))
    assert refused == Failure(NotFound("patient", str(world.maria.id)))
    assert world.maria.anonymised_at is None
    admin = await _anonymise(world)(_command(world, world.actor(Role.ADMIN)))
    assert isinstance(admin, Success)


async def test_after_anonymisation_nothing_more_is_recorded_and_the_portal_link_is_gone(world: World) -> None:
    await _anonymise(world)(_command(world))
    assert await world.consent(world.actor(Role.RECEPTIONIST)) == Failure(AlreadyAnonymised())
    assert await world.consent(world.maria_in_portal, portal=True) == Failure(
        NotFound("patient", str(world.maria.id))
    )
    exported = (await world.exporter()(ExportPatientDataQuery(world.owner, world.maria.id))).unwrap()
    assert exported.document["anonymised"] is True
    assert "Maria" not in repr(exported.document)
    assert "52998224725" not in repr(exported.document)


async def test_anonymising_again_reapplies_the_retention_rule(world: World) -> None:
    notes = FakeStep("clinical_records", last_entry=T0 - timedelta(days=365))
    first = (await _anonymise(world, notes)(_command(world))).unwrap()
    assert first.clinical_records_kept_until is not None
    world.clock.advance(timedelta(days=20 * 366))
    second = (await _anonymise(world, notes)(_command(world))).unwrap()
    assert second.clinical_records_kept_until is None
    assert notes.plans[-1].keep_clinical_records is False
    assert [dict(e.details)["repeated"] for e in world.audit(AuditAction.PATIENT_ANONYMISED)] == [False, True]
    assert second.counts["consents.redacted"] == 0
