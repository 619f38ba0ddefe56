"""Webhook endpoints and deliveries for the API tests: the jobs that make deliveries run here, in process,
over the app's in-memory database, with a sender that records instead of sending."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from clinic_core.application.unit_of_work import Scope
from clinic_core.jobs.handlers import HandleOutboxMessage, HandlerRegistry, RetryLater
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.testing import FakeSecretBox
from clinic_core.testing.jobs import outbox_message
from clinic_core.testing.webhooks import RecordingWebhookSender
from clinic_core.webhooks.delivery import DeliverWebhook, FanOutWebhooks
from clinic_core.webhooks.model import (
    WebhookDelivery,
    WebhookDeliveryId,
    WebhookEndpointId,
    WebhookPolicy,
)
from tests.api.conftest import Api, body_of

WEBHOOK: dict[str, Any] = {
    "url": "https://erp.example.com/hooks/clinic",
    "event_types": ["tenancy.unit_created"],
}


async def new_webhook(api: Api, token: str) -> dict[str, Any]:
    created = await api.post("/v1/webhooks", {**WEBHOOK, "description": "ERP"}, token)
    assert created.status == 201, await created.text()
    return await body_of(created)


async def run_webhook_jobs(api: Api, sender: RecordingWebhookSender | None = None) -> RecordingWebhookSender:
    """Handle the outbox's pending webhook messages (fan-out, then deliveries) as the worker would; a
    delivery that fails waits for a retry that does not come here."""
    sender = sender or RecordingWebhookSender()
    registry = HandlerRegistry([FanOutWebhooks(), DeliverWebhook(sender, FakeSecretBox(), WebhookPolicy())])
    handle = HandleOutboxMessage(api.uow, registry, SystemClock())
    store, waiting = api.memory.store, set()
    while pending := [
        r for r in store.outbox if r.handled_at is None and r.topic in registry.topics and r.id not in waiting
    ]:
        for row in pending:
            try:
                await handle(outbox_message(row))
            except RetryLater:
                waiting.add(row.id)
    return sender


async def delivered_webhook(api: Api, token: str) -> tuple[str, str]:
    """A webhook of the token's clinic and one delivery to it that succeeded: (webhook id, delivery id).
    The delivery is written as the delivery job would leave it (on SQL too, where no job runs here)."""
    webhook = await new_webhook(api, token)
    me = await body_of(await api.get("/v1/me", token))
    tenant_id = TenantId(UUID(me["tenant"]["id"]))
    delivery = WebhookDelivery(
        tenant_id=tenant_id,
        id=WebhookDeliveryId(new_uuid()),
        endpoint_id=WebhookEndpointId(UUID(str(webhook["id"]))),
        message_id=new_uuid(),
        event_type="tenancy.unit_created",
        body="{}",
        created_at=SystemClock().now(),
    )
    delivery.attempted(SystemClock().now(), 204, None)
    async with api.uow(Scope(tenant_id=tenant_id)) as uow:
        await uow.webhook_deliveries.add(delivery)
        await uow.commit()
    return str(webhook["id"]), str(delivery.id)
