"""Events of the webhook machinery that other features act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from clinic_core.shared.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class WebhookEndpointDisabled(DomainEvent):
    """An endpoint kept failing and was disabled: the tenant's admins are told by email."""

    topic = "webhooks.endpoint_disabled"
    endpoint_id: UUID
    url: str
    failed_deliveries: int
    disabled_at: datetime
