"""Consents and privacy settings on PostgreSQL (as the app role) and SQLite: round trips, the tenant
boundary, and consents the application can append to and redact but never rewrite nor delete."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.privacy.model import (
    ConsentChannel,
    ConsentDecision,
    ConsentId,
    ConsentRecord,
    PrivacySettings,
)
from clinic_core.privacy.settings import UpdatePrivacySettings, UpdatePrivacySettingsCommand
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_core.testing import a_person
from clinic_infra.db.privacy_tables import patient_consents
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import sign_up

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _decision(tenant_id: TenantId, patient_id: UUID, minutes: int, **extra: object) -> ConsentRecord:
    values: dict[str, object] = {
        "tenant_id": tenant_id,
        "id": ConsentId(new_uuid()),
        "patient_id": patient_id,
        "kind": "marketing_contact",
        "decision": ConsentDecision.GRANTED,
        "version": "2026-01",
        "recorded_at": T0 + timedelta(minutes=minutes),
        "channel": ConsentChannel.IN_PERSON,
        "ip": "2001:db8::7",
        "user_agent": "Clinic/1.0",
        "evidence": "Termo assinado, pasta 12",
    }
    values.update(extra)
    return ConsentRecord(**values)  # type: ignore[arg-type]


async def _patient(uow: SqlUnitOfWorkFactory, tenant_id: TenantId) -> UUID:
    patient = a_person(tenant_id)
    async with uow(Scope(tenant_id=tenant_id)) as work:
        await work.patients.add(patient)
        await work.commit()
    return patient.id


async def _write(uow: SqlUnitOfWorkFactory, *records: ConsentRecord) -> None:
    async with uow(Scope(tenant_id=records[0].tenant_id)) as work:
        for record in records:
            await work.consents.add(record)
        await work.commit()


async def test_consents_round_trip_and_redact(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    tenant = clinic.tenant.id
    patient = await _patient(sql_uow, tenant)
    written = [
        _decision(tenant, patient, 0, recorded_by_user_id=clinic.owner.id),
        _decision(
            tenant,
            patient,
            5,
            decision=ConsentDecision.WITHDRAWN,
            channel=ConsentChannel.API,
            recorded_by_api_key_id=new_uuid(),
            evidence=None,
        ),
    ]
    await _write(sql_uow, *written)
    await _write(sql_uow, _decision(tenant, await _patient(sql_uow, tenant), 1))  # another patient's
    async with sql_uow(Scope(tenant_id=tenant), read_only=True) as uow:
        read = sorted(await uow.consents.of_patient(patient), key=lambda r: r.id)
    assert read == written  # every field survives the trip

    at = T0 + timedelta(days=1)
    async with sql_uow(Scope(tenant_id=tenant)) as uow:
        assert await uow.consents.redact(patient, at) == 2
        assert await uow.consents.redact(patient, at + timedelta(hours=1)) == 0  # once only
        await uow.commit()
    async with sql_uow(Scope(tenant_id=tenant), read_only=True) as uow:
        redacted = sorted(await uow.consents.of_patient(patient), key=lambda r: r.id)
    assert [(r.ip, r.user_agent, r.evidence, r.redacted_at) for r in redacted] == [(None, None, None, at)] * 2
    assert [(r.kind, r.decision, r.version, r.channel) for r in redacted] == [
        (r.kind, r.decision, r.version, r.channel) for r in written
    ]


async def test_another_clinics_consents_are_out_of_reach(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic_a, clinic_b = await sign_up(sql_uow, "Clínica A"), await sign_up(sql_uow, "Clínica B")
    patient = await _patient(sql_uow, clinic_a.tenant.id)
    await _write(sql_uow, _decision(clinic_a.tenant.id, patient, 0))
    async with sql_uow(Scope(tenant_id=clinic_b.tenant.id)) as uow:
        assert await uow.consents.of_patient(patient) == []
        assert await uow.consents.redact(patient, T0) == 0
        await uow.commit()
    async with sql_uow(Scope(tenant_id=clinic_a.tenant.id), read_only=True) as uow:
        [kept] = await uow.consents.of_patient(patient)
    assert kept.evidence is not None


REWRITES = [
    "UPDATE patient_consents SET decision = 'withdrawn'",
    "UPDATE patient_consents SET kind = 'research'",
    "UPDATE patient_consents SET recorded_at = recorded_at",
    "UPDATE patient_consents SET evidence = 'outra coisa'",
    "UPDATE patient_consents SET ip = NULL",  # not a redaction: redacted_at stays NULL
    "DELETE FROM patient_consents",
]


@pytest.mark.parametrize("statement", REWRITES)
async def test_the_app_role_cannot_rewrite_consents_on_postgres(
    pg_app_engine: AsyncEngine, statement: str
) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    clinic = await sign_up(uow)
    await _write(uow, _decision(clinic.tenant.id, await _patient(uow, clinic.tenant.id), 0))
    async with pg_app_engine.connect() as connection:
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(clinic.tenant.id)}
        )
        with pytest.raises(DBAPIError, match=r"permission denied|append-only"):
            await connection.execute(text(statement))


@pytest.mark.parametrize("statement", REWRITES)
async def test_sqlite_refuses_rewriting_consents_too(sqlite_engine: AsyncEngine, statement: str) -> None:
    uow = SqlUnitOfWorkFactory(sqlite_engine)
    clinic = await sign_up(uow)
    await _write(uow, _decision(clinic.tenant.id, await _patient(uow, clinic.tenant.id), 0))
    async with sqlite_engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text(statement))


async def test_a_redaction_a_second_time_is_refused_by_the_database(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    patient = await _patient(sql_uow, clinic.tenant.id)
    await _write(sql_uow, _decision(clinic.tenant.id, patient, 0))
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        await uow.consents.redact(patient, T0)
        await uow.commit()
    async with sql_uow(Scope(tenant_id=clinic.tenant.id)) as uow:
        connection = await uow.connection()
        again = (
            update(patient_consents)
            .where(patient_consents.c.patient_id == patient)
            .values(redacted_at=T0 + timedelta(days=1))
        )
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(again)


async def test_a_consent_must_be_about_a_patient_of_the_clinic(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic_a, clinic_b = await sign_up(sql_uow, "Clínica A"), await sign_up(sql_uow, "Clínica B")
    of_b = await _patient(sql_uow, clinic_b.tenant.id)
    for patient in (new_uuid(), of_b):
        with pytest.raises(DBAPIError):
            await _write(sql_uow, _decision(clinic_a.tenant.id, patient, 0))


async def test_privacy_settings_default_and_save(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic_a, clinic_b = await sign_up(sql_uow, "Clínica A"), await sign_up(sql_uow, "Clínica B")
    async with sql_uow(Scope(tenant_id=clinic_a.tenant.id)) as uow:
        assert await uow.privacy_settings.get() == PrivacySettings()
        await uow.privacy_settings.save(PrivacySettings(30, T0))
        await uow.privacy_settings.save(PrivacySettings(35, T0 + timedelta(hours=1)))
        await uow.commit()
    async with sql_uow(Scope(tenant_id=clinic_a.tenant.id), read_only=True) as uow:
        assert await uow.privacy_settings.get() == PrivacySettings(35, T0 + timedelta(hours=1))
    async with sql_uow(Scope(tenant_id=clinic_b.tenant.id), read_only=True) as uow:
        assert await uow.privacy_settings.get() == PrivacySettings()


async def test_two_first_changes_at_once_both_land(sql_uow: SqlUnitOfWorkFactory) -> None:
    """Both find no row and insert; the loser of the primary key reads the winner's row and updates it."""
    clinic = await sign_up(sql_uow)
    owner = Actor(
        user_id=clinic.owner.id,
        tenant_id=clinic.tenant.id,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
    )
    update = UpdatePrivacySettings(sql_uow, FixedClock(T0))
    results = await asyncio.gather(
        *(update(UpdatePrivacySettingsCommand(owner, clinical_record_retention_years=y)) for y in (30, 40))
    )
    assert all(r.unwrap().clinical_record_retention_years in {30, 40} for r in results)
    async with sql_uow(Scope(tenant_id=clinic.tenant.id), read_only=True) as uow:
        assert (await uow.privacy_settings.get()).clinical_record_retention_years in {30, 40}
