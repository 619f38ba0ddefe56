"""The mailer and mailroom the settings describe: SMTP when ``CLINIC_SMTP_HOST`` is set, else ``.eml``
files in the mail directory."""

from __future__ import annotations

from clinic_core.notifications.mailroom import Links, Mailroom
from clinic_core.notifications.ports import Mailer
from clinic_core.shared.clock import Clock
from clinic_infra.mail.files import FileMailer
from clinic_infra.mail.renderer import JinjaEmailRenderer
from clinic_infra.mail.smtp import SmtpMailer, SmtpServer
from clinic_infra.settings import Settings


def mailer_for(settings: Settings, clock: Clock) -> Mailer:
    if not settings.smtp_host:
        return FileMailer(settings.effective_mail_dir, settings.mail_from, clock)
    server = SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout_seconds=settings.smtp_timeout_seconds,
    )
    return SmtpMailer(server, settings.mail_from, clock)


def mailroom_for(settings: Settings, clock: Clock, mailer: Mailer | None = None) -> Mailroom:
    return Mailroom(
        mailer=mailer or mailer_for(settings, clock),
        renderer=JinjaEmailRenderer(),
        links=Links(settings.effective_public_url, settings.app_url),
        message_id_domain=settings.mail_domain,
    )
