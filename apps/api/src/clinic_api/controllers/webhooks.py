"""Webhook endpoints of the clinic: HTTPS URLs that receive signed deliveries of the events they subscribe
to (see the guide's Webhooks section for the body, the headers and how to verify them).

Reading needs ``webhooks:read``; changing, ``webhooks:write`` (owners and admins).
"""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.problems import path_id, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, patch, post
from clinic_api.webhook_schemas import (
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookList,
    WebhookOut,
    WebhookPatch,
    WebhookRequest,
)
from clinic_api.webhook_services import WebhookServices
from clinic_core.application.actor import Actor
from clinic_core.tenancy.permissions import Permission
from clinic_core.webhooks.model import EndpointStatus, WebhookDeliveryId, WebhookEndpointId
from clinic_core.webhooks.use_cases import (
    CreateWebhookCommand,
    RedeliverWebhookCommand,
    UpdateWebhookCommand,
    WebhookCommand,
)


def _endpoint_id(raw: str) -> WebhookEndpointId:
    return WebhookEndpointId(path_id(raw, "webhook"))


class Webhooks(APIController):
    """Endpoints that receive the clinic's events."""

    def __init__(self, webhooks: WebhookServices) -> None:
        self._w = webhooks

    @classmethod
    def route(cls) -> str:
        return "/v1/webhooks"

    @requires(Permission.WEBHOOKS_READ)
    @documented(200, WebhookList, problems=(401, 403))
    @get("/")
    async def list_webhooks(self, actor: Actor) -> Response:
        """The clinic's webhook endpoints, newest first. Never their secrets."""
        endpoints = unwrap_or_raise(await self._w.list(actor))
        return json_response(WebhookList(items=[WebhookOut.of(e) for e in endpoints]))

    @requires(Permission.WEBHOOKS_WRITE)
    @documented(
        201,
        WebhookCreated,
        problems=(401, 403, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new endpoint.")},
    )
    @post("/")
    async def create_webhook(self, request: Request, actor: Actor, body: WebhookRequest) -> Response:
        """Register an endpoint for some event types. The response holds its signing secret, shown this once.

        The URL must be https:// and reach a public address (422 `https_required`, `private_destination`);
        the event types must be ones the guide lists (422 `unknown_event_type`; `*` is not one).
        """
        issued = unwrap_or_raise(
            await self._w.create(
                CreateWebhookCommand(
                    actor, body.url, tuple(body.event_types), body.description, request_context(request)
                )
            )
        )
        location = f"/v1/webhooks/{issued.endpoint.id}"
        return json_response(WebhookCreated.issued(issued), 201, [("Location", location)])

    @requires(Permission.WEBHOOKS_READ)
    @documented(200, WebhookOut, problems=(401, 403, 404))
    @get("/{webhook_id}")
    async def get_webhook(self, actor: Actor, webhook_id: str) -> Response:
        """One endpoint of the clinic. Another clinic's is 404.

        @param webhook_id: the endpoint's id (a UUID).
        """
        return json_response(
            WebhookOut.of(unwrap_or_raise(await self._w.get(actor, _endpoint_id(webhook_id))))
        )

    @requires(Permission.WEBHOOKS_WRITE)
    @documented(200, WebhookOut, problems=(401, 403, 404, 422))
    @patch("/{webhook_id}")
    async def update_webhook(
        self, request: Request, actor: Actor, webhook_id: str, body: WebhookPatch
    ) -> Response:
        """Change an endpoint's URL, event types or description, or enable (`"status": "active"`, which
        forgets its failed deliveries) or disable it. Fields left out stay as they are.

        @param webhook_id: the endpoint's id (a UUID).
        """
        command = UpdateWebhookCommand(
            actor,
            _endpoint_id(webhook_id),
            url=body.url,
            description=body.description,
            event_types=tuple(body.event_types) if body.event_types is not None else None,
            status=EndpointStatus(body.status) if body.status is not None else None,
            context=request_context(request),
        )
        return json_response(WebhookOut.of(unwrap_or_raise(await self._w.update(command))))

    @requires(Permission.WEBHOOKS_WRITE)
    @documented(204, problems=(401, 403, 404))
    @delete("/{webhook_id}")
    async def delete_webhook(self, request: Request, actor: Actor, webhook_id: str) -> Response:
        """Delete an endpoint and its deliveries: it is sent nothing more.

        @param webhook_id: the endpoint's id (a UUID).
        """
        command = WebhookCommand(actor, _endpoint_id(webhook_id), request_context(request))
        unwrap_or_raise(await self._w.delete(command))
        return Response(204)

    @requires(Permission.WEBHOOKS_WRITE)
    @documented(200, WebhookCreated, problems=(401, 403, 404))
    @post("/{webhook_id}/rotate-secret")
    async def rotate_secret(self, request: Request, actor: Actor, webhook_id: str) -> Response:
        """A new signing secret, shown this once. The old one stops signing at once.

        @param webhook_id: the endpoint's id (a UUID).
        """
        command = WebhookCommand(actor, _endpoint_id(webhook_id), request_context(request))
        return json_response(WebhookCreated.issued(unwrap_or_raise(await self._w.rotate_secret(command))))

    @requires(Permission.WEBHOOKS_READ)
    @documented(200, WebhookDeliveryPage, problems=(401, 403, 404, 422))
    @get("/{webhook_id}/deliveries")
    async def list_deliveries(
        self,
        actor: Actor,
        webhook_id: str,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The endpoint's deliveries, newest first, with their status, attempts and last response.

        @param webhook_id: the endpoint's id (a UUID).
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(
            await self._w.list_deliveries(actor, _endpoint_id(webhook_id), page_request(cursor, limit))
        )
        return json_response(
            WebhookDeliveryPage(
                items=[WebhookDeliveryOut.of(d) for d in page.items], next_cursor=page.next_cursor
            )
        )

    @requires(Permission.WEBHOOKS_WRITE)
    @documented(202, WebhookDeliveryOut, problems=(401, 403, 404, 409))
    @post("/{webhook_id}/deliveries/{delivery_id}/redeliver")
    async def redeliver(self, request: Request, actor: Actor, webhook_id: str, delivery_id: str) -> Response:
        """Send a delivery that succeeded or failed once more, with a fresh set of attempts (202: it is
        queued). The body and `webhook-id` are the same as before. 409 `delivery_pending` while it is
        still being attempted, `webhook_disabled` while the endpoint is disabled.

        @param webhook_id: the endpoint's id (a UUID).
        @param delivery_id: the delivery's id (a UUID).
        """
        command = RedeliverWebhookCommand(
            actor,
            _endpoint_id(webhook_id),
            WebhookDeliveryId(path_id(delivery_id, "webhook_delivery")),
            request_context(request),
        )
        return json_response(WebhookDeliveryOut.of(unwrap_or_raise(await self._w.redeliver(command))), 202)
