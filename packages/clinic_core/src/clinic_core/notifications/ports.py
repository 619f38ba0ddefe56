"""What email handlers send, and the ports they send it through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from clinic_core.tenancy.model import Locale


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One message to one recipient. The sender is the deployment's (the mailer adds it)."""

    to: str
    subject: str
    text: str
    html: str
    reply_to: str | None = None
    """The clinic's contact address, when it has one: replies reach the clinic, not a no-reply box."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers, ``Message-ID`` among them (see ``message_id``)."""

    @property
    def message_id(self) -> str | None:
        return self.headers.get("Message-ID")


def message_id(outbox_id: UUID, handler: str, domain: str, part: str | None = None) -> str:
    """The ``Message-ID`` of what ``handler`` sends for outbox message ``outbox_id``.

    Deterministic: the rare message sent twice (the worker died after sending, before its commit) carries
    the same id both times, so a mail system or a reader can tell it is one message. ``part`` tells apart
    the messages one handler sends to several recipients.
    """
    left = f"{outbox_id}.{handler}" if part is None else f"{outbox_id}.{handler}.{part}"
    return f"<{left}@{domain}>"


class MailerUnavailable(Exception):
    """The mail server could not take the message now (unreachable, timed out, a 4xx answer): the job is
    retried later."""


class RecipientRejected(Exception):
    """The mail server refused the recipient for good (a 5xx answer to the address): retrying will not
    help, so the handler skips the message."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand ``message`` over for delivery. Raises ``RecipientRejected`` for a permanent refusal of the
        recipient, ``MailerUnavailable`` (or another exception) when it may work later."""
        ...


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class EmailRenderer(Protocol):
    def render(self, template: str, locale: Locale, context: Mapping[str, Any]) -> RenderedEmail:
        """The subject, plain text and HTML of ``template`` in ``locale``. Datetimes in ``context`` are
        shown in their own time zone (give them already converted to the place's zone). Raises on a
        template that does not exist or a value the template uses and ``context`` lacks."""
        ...
