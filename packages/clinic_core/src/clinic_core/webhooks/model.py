"""Webhook endpoints and their deliveries.

An endpoint is an HTTPS URL a clinic registered for some event types. Each outbox message of a subscribed
type becomes one delivery per endpoint: the JSON body is fixed when the delivery is made, so every attempt
(and a redelivery) sends the same bytes under the same ``webhook-id``. An endpoint whose deliveries keep
failing is disabled, and says so with ``WebhookEndpointDisabled``.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, NewType
from urllib.parse import urlsplit
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.attachments.model import AttachmentDeleted, AttachmentUploaded
from clinic_core.catalog.model import ProcedureChanged, ProfessionalChanged
from clinic_core.jobs.model import OutboxMessage
from clinic_core.jobs.routing import RETRY_BACKOFF_SECONDS
from clinic_core.patients.model import PatientCreated, PatientUpdated
from clinic_core.privacy.model import PatientAnonymised
from clinic_core.scheduling.appointments import (
    AppointmentCancelled,
    AppointmentCheckedIn,
    AppointmentCompleted,
    AppointmentConfirmed,
    AppointmentCreated,
    AppointmentNoShow,
    AppointmentRescheduled,
    AppointmentStarted,
)
from clinic_core.scheduling.waitlist_model import WaitlistOfferMade
from clinic_core.shared.errors import Conflict, InvalidInput
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import TenantId, UserId
from clinic_core.tenancy.model import MemberJoined, MemberRemoved, UnitCreated
from clinic_core.webhooks.events import WebhookEndpointDisabled

WebhookEndpointId = NewType("WebhookEndpointId", UUID)
WebhookDeliveryId = NewType("WebhookDeliveryId", UUID)

SUBSCRIBABLE_EVENT_TYPES: frozenset[str] = frozenset(
    event.topic
    for event in (
        AppointmentCreated,
        AppointmentConfirmed,
        AppointmentCheckedIn,
        AppointmentStarted,
        AppointmentCompleted,
        AppointmentCancelled,
        AppointmentNoShow,
        AppointmentRescheduled,
        PatientCreated,
        PatientUpdated,
        PatientAnonymised,
        WaitlistOfferMade,
        AttachmentUploaded,
        AttachmentDeleted,
        ProcedureChanged,
        ProfessionalChanged,
        UnitCreated,
        MemberJoined,
        MemberRemoved,
    )
)
"""The outbox topics an endpoint may subscribe to: ids and facts, never a secret. ``identity.*`` carry raw
sign-in and reset tokens and must never leave; internal job requests (reminders, webhooks' own) neither."""

MAX_DELIVERY_ATTEMPTS = len(RETRY_BACKOFF_SECONDS) + 1
"""The first attempt and the job queue's retries: a delivery that failed this many times has failed."""
DEFAULT_DISABLE_AFTER = 10
"""Consecutive failed deliveries after which an endpoint is disabled."""

URL_MAX = 2000
DESCRIPTION_MAX = 200
LAST_ERROR_MAX = 300
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DisabledReason(StrEnum):
    FAILING = "failing"
    """Too many consecutive deliveries failed."""
    BY_USER = "by_user"


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """What the deployment allows: private destinations (tests, an on-premises receiver) and how many
    failed deliveries in a row disable an endpoint."""

    allow_private_hosts: bool = False
    disable_after: int = DEFAULT_DISABLE_AFTER


DEFAULT_WEBHOOK_POLICY = WebhookPolicy()


def new_signing_secret() -> str:
    """A secret as Standard Webhooks writes it: ``whsec_`` and the base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def is_public_address(raw: str) -> bool:
    """Whether ``raw`` (an IP address) is reachable on the public internet: not private, loopback,
    link-local, shared (CGNAT), multicast or reserved. An IPv4 address written as IPv6 counts as itself."""
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
    return address.is_global and not address.is_multicast


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64, IPv4-compatible): a NAT64 gateway
    would carry ``64:ff9b::a9fe:a9fe`` to 169.254.169.254, the cloud's metadata service."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64) or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_url(raw: str, policy: WebhookPolicy) -> Result[str, InvalidInput]:
    """An endpoint URL: https (http only where private hosts are allowed), a host, no credentials; an IP
    literal must be public unless private hosts are allowed. Names are resolved and checked at delivery."""
    url = raw.strip()

    def refused(code: str, message: str) -> Result[str, InvalidInput]:
        return Failure(InvalidInput.of("url", code, message))

    if not url or len(url) > URL_MAX:
        return refused("invalid_url", f"1 to {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return refused("invalid_url", "not a URL")
    schemes = ("https", "http") if policy.allow_private_hosts else ("https",)
    if parts.scheme.lower() not in schemes:
        return refused("https_required", "the URL must start with https://")
    host = (parts.hostname or "").rstrip(".")
    if not host or any(c.isspace() for c in url):
        return refused("invalid_url", "not a URL")
    if parts.username is not None or parts.password is not None:
        return refused("invalid_url", "credentials do not belong in the URL; use the signing secret")
    if port == 0:
        return refused("invalid_url", "not a valid port")
    if not policy.allow_private_hosts:
        literal = _ip_literal(host)
        if (literal is not None and not is_public_address(literal)) or host.lower() == "localhost":
            return refused("private_destination", "the URL must reach a public address")
    return Success(url)


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def parse_event_types(
    raw: list[str] | tuple[str, ...] | frozenset[str],
) -> Result[frozenset[str], InvalidInput]:
    """A non-empty list of subscribable event types; ``*`` is refused: an endpoint names what it wants, so
    that a type added later never starts flowing to a receiver that did not ask for it."""
    types = frozenset(t.strip() for t in raw)
    if not types:
        return Failure(InvalidInput.of("event_types", "required", "list at least one event type"))
    unknown = sorted(types - SUBSCRIBABLE_EVENT_TYPES)
    if unknown:
        return Failure(
            InvalidInput.of(
                "event_types",
                "unknown_event_type",
                f"not subscribable: {', '.join(unknown)}; see the list of event types",
            )
        )
    return Success(types)


def parse_description(raw: str) -> Result[str, InvalidInput]:
    description = " ".join(raw.split())
    if len(description) > DESCRIPTION_MAX:
        return Failure(InvalidInput.of("description", "too_long", f"at most {DESCRIPTION_MAX} characters"))
    return Success(description)


def delivery_body(message: OutboxMessage) -> str:
    """The JSON a receiver gets for ``message``: the event's id (the outbox row's: the same in every
    endpoint's delivery), its type, when it happened, the clinic and the event's data."""
    return json.dumps(
        {
            "id": str(message.id),
            "type": message.topic,
            "timestamp": message.occurred_at.isoformat(),
            "tenant_id": str(message.tenant_id),
            "data": dict(message.payload),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


@dataclass(eq=False, kw_only=True)
class WebhookEndpoint:
    tenant_id: TenantId
    id: WebhookEndpointId
    url: str
    description: str
    event_types: frozenset[str]
    sealed_secret: str
    """The signing secret as the SecretBox sealed it (bound to the endpoint's id): HMAC needs it in clear."""
    created_at: datetime
    created_by: UserId | None
    updated_at: datetime
    status: EndpointStatus = EndpointStatus.ACTIVE
    disabled_at: datetime | None = None
    disabled_reason: DisabledReason | None = None
    consecutive_failures: int = 0
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status is EndpointStatus.ACTIVE

    def wants(self, event_type: str, occurred_at: datetime) -> bool:
        """Whether an event of this type that happened then is delivered here: the endpoint is active,
        subscribed to the type, and was registered before the event (a backlog of older events that the
        jobs had not reached yet is not its business)."""
        return self.active and event_type in self.event_types and self.created_at <= occurred_at

    def delivery_succeeded(self) -> bool:
        """A success ends a run of failures. True when that changed the endpoint."""
        if self.consecutive_failures == 0:
            return False
        self.consecutive_failures = 0
        return True

    def delivery_failed(self, now: datetime, disable_after: int) -> None:
        """One more delivery failed for good; at ``disable_after`` in a row the endpoint is disabled."""
        self.consecutive_failures += 1
        if self.active and self.consecutive_failures >= disable_after:
            self.disable(now, DisabledReason.FAILING)
            self.events.append(
                WebhookEndpointDisabled(
                    tenant_id=self.tenant_id,
                    occurred_at=now,
                    endpoint_id=self.id,
                    url=self.url,
                    failed_deliveries=self.consecutive_failures,
                    disabled_at=now,
                )
            )

    def disable(self, now: datetime, reason: DisabledReason) -> None:
        self.status, self.disabled_at, self.disabled_reason = EndpointStatus.DISABLED, now, reason

    def enable(self) -> None:
        """Active again, with a clean slate: the failures that disabled it are forgotten."""
        self.status, self.disabled_at, self.disabled_reason = EndpointStatus.ACTIVE, None, None
        self.consecutive_failures = 0


@dataclass(eq=False, kw_only=True)
class WebhookDelivery:
    tenant_id: TenantId
    id: WebhookDeliveryId
    endpoint_id: WebhookEndpointId
    message_id: UUID
    """The outbox row delivered: the body's ``id``."""
    event_type: str
    body: str
    created_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    response_status: int | None = None
    """The HTTP status of the last attempt's response; None when there was none (a network error)."""
    last_error: str | None = None
    last_attempt_at: datetime | None = None

    def exhausted(self) -> bool:
        """Whether every attempt was spent (a method, not a property: each attempt changes it)."""
        return self.attempts >= MAX_DELIVERY_ATTEMPTS

    def attempted(self, now: datetime, response_status: int | None, error: str | None) -> None:
        self.attempts += 1
        self.last_attempt_at = now
        self.response_status = response_status
        self.last_error = error[:LAST_ERROR_MAX] if error else None
        if error is None:
            self.status = DeliveryStatus.SUCCEEDED

    def give_up(self, error: str | None = None) -> None:
        self.status = DeliveryStatus.FAILED
        if error is not None:
            self.last_error = error[:LAST_ERROR_MAX]

    def redeliver(self) -> None:
        """Pending again with a fresh set of attempts; the body and the ``webhook-id`` stay the same."""
        self.status, self.attempts = DeliveryStatus.PENDING, 0


@dataclass(frozen=True, kw_only=True)
class WebhookDeliveryRequested(DomainEvent):
    """A job request: send this delivery. Its job is retried with the queue's backoff while it fails."""

    topic = "webhook.delivery_requested"
    delivery_id: WebhookDeliveryId
    endpoint_id: WebhookEndpointId


@dataclass(frozen=True, slots=True)
class DeliveryPending(Conflict):
    """A delivery still being attempted cannot be redelivered (409)."""

    code: ClassVar[str] = "delivery_pending"
    message: str = "the delivery is still being attempted; redeliver it once it succeeded or failed"


@dataclass(frozen=True, slots=True)
class WebhookDisabled(Conflict):
    """A disabled endpoint receives nothing, redeliveries included: enable it first (409)."""

    code: ClassVar[str] = "webhook_disabled"
    message: str = "the endpoint is disabled; enable it (PATCH status=active) first"
