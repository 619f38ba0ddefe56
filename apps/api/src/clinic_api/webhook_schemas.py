"""Request and response bodies of the webhook routes. Shapes and sizes only; the rules (https, event types
that exist) are the use cases'."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from clinic_api.schemas import RequestModel, ResponseModel
from clinic_core.webhooks.model import WebhookDelivery, WebhookEndpoint
from clinic_core.webhooks.use_cases import WebhookSecretIssued

Url = Annotated[str, Field(max_length=2000)]
Description = Annotated[str, Field(max_length=200)]
EventTypes = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)]


class WebhookRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.example.com/hooks/clinic",
                    "event_types": ["appointment.created", "appointment.cancelled"],
                    "description": "ERP",
                }
            ]
        }
    )

    url: Url
    """Where deliveries are POSTed: an https:// URL reaching a public address."""
    event_types: EventTypes
    """The event types to receive (at least one; see the list in the guide)."""
    description: Description = ""


class WebhookPatch(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "active"}]})

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    status: Literal["active", "disabled"] | None = None
    """`active` enables a disabled endpoint again and forgets its failed deliveries."""


class WebhookOut(ResponseModel):
    id: UUID
    url: str
    description: str
    event_types: list[str]
    status: str
    """`active` or `disabled`."""
    disabled_at: datetime | None
    disabled_reason: str | None
    """`failing` (too many failed deliveries in a row) or `by_user`."""
    consecutive_failures: int
    """Deliveries that failed (after all their attempts) since the last success."""
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        return cls(**_endpoint_fields(endpoint))


def _endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": sorted(endpoint.event_types),
        "status": endpoint.status.value,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_reason.value if endpoint.disabled_reason else None,
        "consecutive_failures": endpoint.consecutive_failures,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "version": endpoint.version,
    }


class WebhookCreated(WebhookOut):
    secret: str
    """The signing secret (`whsec_...`), shown this once: keep it where the receiver can read it."""

    @classmethod
    def issued(cls, issued: WebhookSecretIssued) -> WebhookCreated:
        return cls(**_endpoint_fields(issued.endpoint), secret=issued.secret)


class WebhookList(ResponseModel):
    items: list[WebhookOut]


class WebhookDeliveryOut(ResponseModel):
    id: UUID
    """The `webhook-id` header of its requests."""
    event_id: UUID
    """The body's `id`."""
    event_type: str
    status: str
    """`pending`, `succeeded` or `failed`."""
    attempts: int
    response_status: int | None
    """The HTTP status of the last attempt's response; null when none came."""
    last_error: str | None
    last_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        return cls(
            id=delivery.id,
            event_id=delivery.message_id,
            event_type=delivery.event_type,
            status=delivery.status.value,
            attempts=delivery.attempts,
            response_status=delivery.response_status,
            last_error=delivery.last_error,
            last_attempt_at=delivery.last_attempt_at,
            created_at=delivery.created_at,
        )


class WebhookDeliveryPage(ResponseModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None
