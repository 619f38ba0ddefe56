"""In-memory repositories of webhook endpoints and deliveries, with the contracts of the SQL ones: one
tenant each, copies in and out, a unique delivery per (endpoint, message), deliveries gone with their
endpoint."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from uuid import UUID

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import NoTenantInScope, UniqueViolation
from clinic_core.shared.ids import TenantId
from clinic_core.webhooks.model import (
    WebhookDelivery,
    WebhookDeliveryId,
    WebhookEndpoint,
    WebhookEndpointId,
)
from clinic_core.webhooks.ports import WebhookRequest, WebhookResponse


@dataclass
class WebhookTables:
    endpoints: dict[UUID, WebhookEndpoint] = field(default_factory=dict)
    deliveries: dict[UUID, WebhookDelivery] = field(default_factory=dict)


class _Tenant:
    def __init__(self, tables: WebhookTables, seen: list[object], tenant: TenantId) -> None:
        self._t, self._seen, self._tenant = tables, seen, tenant

    def _check(self, row: WebhookEndpoint | WebhookDelivery) -> None:
        if row.tenant_id != self._tenant:
            raise NoTenantInScope(f"{type(row).__name__} belongs to another tenant than the unit of work's")


class InMemoryWebhookEndpoints(_Tenant):
    async def add(self, endpoint: WebhookEndpoint) -> None:
        self._check(endpoint)
        if endpoint.id in self._t.endpoints:
            raise UniqueViolation("pk_webhook_endpoints")
        self._store(endpoint)

    async def get(
        self, endpoint_id: WebhookEndpointId, *, for_update: bool = False
    ) -> WebhookEndpoint | None:
        row = self._t.endpoints.get(endpoint_id)
        if row is None or row.tenant_id != self._tenant:
            return None
        found = copy.deepcopy(row)
        self._seen.append(found)
        return found

    async def list(self) -> list[WebhookEndpoint]:
        mine = [e for e in self._t.endpoints.values() if e.tenant_id == self._tenant]
        found = [copy.deepcopy(e) for e in sorted(mine, key=lambda e: e.id, reverse=True)]
        self._seen.extend(found)
        return found

    async def save(self, endpoint: WebhookEndpoint) -> None:
        self._check(endpoint)
        endpoint.version += 1
        self._store(endpoint)

    async def remove(self, endpoint_id: WebhookEndpointId) -> None:
        row = self._t.endpoints.get(endpoint_id)
        if row is None or row.tenant_id != self._tenant:
            return
        del self._t.endpoints[endpoint_id]
        for delivery_id in [k for k, d in self._t.deliveries.items() if d.endpoint_id == endpoint_id]:
            del self._t.deliveries[delivery_id]

    def _store(self, endpoint: WebhookEndpoint) -> None:
        self._t.endpoints[endpoint.id] = replace(copy.deepcopy(endpoint), events=[])
        self._seen.append(endpoint)


class InMemoryWebhookDeliveries(_Tenant):
    async def add(self, delivery: WebhookDelivery) -> None:
        self._check(delivery)
        endpoint = self._t.endpoints.get(delivery.endpoint_id)
        if endpoint is None or endpoint.tenant_id != self._tenant:
            raise AssertionError("fk_webhook_deliveries_endpoint: no such endpoint in the tenant")
        if delivery.id in self._t.deliveries:
            raise UniqueViolation("pk_webhook_deliveries")
        if any(
            d.endpoint_id == delivery.endpoint_id and d.message_id == delivery.message_id
            for d in self._t.deliveries.values()
        ):
            raise UniqueViolation("uq_webhook_deliveries_tenant_id_endpoint_id_message_id")
        self._t.deliveries[delivery.id] = copy.deepcopy(delivery)

    async def get(self, delivery_id: WebhookDeliveryId) -> WebhookDelivery | None:
        row = self._t.deliveries.get(delivery_id)
        if row is None or row.tenant_id != self._tenant:
            return None
        return copy.deepcopy(row)

    async def save(self, delivery: WebhookDelivery) -> None:
        self._check(delivery)
        if delivery.id in self._t.deliveries:
            self._t.deliveries[delivery.id] = copy.deepcopy(delivery)

    async def page(self, endpoint_id: WebhookEndpointId, page: PageRequest) -> Page[WebhookDelivery]:
        rows = sorted(
            (
                d
                for d in self._t.deliveries.values()
                if d.tenant_id == self._tenant
                and d.endpoint_id == endpoint_id
                and (page.after is None or d.id < page.after)
            ),
            key=lambda d: d.id,
            reverse=True,
        )
        items = [copy.deepcopy(d) for d in rows[: page.limit]]
        return Page(items, items[-1].id if len(rows) > page.limit and items else None)


class RecordingWebhookSender:
    """Keeps the requests it is given and answers ``status`` (an error for anything but a 2xx)."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[WebhookRequest] = []

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        self.requests.append(request)
        if 200 <= self.status < 300:
            return WebhookResponse(self.status)
        return WebhookResponse(self.status, f"the endpoint answered HTTP {self.status}")
