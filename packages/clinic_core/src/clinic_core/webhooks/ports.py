"""Ports of the webhooks: where endpoints and deliveries are kept, and what sends a delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.webhooks.model import (
    WebhookDelivery,
    WebhookDeliveryId,
    WebhookEndpoint,
    WebhookEndpointId,
)


class WebhookEndpointRepository(Protocol):
    """The scope's tenant's endpoints."""

    async def add(self, endpoint: WebhookEndpoint) -> None: ...

    async def get(
        self, endpoint_id: WebhookEndpointId, *, for_update: bool = False
    ) -> WebhookEndpoint | None:
        """``for_update`` locks the row until the transaction ends: changes that count (failures) or
        flip the status are read and written by one transaction at a time."""
        ...

    async def list(self) -> list[WebhookEndpoint]:
        """Every endpoint, newest first."""
        ...

    async def save(self, endpoint: WebhookEndpoint) -> None:
        """Write the endpoint's changes and bump its version."""
        ...

    async def remove(self, endpoint_id: WebhookEndpointId) -> None:
        """Delete the endpoint and its deliveries."""
        ...


class WebhookDeliveryRepository(Protocol):
    """The scope's tenant's deliveries."""

    async def add(self, delivery: WebhookDelivery) -> None: ...

    async def get(self, delivery_id: WebhookDeliveryId) -> WebhookDelivery | None: ...

    async def save(self, delivery: WebhookDelivery) -> None: ...

    async def page(self, endpoint_id: WebhookEndpointId, page: PageRequest) -> Page[WebhookDelivery]:
        """An endpoint's deliveries, newest first."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    secret: str
    """In clear (``whsec_...``): what the sender signs with."""
    delivery_id: WebhookDeliveryId
    body: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status_code: int | None
    """The receiver's HTTP status; None when no response came (refused, timed out, not allowed)."""
    error: str | None = None
    """Why the attempt failed, in a few words; None for a success (a 2xx)."""

    @property
    def succeeded(self) -> bool:
        return self.error is None


class WebhookSender(Protocol):
    async def send(self, request: WebhookRequest) -> WebhookResponse:
        """Sign and POST the request. Failures of the receiver or the network are a response with an
        ``error``, never an exception: each is one failed attempt."""
        ...
