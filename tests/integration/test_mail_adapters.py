"""The mail adapters for real: SMTP against an aiosmtpd server this test starts (plain, and STARTTLS with
AUTH), refusals and outages told apart, and .eml files written atomically and read back."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinic_core.notifications.ports import EmailMessage, MailerUnavailable, RecipientRejected
from clinic_core.shared.clock import FixedClock
from clinic_infra.mail.files import FileMailer, newest_eml, read_eml
from clinic_infra.mail.smtp import SmtpMailer, SmtpServer
from clinic_infra.settings import SmtpTls
from tests.integration.smtp_world import (
    BUSY,
    PASSWORD,
    REFUSED,
    USERNAME,
    SmtpServerUnderTest,
    free_port,
    plain_smtp,
    secure_smtp,
)

__all__ = ["plain_smtp", "secure_smtp"]

SENDER = "Clínica Norte <no-reply@clinic.example.com>"


def a_message(to: str = "bia@example.com", subject: str = "Agendamento feito: Clínica Norte") -> EmailMessage:
    return EmailMessage(
        to=to,
        subject=subject,
        text="Olá, Beatriz.\nSeu horário está agendado.\n",
        html="<p>Olá, <strong>Beatriz</strong>.</p>",
        reply_to="contato@norte.example.com",
        headers={"Message-ID": "<0193.email.appointment.created@clinic.example.com>"},
    )


def body(message: object, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))  # type: ignore[attr-defined]
    assert part is not None, f"no text/{subtype} part"
    content: str = part.get_content()
    return content.replace("\r\n", "\n")  # RFC 5322 lines end in CRLF


async def test_a_message_reaches_a_plain_server_with_its_parts_and_headers(
    plain_smtp: SmtpServerUnderTest,
) -> None:
    mailer = SmtpMailer(SmtpServer("127.0.0.1", plain_smtp.port, tls=SmtpTls.NONE), SENDER)

    await mailer.send(a_message())

    [received] = plain_smtp.inbox.received
    assert received.sender == "no-reply@clinic.example.com"
    assert received.recipients == ["bia@example.com"]
    parsed = received.message
    assert parsed["Subject"] == "Agendamento feito: Clínica Norte"
    assert parsed["From"] == SENDER
    assert parsed["To"] == "bia@example.com"
    assert parsed["Reply-To"] == "contato@norte.example.com"
    assert parsed["Message-ID"] == "<0193.email.appointment.created@clinic.example.com>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] is not None
    assert body(parsed, "plain") == "Olá, Beatriz.\nSeu horário está agendado.\n"
    assert "<strong>Beatriz</strong>" in body(parsed, "html")


async def test_starttls_and_auth_with_a_certificate_the_mailer_trusts(
    secure_smtp: SmtpServerUnderTest,
) -> None:
    assert secure_smtp.certificate is not None
    server = SmtpServer(
        "127.0.0.1",
        secure_smtp.port,
        tls=SmtpTls.STARTTLS,
        username=USERNAME,
        password=PASSWORD,
        tls_context=secure_smtp.certificate.client_context(),
    )

    await SmtpMailer(server, SENDER).send(a_message())

    [received] = secure_smtp.inbox.received
    assert received.authenticated_as == USERNAME
    assert received.message["Subject"] == "Agendamento feito: Clínica Norte"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"password": "wrong"}, id="wrong password"),
        pytest.param({"tls": SmtpTls.NONE}, id="no STARTTLS where the server requires it"),
        pytest.param({"tls_context": None}, id="a certificate nobody vouches for"),
    ],
)
async def test_what_the_secure_server_refuses_is_an_outage_to_retry(
    secure_smtp: SmtpServerUnderTest, change: dict[str, object]
) -> None:
    assert secure_smtp.certificate is not None
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": secure_smtp.port,
        "tls": SmtpTls.STARTTLS,
        "username": USERNAME,
        "password": PASSWORD,
        "tls_context": secure_smtp.certificate.client_context(),
        "timeout_seconds": 5.0,
    }
    server = SmtpServer(**(values | change))  # type: ignore[arg-type]

    with pytest.raises(MailerUnavailable):
        await SmtpMailer(server, SENDER).send(a_message())
    assert secure_smtp.inbox.received == []


async def test_a_permanently_refused_recipient_is_told_apart_from_a_temporary_refusal(
    plain_smtp: SmtpServerUnderTest,
) -> None:
    mailer = SmtpMailer(SmtpServer("127.0.0.1", plain_smtp.port, tls=SmtpTls.NONE), SENDER)

    with pytest.raises(RecipientRejected):
        await mailer.send(a_message(to=REFUSED))
    with pytest.raises(MailerUnavailable):
        await mailer.send(a_message(to=BUSY))
    assert plain_smtp.inbox.received == []


async def test_no_server_listening_is_an_outage() -> None:
    mailer = SmtpMailer(SmtpServer("127.0.0.1", free_port(), tls=SmtpTls.NONE, timeout_seconds=5), SENDER)
    with pytest.raises(MailerUnavailable):
        await mailer.send(a_message())


async def test_the_file_mailer_writes_whole_private_files_the_newest_sorting_last(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 3, 8, 14, tzinfo=UTC))
    directory = tmp_path / "mail"
    mailer = FileMailer(directory, SENDER, clock)

    await mailer.send(a_message(subject="first"))
    clock.advance(timedelta(microseconds=1))
    await mailer.send(a_message(subject="second"))

    files = sorted(os.listdir(directory))
    assert len(files) == 2
    assert all(name.endswith(".eml") for name in files), "no temporary file is left behind"
    newest = newest_eml(directory)
    assert newest is not None
    assert newest.name == files[-1]
    assert stat.S_IMODE(newest.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    parsed = read_eml(newest)
    assert parsed["Subject"] == "second"
    assert parsed["From"] == SENDER
    assert parsed["To"] == "bia@example.com"
    assert parsed["Reply-To"] == "contato@norte.example.com"
    assert parsed["Message-ID"] == "<0193.email.appointment.created@clinic.example.com>"
    assert body(parsed, "plain") == "Olá, Beatriz.\nSeu horário está agendado.\n"
    assert "<strong>Beatriz</strong>" in body(parsed, "html")


async def test_a_line_break_in_a_header_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path, SENDER)
    with pytest.raises(ValueError, match=r"linefeed|newline|CR|LF"):
        await mailer.send(a_message(to="bia@example.com\nBcc: everyone@example.com"))
    assert os.listdir(tmp_path) == []
