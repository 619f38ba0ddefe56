"""An outbox row as the relay and the handlers see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from clinic_core.shared.ids import TenantId

SECRET_PAYLOAD_KEY = "token"
"""The payload field that carries a single-use secret to its email (verification, reset, invitation links):
removed from the outbox row once the message is handled."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One event or job request recorded by a committed transaction."""

    id: UUID
    tenant_id: TenantId
    topic: str
    payload: Mapping[str, Any]
    occurred_at: datetime
    secret_withheld: bool = False
    """The payload's secret was left out of the job (``to_job``): the handler reads it from the row."""

    def to_job(self) -> dict[str, Any]:
        """The message as JSON primitives: what a job queue stores. Never the secret a payload carries
        (an account token): a queue keeps jobs, failed ones for weeks, outside the database's protection."""
        payload = {k: v for k, v in self.payload.items() if k != SECRET_PAYLOAD_KEY}
        return {
            "id": str(self.id),
            "tenant_id": str(self.tenant_id),
            "topic": self.topic,
            "payload": payload,
            "occurred_at": self.occurred_at.isoformat(),
            "secret_withheld": self.secret_withheld or SECRET_PAYLOAD_KEY in self.payload,
        }

    @classmethod
    def from_job(cls, data: Mapping[str, Any]) -> OutboxMessage:
        return cls(
            id=UUID(str(data["id"])),
            tenant_id=TenantId(UUID(str(data["tenant_id"]))),
            topic=str(data["topic"]),
            payload=dict(data["payload"]),
            occurred_at=datetime.fromisoformat(str(data["occurred_at"])),
            secret_withheld=bool(data.get("secret_withheld", False)),
        )

    def with_secret(self, secret: str | None) -> OutboxMessage:
        """The message with its payload's secret back (from the outbox row), if the row still has one."""
        if secret is None:
            return self
        return replace(self, payload={**self.payload, SECRET_PAYLOAD_KEY: secret}, secret_withheld=False)


class Outcome(StrEnum):
    """What a handler did with a message: recorded on its receipt and counted in the metrics."""

    DONE = "done"
    """The handler's effect happened (a message sent, a row written)."""
    SKIPPED = "skipped"
    """Nothing was due: the appointment moved, the endpoint is disabled, the address is gone."""
    DUPLICATE = "duplicate"
    """A receipt already said this handler handled this message: a second delivery, absorbed."""


class Priority(StrEnum):
    """The queues, drained most urgent first (see ``clinic_infra.queues.DEFAULT_QUEUES``)."""

    CRITICAL = "critical"
    """A person waits for it: sign-in links, password resets, reminders."""
    DEFAULT = "default"
    BULK = "bulk"
    """Integrations and housekeeping: webhooks, sweeps."""
