"""An outbox row as the relay and the handlers see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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

    def to_job(self) -> dict[str, Any]:
        """The message as JSON primitives: what a job queue stores."""
        return {
            "id": str(self.id),
            "tenant_id": str(self.tenant_id),
            "topic": self.topic,
            "payload": dict(self.payload),
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_job(cls, data: Mapping[str, Any]) -> OutboxMessage:
        return cls(
            id=UUID(str(data["id"])),
            tenant_id=TenantId(UUID(str(data["tenant_id"]))),
            topic=str(data["topic"]),
            payload=dict(data["payload"]),
            occurred_at=datetime.fromisoformat(str(data["occurred_at"])),
        )


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
