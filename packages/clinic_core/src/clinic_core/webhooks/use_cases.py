"""What a clinic does with its webhook endpoints: register, list, change, delete, rotate the secret, look at
the deliveries and send one again. Reading needs ``webhooks:read``, the rest ``webhooks:write``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.ports import SecretBox
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget, DetailValue
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Permission
from clinic_core.webhooks.model import (
    DeliveryPending,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryId,
    WebhookDeliveryRequested,
    WebhookDisabled,
    WebhookEndpoint,
    WebhookEndpointId,
    WebhookPolicy,
    new_signing_secret,
    parse_description,
    parse_event_types,
    parse_url,
)


def _scope(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


def _audit(
    action: AuditAction,
    actor: Actor,
    endpoint: WebhookEndpoint,
    at: datetime,
    context: RequestContext,
    **details: DetailValue,
) -> AuditEvent:
    event = AuditEvent.record(
        action,
        tenant_id=actor.tenant_id,
        at=at,
        context=context,
        target=AuditTarget("webhook", str(endpoint.id)),
        **acted_by(actor),
    )
    # The host only: a URL may carry a token in its query, and the audit trail holds no secret.
    return replace(event, details={"host": urlsplit(endpoint.url).hostname or "", **details})


def _seal(box: SecretBox, endpoint_id: WebhookEndpointId, secret: str) -> str:
    # Bound to the endpoint: a sealed secret copied onto another endpoint's row does not open there.
    return box.encrypt(secret.encode(), associated=str(endpoint_id))


@dataclass(frozen=True, slots=True)
class WebhookSecretIssued:
    endpoint: WebhookEndpoint
    secret: str
    """``whsec_...``, shown this once."""


@dataclass(frozen=True, slots=True)
class CreateWebhookCommand:
    actor: Actor
    url: str
    event_types: tuple[str, ...]
    description: str = ""
    context: RequestContext = NO_CONTEXT


class CreateWebhook:
    def __init__(self, uow: UnitOfWorkFactory, box: SecretBox, clock: Clock, policy: WebhookPolicy) -> None:
        self._uow, self._box, self._clock, self._policy = uow, box, clock, policy

    async def __call__(
        self, cmd: CreateWebhookCommand
    ) -> Result[WebhookSecretIssued, Forbidden | InvalidInput]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.WEBHOOKS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        url = parse_url(cmd.url, self._policy)
        types = parse_event_types(cmd.event_types)
        description = parse_description(cmd.description)
        invalid = collect_invalid(url, types, description)
        if invalid is not None:
            return Failure(invalid)
        now = self._clock.now()
        endpoint_id = WebhookEndpointId(new_uuid())
        secret = new_signing_secret()
        endpoint = WebhookEndpoint(
            tenant_id=actor.tenant_id,
            id=endpoint_id,
            url=url.unwrap(),
            description=description.unwrap(),
            event_types=types.unwrap(),
            sealed_secret=_seal(self._box, endpoint_id, secret),
            created_at=now,
            created_by=actor.user_id if actor.api_key_id is None else None,
            updated_at=now,
        )
        async with self._uow(_scope(actor)) as uow:
            await uow.webhook_endpoints.add(endpoint)
            await uow.audit.add(
                _audit(
                    AuditAction.WEBHOOK_CREATED,
                    actor,
                    endpoint,
                    now,
                    cmd.context,
                    event_types=",".join(sorted(endpoint.event_types)),
                )
            )
            await uow.commit()
        return Success(WebhookSecretIssued(endpoint, secret))


class ListWebhooks:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[list[WebhookEndpoint], Forbidden]:
        allowed = actor.authorize(Permission.WEBHOOKS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            return Success(await uow.webhook_endpoints.list())


class GetWebhook:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, endpoint_id: WebhookEndpointId
    ) -> Result[WebhookEndpoint, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.WEBHOOKS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            endpoint = await uow.webhook_endpoints.get(endpoint_id)
        return Success(endpoint) if endpoint is not None else Failure(NotFound("webhook", str(endpoint_id)))


@dataclass(frozen=True, slots=True)
class UpdateWebhookCommand:
    """Fields left None stay as they are. ``status`` active re-enables a disabled endpoint and forgets
    its failures; disabled stops its deliveries."""

    actor: Actor
    endpoint_id: WebhookEndpointId
    url: str | None = None
    description: str | None = None
    event_types: tuple[str, ...] | None = None
    status: EndpointStatus | None = None
    context: RequestContext = NO_CONTEXT


class UpdateWebhook:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: WebhookPolicy) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy

    async def __call__(
        self, cmd: UpdateWebhookCommand
    ) -> Result[WebhookEndpoint, Forbidden | NotFound | InvalidInput]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.WEBHOOKS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        url = parse_url(cmd.url, self._policy) if cmd.url is not None else None
        types = parse_event_types(cmd.event_types) if cmd.event_types is not None else None
        description = parse_description(cmd.description) if cmd.description is not None else None
        invalid = collect_invalid(url, types, description)
        if invalid is not None:
            return Failure(invalid)
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            endpoint = await uow.webhook_endpoints.get(cmd.endpoint_id, for_update=True)
            if endpoint is None:
                return Failure(NotFound("webhook", str(cmd.endpoint_id)))
            changed: list[str] = []
            if url is not None and url.unwrap() != endpoint.url:
                endpoint.url = url.unwrap()
                changed.append("url")
            if description is not None and description.unwrap() != endpoint.description:
                endpoint.description = description.unwrap()
                changed.append("description")
            if types is not None and types.unwrap() != endpoint.event_types:
                endpoint.event_types = types.unwrap()
                changed.append("event_types")
            if cmd.status is EndpointStatus.ACTIVE and not endpoint.active:
                endpoint.enable()
                changed.append("status")
            elif cmd.status is EndpointStatus.DISABLED and endpoint.active:
                endpoint.disable(now, DisabledReason.BY_USER)
                changed.append("status")
            if not changed:
                return Success(endpoint)
            endpoint.updated_at = now
            await uow.webhook_endpoints.save(endpoint)
            await uow.audit.add(
                _audit(
                    AuditAction.WEBHOOK_UPDATED,
                    actor,
                    endpoint,
                    now,
                    cmd.context,
                    fields=",".join(changed),
                    status=endpoint.status.value,
                )
            )
            await uow.commit()
        return Success(endpoint)


@dataclass(frozen=True, slots=True)
class WebhookCommand:
    actor: Actor
    endpoint_id: WebhookEndpointId
    context: RequestContext = NO_CONTEXT


class DeleteWebhook:
    """Delete an endpoint and its deliveries; deliveries under way are dropped."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: WebhookCommand) -> Result[None, Forbidden | NotFound]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.WEBHOOKS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            endpoint = await uow.webhook_endpoints.get(cmd.endpoint_id, for_update=True)
            if endpoint is None:
                return Failure(NotFound("webhook", str(cmd.endpoint_id)))
            await uow.webhook_endpoints.remove(endpoint.id)
            await uow.audit.add(_audit(AuditAction.WEBHOOK_DELETED, actor, endpoint, now, cmd.context))
            await uow.commit()
        return Success(None)


class RotateWebhookSecret:
    """A new signing secret, shown once; the old one stops signing at once (deliveries already under way
    are signed with the new one from their next attempt)."""

    def __init__(self, uow: UnitOfWorkFactory, box: SecretBox, clock: Clock) -> None:
        self._uow, self._box, self._clock = uow, box, clock

    async def __call__(self, cmd: WebhookCommand) -> Result[WebhookSecretIssued, Forbidden | NotFound]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.WEBHOOKS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        secret = new_signing_secret()
        async with self._uow(_scope(actor)) as uow:
            endpoint = await uow.webhook_endpoints.get(cmd.endpoint_id, for_update=True)
            if endpoint is None:
                return Failure(NotFound("webhook", str(cmd.endpoint_id)))
            endpoint.sealed_secret = _seal(self._box, endpoint.id, secret)
            endpoint.updated_at = now
            await uow.webhook_endpoints.save(endpoint)
            await uow.audit.add(_audit(AuditAction.WEBHOOK_SECRET_ROTATED, actor, endpoint, now, cmd.context))
            await uow.commit()
        return Success(WebhookSecretIssued(endpoint, secret))


class ListWebhookDeliveries:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, endpoint_id: WebhookEndpointId, page: PageRequest
    ) -> Result[Page[WebhookDelivery], Forbidden | NotFound]:
        allowed = actor.authorize(Permission.WEBHOOKS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            if await uow.webhook_endpoints.get(endpoint_id) is None:
                return Failure(NotFound("webhook", str(endpoint_id)))
            return Success(await uow.webhook_deliveries.page(endpoint_id, page))


@dataclass(frozen=True, slots=True)
class RedeliverWebhookCommand:
    actor: Actor
    endpoint_id: WebhookEndpointId
    delivery_id: WebhookDeliveryId
    context: RequestContext = NO_CONTEXT


class RedeliverWebhook:
    """Send a delivery that succeeded or failed once more, with a fresh set of attempts: the same body
    and ``webhook-id`` (a receiver that keeps the ids it handled can tell it is the same event)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: RedeliverWebhookCommand
    ) -> Result[WebhookDelivery, Forbidden | NotFound | DeliveryPending | WebhookDisabled]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.WEBHOOKS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            found = await _delivery_of(uow, cmd.endpoint_id, cmd.delivery_id)
            if isinstance(found, Failure):
                return found
            endpoint, delivery = found.unwrap()
            if not endpoint.active:
                return Failure(WebhookDisabled())
            if delivery.status is DeliveryStatus.PENDING:
                return Failure(DeliveryPending())
            delivery.redeliver()
            await uow.webhook_deliveries.save(delivery)
            uow.record(
                WebhookDeliveryRequested(
                    tenant_id=actor.tenant_id,
                    occurred_at=now,
                    delivery_id=delivery.id,
                    endpoint_id=endpoint.id,
                )
            )
            await uow.audit.add(
                _audit(
                    AuditAction.WEBHOOK_REDELIVERED,
                    actor,
                    endpoint,
                    now,
                    cmd.context,
                    delivery_id=str(delivery.id),
                    event_type=delivery.event_type,
                )
            )
            await uow.commit()
        return Success(delivery)


async def _delivery_of(
    uow: UnitOfWork, endpoint_id: WebhookEndpointId, delivery_id: WebhookDeliveryId
) -> Result[tuple[WebhookEndpoint, WebhookDelivery], NotFound]:
    endpoint = await uow.webhook_endpoints.get(endpoint_id)
    if endpoint is None:
        return Failure(NotFound("webhook", str(endpoint_id)))
    delivery = await uow.webhook_deliveries.get(delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        return Failure(NotFound("webhook_delivery", str(delivery_id)))
    return Success((endpoint, delivery))
