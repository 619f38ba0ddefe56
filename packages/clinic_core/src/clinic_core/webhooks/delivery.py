"""The two handlers of webhooks: one turns an event into deliveries, the other sends a delivery.

``FanOutWebhooks`` runs for every subscribable event: it adds a delivery per active endpoint subscribed to
the event's type and records ``WebhookDeliveryRequested`` for each, so that each delivery is a job of its
own (a slow receiver never holds up another's). ``DeliverWebhook`` sends one delivery. A failed attempt
raises ``RetryLater`` (the job queue retries it with backoff) after counting the attempt on the delivery;
the attempt that exhausts ``MAX_DELIVERY_ATTEMPTS`` marks the delivery failed instead, and counts against
the endpoint, which is disabled after ``WebhookPolicy.disable_after`` failed deliveries in a row.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from clinic_core.application.ports import SecretBox
from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.jobs.handlers import RetryLater
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.shared.ids import new_uuid
from clinic_core.webhooks.model import (
    SUBSCRIBABLE_EVENT_TYPES,
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryId,
    WebhookDeliveryRequested,
    WebhookPolicy,
    delivery_body,
)
from clinic_core.webhooks.ports import WebhookRequest, WebhookResponse, WebhookSender

log = logging.getLogger(__name__)


class FanOutWebhooks:
    name = "webhooks.fan_out"
    topics = SUBSCRIBABLE_EVENT_TYPES

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        endpoints = [
            e for e in await uow.webhook_endpoints.list() if e.wants(message.topic, message.occurred_at)
        ]
        if not endpoints:
            return Outcome.SKIPPED
        body = delivery_body(message)
        for endpoint in endpoints:
            delivery = WebhookDelivery(
                tenant_id=message.tenant_id,
                id=WebhookDeliveryId(new_uuid()),
                endpoint_id=endpoint.id,
                message_id=message.id,
                event_type=message.topic,
                body=body,
                created_at=now,
            )
            await uow.webhook_deliveries.add(delivery)
            uow.record(
                WebhookDeliveryRequested(
                    tenant_id=message.tenant_id,
                    occurred_at=now,
                    delivery_id=delivery.id,
                    endpoint_id=endpoint.id,
                )
            )
        return Outcome.DONE


class DeliverWebhook:
    name = "webhooks.deliver"
    topics = frozenset({WebhookDeliveryRequested.topic})

    def __init__(self, sender: WebhookSender, box: SecretBox, policy: WebhookPolicy) -> None:
        self._sender, self._box, self._policy = sender, box, policy

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        delivery_id = WebhookDeliveryId(UUID(str(message.payload["delivery_id"])))
        delivery = await uow.webhook_deliveries.get(delivery_id)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return Outcome.SKIPPED  # the endpoint was deleted, or a redelivery already settled it
        endpoint = await uow.webhook_endpoints.get(delivery.endpoint_id)
        if endpoint is None or not endpoint.active:
            delivery.give_up("the endpoint is disabled")
            await uow.webhook_deliveries.save(delivery)
            return Outcome.SKIPPED
        if delivery.exhausted():  # its attempts were spent by runs that ended without settling it
            return await self._failed_for_good(uow, delivery, now)

        try:
            secret = self._box.decrypt(endpoint.sealed_secret, associated=str(endpoint.id)).decode()
        except ValueError:
            # A worker whose CLINIC_SECRET_KEY is not the API's: an attempt that failed, counted like any.
            response = WebhookResponse(
                None, "the signing secret does not open with this worker's CLINIC_SECRET_KEY"
            )
        else:
            response = await self._sender.send(
                WebhookRequest(endpoint.url, secret, delivery.id, delivery.body, now)
            )
        delivery.attempted(now, response.status_code, response.error)
        if response.succeeded:
            await uow.webhook_deliveries.save(delivery)
            locked = await uow.webhook_endpoints.get(endpoint.id, for_update=True)
            if locked is not None and locked.delivery_succeeded():
                await uow.webhook_endpoints.save(locked)
            return Outcome.DONE
        log.info(
            "webhook delivery %s to endpoint %s failed (attempt %d): %s",
            delivery.id,
            endpoint.id,
            delivery.attempts,
            response.error,
        )
        if delivery.exhausted():
            return await self._failed_for_good(uow, delivery, now)
        raise RetryLater(response.error or "failed", _AttemptTrace(delivery.id, now, response))

    async def _failed_for_good(self, uow: UnitOfWork, delivery: WebhookDelivery, now: datetime) -> Outcome:
        delivery.give_up()
        await uow.webhook_deliveries.save(delivery)
        endpoint = await uow.webhook_endpoints.get(delivery.endpoint_id, for_update=True)
        if endpoint is not None:
            endpoint.delivery_failed(now, self._policy.disable_after)
            await uow.webhook_endpoints.save(endpoint)
        return Outcome.SKIPPED


class _AttemptTrace:
    """The failed attempt, written after the handler's transaction rolled back (see ``RetryLater``)."""

    def __init__(self, delivery_id: WebhookDeliveryId, now: datetime, response: WebhookResponse) -> None:
        self._delivery_id, self._now, self._response = delivery_id, now, response

    async def __call__(self, uow: UnitOfWork) -> None:
        delivery = await uow.webhook_deliveries.get(self._delivery_id)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return
        delivery.attempted(self._now, self._response.status_code, self._response.error)
        await uow.webhook_deliveries.save(delivery)
