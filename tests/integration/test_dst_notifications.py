"""A booking on a DST change day, end to end: its confirmation and both reminders reach a real SMTP
server through the outbox, the relay and RQ, each showing the appointment's local time in the unit's zone.

New York springs forward at 02:00 on 2026-03-08. The appointment is at 10:00 that day (EDT, UTC-04:00), so
the 24 h reminder falls due at 09:00 EST on the 7th (14:00 UTC: 24 absolute hours earlier, while the clock
on the wall moved 25) and the 2 h one at 08:00 EDT (12:00 UTC).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from redis import Redis
from returns.result import Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.jobs.relay import RelayOutbox
from clinic_core.scheduling.booking import BookAppointment, BookAppointmentCommand
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.values import Email
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher, a_person
from clinic_core.testing.catalog import a_procedure, a_professional
from clinic_infra.db.job_repositories import SqlOutboxSource
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.jobs.rq_queue import RqJobQueue
from clinic_infra.jobs.wiring import JobServices, app_engine, job_services
from clinic_infra.settings import Settings
from clinic_worker import jobs
from tests.integration.conftest import PASSWORD, unique_email
from tests.integration.job_world import JobDatabase, drain, job_db, jobs_redis
from tests.integration.smtp_world import SmtpServerUnderTest, plain_smtp

__all__ = ["job_db", "jobs_redis", "plain_smtp"]

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK)  # after the jump: EDT
BOOKED_AT = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
DAY_BEFORE_DUE = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # 09:00 EST
HOURS_BEFORE_DUE = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def test_confirmation_and_reminders_show_the_local_time_on_the_dst_day(
    job_db: JobDatabase, jobs_redis: Redis, plain_smtp: SmtpServerUnderTest, tmp_path: Path
) -> None:
    clock = FixedClock(BOOKED_AT)
    settings = Settings(
        database_url=job_db.url,
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=plain_smtp.port,
        smtp_tls="none",
    )

    def services() -> JobServices:
        return job_services(settings, app_engine(settings, pool_size=2), clock)

    jobs.use_services(services)
    uow = SqlUnitOfWorkFactory(job_db.engine)
    try:
        signed = (
            await SignUp(uow, FakePasswordHasher(), clock)(
                SignUpCommand(
                    tenant_name="Clínica Manhattan",
                    unit_name="Midtown",
                    timezone="America/New_York",
                    owner_name="Ana Souza",
                    email=unique_email("owner"),
                    password=PASSWORD,
                )
            )
        ).unwrap()
        tenant = signed.tenant.id
        procedure = a_procedure(tenant, "Consulta", minutes=30)
        professional = a_professional(
            tenant,
            signed.owner.id,
            procedure_ids=frozenset({procedure.id}),
            unit_ids=frozenset({signed.unit.id}),
        )
        patient = a_person(tenant, "Beatriz Lima", emails=(Email("bia@example.com"),))
        async with uow(Scope(tenant_id=tenant)) as tx:
            await tx.procedures.add(procedure)
            await tx.professionals.add(professional)
            await tx.patients.add(patient)
            await tx.commit()
        actor = Actor(
            user_id=signed.owner.id, tenant_id=tenant, roles=frozenset({Role.OWNER}), unit_ids=frozenset()
        )
        booked = await BookAppointment(uow, clock)(
            BookAppointmentCommand(
                actor=actor,
                patient_id=str(patient.id),
                professional_id=str(professional.id),
                unit_id=str(signed.unit.id),
                start=START.astimezone(UTC),
                procedure_ids=(str(procedure.id),),
            )
        )
        assert isinstance(booked, Success), booked

        async def deliver() -> list[EmailMessage]:
            await RelayOutbox(SqlOutboxSource(job_db.engine), RqJobQueue(jobs_redis), clock)()
            await asyncio.to_thread(drain, jobs_redis)
            return [r.message for r in plain_smtp.inbox.received if r.recipients == ["bia@example.com"]]

        sweeps = services()  # the worker's recurring job, run here at the chosen instants
        reminders = sweeps.recurring.get("appointment-reminders")
        assert reminders is not None

        async def remind_at(at: datetime) -> None:
            clock.advance(at - clock.now())
            await reminders.work()

        [confirmation] = await deliver()
        # Just before the 24 h reminder is due: nothing yet.
        await remind_at(DAY_BEFORE_DUE - timedelta(minutes=1))
        assert len(await deliver()) == 1
        await remind_at(DAY_BEFORE_DUE)
        await remind_at(DAY_BEFORE_DUE + timedelta(minutes=1))  # a second sweep queues nothing more
        sent = await deliver()
        assert len(sent) == 2
        await remind_at(HOURS_BEFORE_DUE)
        sent = await deliver()
        assert len(sent) == 3
        await sweeps.engine.dispose()
    finally:
        await asyncio.to_thread(jobs.use_services, jobs.default_services)  # closes the jobs' own event loop

    for message in sent:
        text = _text(message)
        assert "10:00" in text, text
        assert "UTC-04:00" in text, text
        assert "UTC-05:00" not in text
    assert "09:00" not in _text(confirmation)
    assert [m["Message-ID"] for m in sent] == list(dict.fromkeys(m["Message-ID"] for m in sent))
