"""Sending through an SMTP server with ``aiosmtplib`` (asyncio, STARTTLS, implicit TLS, AUTH)."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

import aiosmtplib

from clinic_core.notifications.ports import EmailMessage, MailerUnavailable, RecipientRejected
from clinic_core.shared.clock import Clock, SystemClock
from clinic_infra.mail.mime import to_mime
from clinic_infra.settings import SmtpTls


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int = 587
    tls: SmtpTls = SmtpTls.STARTTLS
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 30.0
    tls_context: ssl.SSLContext | None = None
    """Certificates to trust beyond the system's (a private CA); None: the system's, verified."""


class SmtpMailer:
    """One connection per message: a worker sends a message per job, and a pooled connection would outlive
    the job's event loop."""

    def __init__(self, server: SmtpServer, sender: str, clock: Clock | None = None) -> None:
        self._server, self._sender, self._clock = server, sender, clock or SystemClock()

    async def send(self, message: EmailMessage) -> None:
        server = self._server
        mime = to_mime(message, self._sender, self._clock.now())
        try:
            # aiosmtplib's timeout is per command; the deadline bounds the whole conversation, so a server
            # that answers slowly at every step cannot hold a worker (or, embedded, the write lock) longer.
            async with asyncio.timeout(server.timeout_seconds):
                await self._send(mime)
        except TimeoutError:
            raise MailerUnavailable(f"the SMTP exchange took over {server.timeout_seconds:g} s") from None

    async def _send(self, mime: Any) -> None:
        server = self._server
        try:
            await aiosmtplib.send(
                mime,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.tls is SmtpTls.TLS,
                # True, not None: STARTTLS required, so a server (or a man in the middle) that does not
                # offer it gets nothing in clear text.
                start_tls=server.tls is SmtpTls.STARTTLS,
                tls_context=server.tls_context,
                timeout=server.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = sorted({r.code for r in refused.recipients})
            if all(code >= 500 for code in codes):
                raise RecipientRejected(f"the server refused the recipient ({codes})") from None
            raise MailerUnavailable(f"the server refused the recipient for now ({codes})") from None
        except aiosmtplib.SMTPResponseException as error:
            raise MailerUnavailable(f"SMTP {error.code}: {error.message}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailerUnavailable(f"SMTP server unreachable: {error}") from error
