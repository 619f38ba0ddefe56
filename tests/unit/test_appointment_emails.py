"""Appointment and staff emails on the in-memory fakes: who gets them (the patient, else the primary
guardian, else nobody), what is skipped as stale (a cancelled or moved appointment, a closed offer), the
clinic's details and language, and times in the unit's zone on both sides of a DST change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic_core.application.unit_of_work import Scope
from clinic_core.catalog.model import Procedure, Professional
from clinic_core.identity.model import User
from clinic_core.jobs.model import Outcome
from clinic_core.patients.model import GuardianLink, GuardianRole, Patient, PatientStatus
from clinic_core.scheduling.appointments import (
    Appointment,
    AppointmentId,
    AppointmentItem,
    BookingSource,
    By,
)
from clinic_core.scheduling.reminder_events import AppointmentReminderDue, ReminderKind
from clinic_core.scheduling.waitlist_model import (
    EntryStatus,
    OfferId,
    OfferStatus,
    WaitlistEntry,
    WaitlistEntryId,
    WaitlistOffer,
    WaitlistOfferMade,
)
from clinic_core.shared.ids import MembershipId, TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Email, PersonName, Phone, Slug, TimeZone
from clinic_core.tenancy.model import (
    Address,
    Locale,
    Membership,
    Plan,
    Tenant,
    TenantStatus,
    Unit,
)
from clinic_core.tenancy.permissions import Role
from clinic_core.testing import a_person, a_procedure, a_professional, an_animal
from clinic_core.webhooks.events import WebhookEndpointDisabled
from tests.unit.mail_world import MailWorld

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
AFTER_DST = datetime(2026, 3, 8, 10, tzinfo=NEW_YORK)  # EDT, UTC-04:00: the clocks moved at 02:00
BEFORE_DST = datetime(2026, 3, 7, 10, tzinfo=NEW_YORK)  # EST, UTC-05:00


@dataclass
class Clinic:
    world: MailWorld
    tenant: Tenant
    unit: Unit
    procedure: Procedure
    professional: Professional

    async def add(self, *things: object) -> None:
        async with self.world.uow(Scope(tenant_id=self.tenant.id)) as tx:
            for thing in things:
                match thing:
                    case Patient():
                        await tx.patients.add(thing)
                    case Appointment():
                        await tx.appointments.add(thing)
                    case User():
                        await tx.users.add(thing)
                    case Membership():
                        await tx.memberships.add(thing)
                    case WaitlistEntry():
                        await tx.waitlist.add_entry(thing)
                    case WaitlistOffer():
                        await tx.waitlist.add_offer(thing)
                    case _:
                        raise TypeError(thing)
            await tx.commit()

    async def guardian(self, patient: Patient, guardian: Patient) -> None:
        async with self.world.uow(Scope(tenant_id=self.tenant.id)) as tx:
            link = GuardianLink(
                tenant_id=self.tenant.id,
                patient_id=patient.id,
                guardian_id=guardian.id,
                role=GuardianRole.OWNER,
                is_primary=True,
                created_at=NOW,
            )
            await tx.guardians.replace(patient.id, [link])
            await tx.commit()

    def appointment(self, patient: Patient, start: datetime) -> Appointment:
        item = AppointmentItem(
            procedure_id=self.procedure.id,
            name=self.procedure.name,
            duration_minutes=self.procedure.duration_minutes,
            price=self.procedure.price,
        )
        return Appointment.book(
            tenant_id=self.tenant.id,
            id=AppointmentId(new_uuid()),
            patient_id=patient.id,
            professional_id=self.professional.id,
            unit_id=self.unit.id,
            room_id=None,
            start=start.astimezone(UTC),
            items=(item,),
            booked_by=By(),
            source=BookingSource.STAFF,
            at=NOW,
        )

    async def booked(self, patient: Patient, start: datetime = AFTER_DST) -> Appointment:
        appointment = self.appointment(patient, start)
        await self.add(appointment)
        return appointment

    async def change(self, appointment: Appointment, move: str, *args: object) -> None:
        async with self.world.uow(Scope(tenant_id=self.tenant.id)) as tx:
            stored = await tx.appointments.get(appointment.id)
            assert stored is not None
            getattr(stored, move)(*args).unwrap()
            assert await tx.appointments.save(stored)
            await tx.commit()

    async def reminder(self, appointment: Appointment, start: datetime | None = None) -> None:
        async with self.world.uow(Scope(tenant_id=self.tenant.id)) as tx:
            tx.record(
                AppointmentReminderDue(
                    tenant_id=self.tenant.id,
                    occurred_at=NOW,
                    appointment_id=appointment.id,
                    patient_id=appointment.patient_id,
                    professional_id=appointment.professional_id,
                    unit_id=appointment.unit_id,
                    start=start or appointment.start,
                    kind=ReminderKind.DAY_BEFORE,
                )
            )
            await tx.commit()


async def a_clinic(locale: Locale = Locale.PT_BR) -> Clinic:
    world = MailWorld()
    world.clock.advance(NOW - world.clock.now())
    tenant_id = TenantId(new_uuid())
    tenant = Tenant(
        id=tenant_id,
        slug=Slug("clinica-norte"),
        name="Clínica Norte",
        plan=Plan.CLINIC,
        status=TenantStatus.ACTIVE,
        created_at=NOW,
        locale=locale,
        contact_email=Email("contato@norte.example.com"),
    )
    unit = Unit(
        tenant_id=tenant_id,
        id=UnitId(new_uuid()),
        name="Manhattan",
        timezone=TimeZone("America/New_York"),
        created_at=NOW,
        phone=Phone("+12125550123"),
        address=Address(
            line1="5th Avenue, 100", city="New York", state="NY", postal_code="10001", country="US"
        ),
    )
    procedure = a_procedure(tenant_id, "Consulta de rotina", minutes=30)
    professional = a_professional(
        tenant_id,
        UserId(new_uuid()),
        "Dra. Helena Prado",
        procedure_ids=frozenset({procedure.id}),
        unit_ids=frozenset({unit.id}),
    )
    async with world.uow(Scope(tenant_id=tenant_id)) as tx:
        await tx.tenants.add(tenant)
        await tx.units.add(unit)
        await tx.procedures.add(procedure)
        await tx.professionals.add(professional)
        await tx.commit()
    return Clinic(world, tenant, unit, procedure, professional)


def bia(clinic: Clinic, **values: object) -> Patient:
    return a_person(clinic.tenant.id, "Beatriz Lima", emails=(Email("bia@example.com"),), **values)


async def test_a_booking_is_confirmed_to_the_patient_with_the_clinic_and_the_time_in_the_unit_zone() -> None:
    clinic = await a_clinic()
    patient = bia(clinic)
    await clinic.add(patient)
    await clinic.booked(patient)

    runs = await clinic.world.deliver("appointment.created")

    assert [r.outcome for r in runs] == [Outcome.DONE]
    message = clinic.world.only("bia@example.com")
    assert message.subject.startswith("Agendamento feito: domingo, 8 de março de 2026, 10:00")
    assert message.reply_to == "contato@norte.example.com"
    for shown in (
        "Olá, Beatriz Lima.",
        "10:00 (Horário de Verão do Leste, UTC-04:00)",
        "Consulta de rotina",
        "Dra. Helena Prado",
        "Clínica Norte - Manhattan",
        "5th Avenue, 100, New York - NY, 10001",
        "+1 212-555-0123",
        "contato@norte.example.com",
    ):
        assert shown in message.text, shown
    for shown in ("10:00 (Horário de Verão do Leste, UTC-04:00)", "Consulta de rotina", "Dra. Helena Prado"):
        assert shown in message.html, shown


async def test_times_follow_the_zone_across_dst_and_the_tenant_locale() -> None:
    clinic = await a_clinic(Locale.EN)
    patient = bia(clinic)
    await clinic.add(patient)
    await clinic.booked(patient, BEFORE_DST)
    await clinic.booked(patient, AFTER_DST)

    await clinic.world.deliver("appointment.created")

    before, after = clinic.world.mailer.to("bia@example.com")
    assert "Saturday, March 7, 2026, 10:00 (Eastern Standard Time, UTC-05:00)" in before.text
    assert "Sunday, March 8, 2026, 10:00 (Eastern Daylight Time, UTC-04:00)" in after.text
    assert (
        after.subject == "Appointment booked: Sunday, March 8, 2026, 10:00 (Eastern Daylight Time, UTC-04:00)"
    )
    assert "Hello, Beatriz Lima." in after.text


async def test_an_animal_s_emails_go_to_its_primary_guardian() -> None:
    clinic = await a_clinic()
    tutor = bia(clinic)
    rex = an_animal(clinic.tenant.id, "Rex")
    await clinic.add(tutor, rex)
    await clinic.guardian(rex, tutor)
    await clinic.booked(rex)

    await clinic.world.deliver()

    message = clinic.world.only("bia@example.com")
    assert "Olá, Beatriz Lima." in message.text
    assert "Paciente: Rex" in message.text


async def test_nobody_to_write_to_is_a_skip() -> None:
    clinic = await a_clinic()
    no_address = a_person(clinic.tenant.id, "Sem Email")
    orphan = an_animal(clinic.tenant.id, "Tom")
    anonymised = bia(clinic, anonymised_at=NOW)
    deceased = bia(clinic, status=PatientStatus.DECEASED, deceased_at=NOW)
    await clinic.add(no_address, orphan, anonymised, deceased)
    for patient in (no_address, orphan, anonymised, deceased):
        await clinic.booked(patient, AFTER_DST + timedelta(hours=len(clinic.world.uow.store.outbox)))

    runs = await clinic.world.deliver()

    assert [r.outcome for r in runs] == [Outcome.SKIPPED] * 4
    assert clinic.world.mailer.sent == []


async def test_a_confirmation_of_an_appointment_cancelled_or_moved_since_is_not_sent() -> None:
    clinic = await a_clinic()
    patient = bia(clinic)
    await clinic.add(patient)
    cancelled = await clinic.booked(patient)
    moved = await clinic.booked(patient, AFTER_DST + timedelta(days=1))
    await clinic.change(cancelled, "cancel", By(), NOW)
    await clinic.change(moved, "reschedule", (AFTER_DST + timedelta(days=2)).astimezone(UTC), By(), NOW)

    created = await clinic.world.deliver("appointment.created")
    assert [r.outcome for r in created] == [Outcome.SKIPPED, Outcome.SKIPPED]

    assert [r.outcome for r in await clinic.world.deliver("appointment.cancelled")] == [Outcome.DONE]
    assert [r.outcome for r in await clinic.world.deliver("appointment.rescheduled")] == [Outcome.DONE]
    cancellation, move = clinic.world.mailer.to("bia@example.com")
    assert cancellation.subject.startswith("Agendamento cancelado: domingo, 8 de março de 2026, 10:00")
    assert move.subject.startswith("Horário alterado para terça-feira, 10 de março de 2026, 10:00")
    assert "que era em segunda-feira, 9 de março de 2026, 10:00" in move.text


async def test_a_reminder_is_sent_only_while_the_appointment_is_upcoming_at_the_same_time() -> None:
    clinic = await a_clinic(Locale.EN)
    patient = bia(clinic)
    await clinic.add(patient)
    kept = await clinic.booked(patient)
    stale = await clinic.booked(patient, AFTER_DST + timedelta(days=1))
    cancelled = await clinic.booked(patient, AFTER_DST + timedelta(days=2))
    await clinic.change(cancelled, "cancel", By(), NOW)
    await clinic.reminder(kept)
    await clinic.reminder(stale, start=stale.start - timedelta(hours=1))  # the time before a move
    await clinic.reminder(cancelled)

    runs = await clinic.world.deliver("appointment.reminder_due")

    assert [r.outcome for r in runs] == [Outcome.DONE, Outcome.SKIPPED, Outcome.SKIPPED]
    message = clinic.world.only("bia@example.com")
    assert (
        message.subject
        == "Reminder: Sunday, March 8, 2026, 10:00 (Eastern Daylight Time, UTC-04:00) at Clínica Norte"
    )


async def test_notices_delivered_too_late_are_not_sent() -> None:
    """After an outage or hours of retries: a 24 h reminder once the 2 h one is due, or any notice once the
    appointment has started, would only confuse."""
    clinic = await a_clinic(Locale.EN)
    patient = bia(clinic)
    await clinic.add(patient)
    booked = await clinic.booked(patient)
    await clinic.reminder(booked)  # the 24 h one
    clinic.world.clock.advance(booked.start - timedelta(hours=2) - clinic.world.clock.now())
    assert [r.outcome for r in await clinic.world.deliver("appointment.reminder_due")] == [Outcome.SKIPPED]
    clinic.world.clock.advance(timedelta(hours=2, minutes=1))
    assert [r.outcome for r in await clinic.world.deliver("appointment.created")] == [Outcome.SKIPPED]
    assert clinic.world.mailer.sent == []


async def test_a_waitlist_offer_is_mailed_while_it_is_open() -> None:
    clinic = await a_clinic()
    patient = bia(clinic)
    await clinic.add(patient)
    entry = WaitlistEntry(
        tenant_id=clinic.tenant.id,
        id=WaitlistEntryId(new_uuid()),
        patient_id=patient.id,
        procedure_id=clinic.procedure.id,
        professional_id=None,
        unit_id=clinic.unit.id,
        earliest=NOW,
        latest=NOW + timedelta(days=30),
        status=EntryStatus.OFFERED,
        created_by=By(),
        created_at=NOW,
        updated_at=NOW,
    )
    offers = []
    for expires in (NOW + timedelta(hours=2), NOW - timedelta(minutes=1)):
        offer = WaitlistOffer(
            tenant_id=clinic.tenant.id,
            id=OfferId(new_uuid()),
            entry_id=entry.id,
            freed_by=AppointmentId(new_uuid()),
            professional_id=clinic.professional.id,
            unit_id=clinic.unit.id,
            room_id=None,
            start=AFTER_DST.astimezone(UTC),
            end=(AFTER_DST + timedelta(minutes=30)).astimezone(UTC),
            status=OfferStatus.OPEN,
            expires_at=expires,
            created_at=NOW,
        )
        offer.events.append(
            WaitlistOfferMade(
                tenant_id=clinic.tenant.id,
                occurred_at=NOW,
                offer_id=offer.id,
                entry_id=entry.id,
                patient_id=patient.id,
                professional_id=offer.professional_id,
                unit_id=offer.unit_id,
                start=offer.start,
                end=offer.end,
                expires_at=offer.expires_at,
            )
        )
        offers.append(offer)
    await clinic.add(entry, *offers)

    runs = await clinic.world.deliver(WaitlistOfferMade.topic)

    assert [r.outcome for r in runs] == [Outcome.DONE, Outcome.SKIPPED]
    message = clinic.world.only("bia@example.com")
    assert "Consulta de rotina" in message.text
    assert "até domingo, 1 de março de 2026, 09:00 (Horário Padrão do Leste, UTC-05:00)" in message.text


async def test_a_disabled_webhook_is_told_to_each_owner_and_admin() -> None:
    clinic = await a_clinic(Locale.EN)
    people = {
        role: User(
            id=UserId(new_uuid()),
            email=Email(f"{role.value}@norte.example.com"),
            name=PersonName(f"The {role.value}"),
            password_hash="x",
            created_at=NOW,
        )
        for role in (Role.OWNER, Role.ADMIN, Role.RECEPTIONIST)
    }
    memberships = [
        Membership(
            tenant_id=clinic.tenant.id,
            id=MembershipId(new_uuid()),
            user_id=user.id,
            roles=frozenset({role}),
            unit_ids=frozenset(),
            created_at=NOW,
        )
        for role, user in people.items()
    ]
    await clinic.add(*people.values(), *memberships)
    async with clinic.world.uow(Scope(tenant_id=clinic.tenant.id)) as tx:
        tx.record(
            WebhookEndpointDisabled(
                tenant_id=clinic.tenant.id,
                occurred_at=NOW,
                endpoint_id=new_uuid(),
                url="https://hooks.example.com/clinic",
                failed_deliveries=20,
                disabled_at=NOW,
            )
        )
        await tx.commit()

    runs = await clinic.world.deliver(WebhookEndpointDisabled.topic)

    assert [r.outcome for r in runs] == [Outcome.DONE]
    sent = {m.to: m for m in clinic.world.mailer.sent}
    assert set(sent) == {"owner@norte.example.com", "admin@norte.example.com"}
    assert "https://hooks.example.com/clinic" in sent["admin@norte.example.com"].text
    ids = {m.message_id for m in sent.values()}
    assert len(ids) == 2, "each recipient's message has its own Message-ID"
