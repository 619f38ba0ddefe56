"""A mailer that keeps what it is handed, refuses the addresses it is told to, and fails like a server
that is down when asked to."""

from __future__ import annotations

from clinic_core.notifications.ports import EmailMessage, MailerUnavailable, RecipientRejected


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.rejected: set[str] = set()
        """Addresses refused for good (a 5xx answer)."""
        self.down = 0
        """How many next sends fail as an outage."""

    async def send(self, message: EmailMessage) -> None:
        if self.down:
            self.down -= 1
            raise MailerUnavailable("connection refused")
        if message.to in self.rejected:
            raise RecipientRejected("550 no such mailbox")
        self.sent.append(message)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sent if m.to == address]
