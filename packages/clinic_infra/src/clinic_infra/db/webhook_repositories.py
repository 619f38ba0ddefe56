"""SQL repositories of webhook endpoints and deliveries (tables in ``webhook_tables``)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import delete, insert, select, update

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.shared.ids import TenantId, UserId
from clinic_core.webhooks.model import (
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryId,
    WebhookEndpoint,
    WebhookEndpointId,
)
from clinic_infra.db.repositories import Row, _Repository
from clinic_infra.db.webhook_tables import webhook_deliveries as _D
from clinic_infra.db.webhook_tables import webhook_endpoints as _E


def _endpoint_values(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": sorted(endpoint.event_types),
        "sealed_secret": endpoint.sealed_secret,
        "status": endpoint.status.value,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_reason.value if endpoint.disabled_reason else None,
        "consecutive_failures": endpoint.consecutive_failures,
        "updated_at": endpoint.updated_at,
        "version": endpoint.version,
    }


def _endpoint(row: Row) -> WebhookEndpoint:
    return WebhookEndpoint(
        tenant_id=TenantId(row["tenant_id"]),
        id=WebhookEndpointId(row["id"]),
        url=row["url"],
        description=row["description"],
        event_types=frozenset(row["event_types"]),
        sealed_secret=row["sealed_secret"],
        created_at=row["created_at"],
        created_by=UserId(row["created_by"]) if row["created_by"] else None,
        updated_at=row["updated_at"],
        status=EndpointStatus(row["status"]),
        disabled_at=row["disabled_at"],
        disabled_reason=DisabledReason(row["disabled_reason"]) if row["disabled_reason"] else None,
        consecutive_failures=row["consecutive_failures"],
        version=row["version"],
    )


class SqlWebhookEndpointRepository(_Repository):
    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._db.execute(
            insert(_E).values(
                tenant_id=self._db.tenant_id(),
                id=endpoint.id,
                created_at=endpoint.created_at,
                created_by=endpoint.created_by,
                **_endpoint_values(endpoint),
            )
        )
        self._db.saw(endpoint)

    async def get(
        self, endpoint_id: WebhookEndpointId, *, for_update: bool = False
    ) -> WebhookEndpoint | None:
        statement = select(_E).where(_E.c.tenant_id == self._db.tenant_id(), _E.c.id == endpoint_id)
        row = await self._row(statement.with_for_update() if for_update else statement)
        if row is None:
            return None
        endpoint = _endpoint(row)
        self._db.saw(endpoint)
        return endpoint

    async def list(self) -> builtins.list[WebhookEndpoint]:
        rows = await self._rows(
            select(_E).where(_E.c.tenant_id == self._db.tenant_id()).order_by(_E.c.id.desc())
        )
        endpoints = [_endpoint(r) for r in rows]
        self._db.saw(*endpoints)
        return endpoints

    async def save(self, endpoint: WebhookEndpoint) -> None:
        endpoint.version += 1
        await self._db.execute(
            update(_E)
            .where(_E.c.tenant_id == self._db.tenant_id(), _E.c.id == endpoint.id)
            .values(**_endpoint_values(endpoint))
        )
        self._db.saw(endpoint)

    async def remove(self, endpoint_id: WebhookEndpointId) -> None:
        # Its deliveries go with it: the foreign key cascades (SQLite's connections turn foreign keys on).
        await self._db.execute(
            delete(_E).where(_E.c.tenant_id == self._db.tenant_id(), _E.c.id == endpoint_id)
        )


def _delivery_values(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "last_error": delivery.last_error,
        "last_attempt_at": delivery.last_attempt_at,
    }


def _delivery(row: Row) -> WebhookDelivery:
    return WebhookDelivery(
        tenant_id=TenantId(row["tenant_id"]),
        id=WebhookDeliveryId(row["id"]),
        endpoint_id=WebhookEndpointId(row["endpoint_id"]),
        message_id=row["message_id"],
        event_type=row["event_type"],
        body=row["body"],
        created_at=row["created_at"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        response_status=row["response_status"],
        last_error=row["last_error"],
        last_attempt_at=row["last_attempt_at"],
    )


class SqlWebhookDeliveryRepository(_Repository):
    async def add(self, delivery: WebhookDelivery) -> None:
        await self._db.execute(
            insert(_D).values(
                tenant_id=self._db.tenant_id(),
                id=delivery.id,
                endpoint_id=delivery.endpoint_id,
                message_id=delivery.message_id,
                event_type=delivery.event_type,
                body=delivery.body,
                created_at=delivery.created_at,
                **_delivery_values(delivery),
            )
        )

    async def get(self, delivery_id: WebhookDeliveryId) -> WebhookDelivery | None:
        row = await self._row(
            select(_D).where(_D.c.tenant_id == self._db.tenant_id(), _D.c.id == delivery_id)
        )
        return _delivery(row) if row is not None else None

    async def save(self, delivery: WebhookDelivery) -> None:
        await self._db.execute(
            update(_D)
            .where(_D.c.tenant_id == self._db.tenant_id(), _D.c.id == delivery.id)
            .values(**_delivery_values(delivery))
        )

    async def page(self, endpoint_id: WebhookEndpointId, page: PageRequest) -> Page[WebhookDelivery]:
        statement = select(_D).where(_D.c.tenant_id == self._db.tenant_id(), _D.c.endpoint_id == endpoint_id)
        if page.after is not None:
            statement = statement.where(_D.c.id < page.after)
        rows = await self._rows(statement.order_by(_D.c.id.desc()).limit(page.limit + 1))
        items = [_delivery(r) for r in rows[: page.limit]]
        return Page(items, items[-1].id if len(rows) > page.limit and items else None)
