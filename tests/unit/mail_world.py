"""Email handlers on the in-memory fakes: the account world of the recovery tests, a recording mailer, the
real Jinja renderer, and the outbox run through ``HandleOutboxMessage`` as a worker runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from clinic_core.jobs.handlers import HandleOutboxMessage, HandlerRegistry, HandlerRun
from clinic_core.notifications.handlers import email_handlers
from clinic_core.notifications.mailroom import Links, Mailroom
from clinic_core.notifications.ports import EmailMessage
from clinic_core.testing.jobs import outbox_message
from clinic_core.testing.mail import RecordingMailer
from clinic_infra.mail.renderer import JinjaEmailRenderer
from tests.unit.recovery_world import World

PUBLIC_URL = "https://clinic.example.com"
MAIL_DOMAIN = "clinic.example.com"


@dataclass
class MailWorld(World):
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    delivered: set[object] = field(default_factory=set)

    @property
    def mailroom(self) -> Mailroom:
        return Mailroom(self.mailer, JinjaEmailRenderer(), Links(PUBLIC_URL), MAIL_DOMAIN)

    @property
    def handle(self) -> HandleOutboxMessage:
        return HandleOutboxMessage(self.uow, HandlerRegistry(email_handlers(self.mailroom)), self.clock)

    async def deliver(self, topic: str | None = None) -> list[HandlerRun]:
        """Run the handlers of every outbox row not delivered yet (of ``topic``), oldest first."""
        runs: list[HandlerRun] = []
        for row in list(self.uow.store.outbox):
            if row.id in self.delivered or (topic is not None and row.topic != topic):
                continue
            if row.occurred_at is None:
                raise AssertionError("an outbox row without its time")
            runs.extend(await self.handle(outbox_message(row)))
            self.delivered.add(row.id)
        return runs

    def only(self, address: str) -> EmailMessage:
        found: Sequence[EmailMessage] = self.mailer.to(address)
        assert len(found) == 1, f"{len(found)} messages to {address}"
        return found[0]
