"""The whole path of an email: a sign-up commits its outbox row, the relay hands it to RQ, a worker runs
the email handler, and the message reaches a real SMTP server; without one, it lands as an .eml file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from redis import Redis

from clinic_core.identity.verification import VerifyEmail, VerifyEmailCommand
from clinic_core.jobs.relay import RelayOutbox
from clinic_core.shared.clock import SystemClock
from clinic_infra.db.job_repositories import SqlOutboxSource
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.jobs.rq_queue import RqJobQueue
from clinic_infra.jobs.wiring import JobServices, app_engine, job_services
from clinic_infra.mail.files import newest_eml, read_eml
from clinic_infra.settings import Settings
from clinic_worker import jobs
from tests.integration.conftest import sign_up
from tests.integration.job_world import JobDatabase, drain, job_db, jobs_redis
from tests.integration.smtp_world import SmtpServerUnderTest, plain_smtp

__all__ = ["job_db", "jobs_redis", "plain_smtp"]

PUBLIC_URL = "https://api.clinic.example.com"


def use_settings(settings: Settings) -> None:
    def services() -> JobServices:
        return job_services(settings, app_engine(settings, pool_size=2), SystemClock())

    jobs.use_services(services)


@pytest.fixture
def worker_settings(job_db: JobDatabase, tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(
        database_url=job_db.url,
        data_dir=tmp_path,
        public_url=PUBLIC_URL,
        mail_from="Clinic <no-reply@clinic.example.com>",
    )
    yield settings
    jobs.use_services(jobs.default_services)


async def relay_and_drain(job_db: JobDatabase, redis: Redis) -> None:
    await RelayOutbox(SqlOutboxSource(job_db.engine), RqJobQueue(redis), SystemClock())()
    await asyncio.to_thread(drain, redis)


def token_in(text: str) -> str:
    link = next(word for word in text.split() if word.startswith(PUBLIC_URL))
    assert link.startswith(f"{PUBLIC_URL}/v1/auth/verify-email?token=")
    return parse_qs(urlsplit(link).query)["token"][0]


async def test_a_sign_up_s_verification_email_reaches_the_smtp_server_through_rq(
    job_db: JobDatabase, jobs_redis: Redis, worker_settings: Settings, plain_smtp: SmtpServerUnderTest
) -> None:
    use_settings(
        worker_settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": plain_smtp.port, "smtp_tls": "none"}
        )
    )
    uow = SqlUnitOfWorkFactory(job_db.engine)
    signed = await sign_up(uow, tenant_name="Clínica Postal")

    await relay_and_drain(job_db, jobs_redis)

    ours = [r for r in plain_smtp.inbox.received if r.recipients == [signed.owner.email.value]]
    assert len(ours) == 1
    message = ours[0].message
    assert message["Subject"] == "Confirme seu e-mail para Clínica Postal"
    assert message["Message-ID"].endswith(".email.identity.email_verification_requested@clinic.example.com>")
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    token = token_in(text)
    assert token in html
    assert (await VerifyEmail(uow, SystemClock())(VerifyEmailCommand(token))).unwrap() is None
    assert (await SqlOutboxSource(job_db.engine).backlog()).pending == 0


async def test_without_an_smtp_server_the_email_is_an_eml_file_in_the_mail_directory(
    job_db: JobDatabase, jobs_redis: Redis, worker_settings: Settings
) -> None:
    use_settings(worker_settings)
    signed = await sign_up(SqlUnitOfWorkFactory(job_db.engine), tenant_name="Clínica Arquivo")

    await relay_and_drain(job_db, jobs_redis)

    newest = newest_eml(worker_settings.effective_mail_dir)
    assert newest is not None
    message = read_eml(newest)
    assert message["To"] == signed.owner.email.value
    assert message["Subject"] == "Confirme seu e-mail para Clínica Arquivo"


async def test_one_outbox_row_relayed_twice_sends_one_email(
    job_db: JobDatabase, jobs_redis: Redis, worker_settings: Settings, plain_smtp: SmtpServerUnderTest
) -> None:
    """A relay that died after RQ took its jobs and before its commit hands the rows over again; once RQ
    has forgotten the finished jobs too, only the receipts stand between the row and a second email."""
    use_settings(
        worker_settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": plain_smtp.port, "smtp_tls": "none"}
        )
    )
    signed = await sign_up(SqlUnitOfWorkFactory(job_db.engine), tenant_name="Clínica Uma Vez")
    await relay_and_drain(job_db, jobs_redis)
    for forget_jobs in (False, True):
        if forget_jobs:
            jobs_redis.flushdb()
        await job_db.as_owner("UPDATE outbox SET published_at = NULL, handled_at = NULL")
        await relay_and_drain(job_db, jobs_redis)

    ours = [r for r in plain_smtp.inbox.received if r.recipients == [signed.owner.email.value]]
    assert len(ours) == 1
