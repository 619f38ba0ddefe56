"""Webhooks on fakes: what may be registered, how deliveries are signed, which endpoints an event fans out
to, and what a delivery attempt does to the delivery and its endpoint."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.jobs.handlers import HandleOutboxMessage, HandlerRegistry, RetryLater
from clinic_core.jobs.model import Outcome
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput
from clinic_core.shared.ids import new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand
from clinic_core.testing import FakePasswordHasher, FakeSecretBox, InMemoryUnitOfWorkFactory
from clinic_core.testing.jobs import outbox_message
from clinic_core.testing.webhooks import RecordingWebhookSender
from clinic_core.webhooks.delivery import DeliverWebhook, FanOutWebhooks
from clinic_core.webhooks.model import (
    MAX_DELIVERY_ATTEMPTS,
    SUBSCRIBABLE_EVENT_TYPES,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryId,
    WebhookEndpoint,
    WebhookPolicy,
    is_public_address,
    new_signing_secret,
    parse_event_types,
    parse_url,
)
from clinic_core.webhooks.ports import WebhookRequest
from clinic_core.webhooks.use_cases import (
    CreateWebhook,
    CreateWebhookCommand,
    UpdateWebhook,
    UpdateWebhookCommand,
    WebhookSecretIssued,
)
from clinic_infra.http_webhooks import HttpxWebhookSender, signature_headers

T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
STRICT = WebhookPolicy()
LENIENT = WebhookPolicy(allow_private_hosts=True)


def code_of(result: object) -> str:
    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    return error.errors[0].code


# --- what may be registered ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "policy", "code"),
    [
        ("http://erp.example.com/hooks", STRICT, "https_required"),
        ("ftp://erp.example.com/hooks", LENIENT, "https_required"),
        ("https://localhost/hooks", STRICT, "private_destination"),
        ("https://127.0.0.1/hooks", STRICT, "private_destination"),
        ("https://169.254.169.254/latest/meta-data", STRICT, "private_destination"),
        ("https://192.168.0.10/hooks", STRICT, "private_destination"),
        ("https://100.64.0.1/hooks", STRICT, "private_destination"),
        ("https://[::ffff:10.0.0.1]/hooks", STRICT, "private_destination"),
        ("https://[fe80::1]/hooks", STRICT, "private_destination"),
        ("https://user:secret@erp.example.com/hooks", STRICT, "invalid_url"),
        ("https:///hooks", STRICT, "invalid_url"),
        ("https://erp.example.com:99999/hooks", STRICT, "invalid_url"),
        ("https://erp.example.com/" + "a" * 2000, STRICT, "invalid_url"),
    ],
)
def test_urls_that_are_refused(url: str, policy: WebhookPolicy, code: str) -> None:
    assert code_of(parse_url(url, policy)) == code


def test_urls_that_are_accepted() -> None:
    assert parse_url(" https://erp.example.com/hooks?tenant=7 ", STRICT) == Success(
        "https://erp.example.com/hooks?tenant=7"
    )
    assert parse_url("https://1.1.1.1:8443/hooks", STRICT).unwrap() == "https://1.1.1.1:8443/hooks"
    # Where private hosts are allowed (tests, an on-premises receiver), plain http to them is too.
    assert parse_url("http://127.0.0.1:8080/hooks", LENIENT).unwrap() == "http://127.0.0.1:8080/hooks"


def test_public_addresses() -> None:
    assert is_public_address("203.0.113.9") is False  # TEST-NET-3: documentation, not routable
    assert is_public_address("8.8.8.8") is True
    assert is_public_address("2606:4700:4700::1111") is True
    assert not any(
        is_public_address(a)
        for a in ("10.0.0.1", "::1", "fe80::1%eth0", "::ffff:127.0.0.1", "224.0.0.1", "x")
    )
    # IPv4 inside IPv6 counts as that IPv4: NAT64 to the metadata service, 6to4 and IPv4-compatible forms.
    assert not any(
        is_public_address(a)
        for a in ("64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "2002:a9fe:a9fe::", "::127.0.0.1")
    )
    assert is_public_address("64:ff9b::808:808") is True  # NAT64 to 8.8.8.8


def test_event_types_must_be_listed_and_subscribable() -> None:
    assert parse_event_types(["appointment.created", " patient.updated "]) == Success(
        frozenset({"appointment.created", "patient.updated"})
    )
    assert code_of(parse_event_types([])) == "required"
    assert code_of(parse_event_types(["*"])) == "unknown_event_type"
    assert code_of(parse_event_types(["appointment.created", "identity.email_change_requested"])) == (
        "unknown_event_type"
    )
    # Topics that carry raw tokens, and internal job requests, are never subscribable.
    assert not any(
        t.startswith(("identity.", "webhook", "appointment.reminder")) for t in SUBSCRIBABLE_EVENT_TYPES
    )


# --- signing --------------------------------------------------------------------------------------------


def test_signatures_match_the_standard_webhooks_test_vector() -> None:
    # The vector of the specification's reference libraries (standard-webhooks, libraries/*/tests).
    headers = signature_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, UTC),
        '{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_signing_secret(), new_signing_secret()
    assert first.startswith("whsec_")
    assert len(first) == len("whsec_") + 44
    assert first != second


# --- the world: a clinic, an endpoint, the handlers --------------------------------------------------------


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    clinic: SignedUp
    sender: RecordingWebhookSender
    box: FakeSecretBox

    @property
    def owner(self) -> Actor:
        return Actor(
            user_id=self.clinic.owner.id,
            tenant_id=self.clinic.tenant.id,
            roles=frozenset({Role.OWNER}),
            unit_ids=frozenset(),
        )

    async def register(
        self, *event_types: str, url: str = "https://erp.example.com/hooks"
    ) -> WebhookSecretIssued:
        self.clock.advance(timedelta(seconds=1))
        create = CreateWebhook(self.uow, self.box, self.clock, STRICT)
        return (
            await create(CreateWebhookCommand(self.owner, url, event_types or ("tenancy.unit_created",)))
        ).unwrap()

    async def add_unit(self, name: str) -> None:
        self.clock.advance(timedelta(seconds=1))
        (
            await CreateUnit(self.uow, self.clock)(CreateUnitCommand(self.owner, name, "America/Sao_Paulo"))
        ).unwrap()

    async def run_jobs(self, disable_after: int = 3) -> list[Outcome]:
        """Handle every pending webhook message once; a failed delivery waits for its retry."""
        policy = WebhookPolicy(disable_after=disable_after)
        registry = HandlerRegistry([FanOutWebhooks(), DeliverWebhook(self.sender, self.box, policy)])
        handle = HandleOutboxMessage(self.uow, registry, self.clock)
        outcomes: list[Outcome] = []
        tried: set[object] = set()
        store = self.uow.store
        while pending := [
            r
            for r in store.outbox
            if r.handled_at is None and r.topic in registry.topics and r.id not in tried
        ]:
            for row in pending:
                tried.add(row.id)
                try:
                    outcomes.extend(run.outcome for run in await handle(outbox_message(row)))
                except RetryLater:
                    continue  # waits for its retry: retry_pending
        return outcomes

    async def retry_pending(self, disable_after: int = 3) -> None:
        """Run the waiting delivery jobs again, as the queue's retries would."""
        policy = WebhookPolicy(disable_after=disable_after)
        handle = HandleOutboxMessage(
            self.uow, HandlerRegistry([DeliverWebhook(self.sender, self.box, policy)]), self.clock
        )
        for row in [
            r for r in self.uow.store.outbox if r.handled_at is None and r.topic.startswith("webhook.")
        ]:
            with contextlib.suppress(RetryLater):
                await handle(outbox_message(row))

    async def deliveries(self, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
        async with self.uow(Scope(tenant_id=self.clinic.tenant.id), read_only=True) as uow:
            return (await uow.webhook_deliveries.page(endpoint.id, PageRequest(None, 200))).items

    async def endpoint(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        async with self.uow(Scope(tenant_id=self.clinic.tenant.id), read_only=True) as uow:
            found = await uow.webhook_endpoints.get(endpoint.id)
        assert found is not None
        return found


@pytest.fixture
async def world() -> World:
    uow, clock = InMemoryUnitOfWorkFactory(), FixedClock(T0)
    command = SignUpCommand(
        "Clínica A",
        "Centro",
        "America/Sao_Paulo",
        "Ana Souza",
        "ana@example.com",
        "correct horse battery staple",
    )
    clinic = (await SignUp(uow, FakePasswordHasher(), clock)(command)).unwrap()
    return World(uow, clock, clinic, RecordingWebhookSender(), FakeSecretBox())


async def test_the_secret_is_stored_sealed_and_bound_to_its_endpoint(world: World) -> None:
    issued = await world.register()
    stored = await world.endpoint(issued.endpoint)
    assert issued.secret not in stored.sealed_secret
    assert world.box.decrypt(stored.sealed_secret, associated=str(stored.id)).decode() == issued.secret


async def test_only_people_with_webhooks_write_register(world: World) -> None:
    receptionist = Actor(
        user_id=world.clinic.owner.id,
        tenant_id=world.clinic.tenant.id,
        roles=frozenset({Role.RECEPTIONIST}),
        unit_ids=frozenset(),
    )
    create = CreateWebhook(world.uow, world.box, world.clock, STRICT)
    refused = await create(
        CreateWebhookCommand(receptionist, "https://erp.example.com", ("patient.created",))
    )
    assert refused == Failure(Forbidden(permission="webhooks:write"))


# --- fan-out ----------------------------------------------------------------------------------------------


async def test_an_event_fans_out_to_each_active_subscribed_endpoint_registered_before_it(
    world: World,
) -> None:
    await world.add_unit("Antes")  # happened before any endpoint: nobody's business
    subscribed = await world.register("tenancy.unit_created", "patient.created")
    other_type = await world.register("patient.created")
    disabled = await world.register("tenancy.unit_created")
    update = UpdateWebhook(world.uow, world.clock, STRICT)
    (
        await update(UpdateWebhookCommand(world.owner, disabled.endpoint.id, status=EndpointStatus.DISABLED))
    ).unwrap()

    await world.add_unit("Jardins")
    await world.run_jobs()

    assert [r.secret for r in world.sender.requests] == [subscribed.secret]
    [delivery] = await world.deliveries(subscribed.endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.SUCCEEDED,
        1,
        204,
    )
    assert await world.deliveries(other_type.endpoint) == []
    assert await world.deliveries(disabled.endpoint) == []
    sent = world.sender.requests[0]
    assert sent.delivery_id == delivery.id
    assert '"type":"tenancy.unit_created"' in sent.body


async def test_no_endpoint_means_the_fan_out_skips(world: World) -> None:
    await world.add_unit("Jardins")
    assert Outcome.SKIPPED in await world.run_jobs()
    assert world.sender.requests == []


# --- attempts, failures, disabling -----------------------------------------------------------------------


async def test_a_failing_delivery_counts_its_attempts_then_fails_and_counts_against_the_endpoint(
    world: World,
) -> None:
    issued = await world.register()
    world.sender.status = 500
    await world.add_unit("Jardins")
    await world.run_jobs()
    [delivery] = await world.deliveries(issued.endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.last_error == "the endpoint answered HTTP 500"

    for _ in range(MAX_DELIVERY_ATTEMPTS - 1):
        await world.retry_pending()
    [delivery] = await world.deliveries(issued.endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, MAX_DELIVERY_ATTEMPTS)
    endpoint = await world.endpoint(issued.endpoint)
    assert (endpoint.status, endpoint.consecutive_failures) == (EndpointStatus.ACTIVE, 1)
    assert len(world.sender.requests) == MAX_DELIVERY_ATTEMPTS


async def test_a_success_resets_the_failures_and_enough_in_a_row_disable_the_endpoint(world: World) -> None:
    issued = await world.register()

    async def one_delivery(status: int) -> None:
        world.sender.status = status
        await world.add_unit(f"Unidade {world.clock.now().isoformat()}")
        await world.run_jobs(disable_after=2)
        for _ in range(MAX_DELIVERY_ATTEMPTS - 1):
            await world.retry_pending(disable_after=2)

    await one_delivery(500)
    assert (await world.endpoint(issued.endpoint)).consecutive_failures == 1
    await one_delivery(200)
    assert (await world.endpoint(issued.endpoint)).consecutive_failures == 0
    await one_delivery(500)
    await one_delivery(500)

    endpoint = await world.endpoint(issued.endpoint)
    assert (endpoint.status, endpoint.consecutive_failures) == (EndpointStatus.DISABLED, 2)
    disabled = [r for r in world.uow.store.outbox if r.topic == "webhooks.endpoint_disabled"]
    assert [(r.payload["endpoint_id"], r.payload["failed_deliveries"]) for r in disabled] == [
        (str(endpoint.id), 2)
    ]

    # A new event is not delivered to it.
    sent = len(world.sender.requests)
    await world.add_unit("Depois")
    await world.run_jobs(disable_after=2)
    assert len(world.sender.requests) == sent

    # Enabled again: a clean slate.
    update = UpdateWebhook(world.uow, world.clock, STRICT)
    enabled = (
        await update(UpdateWebhookCommand(world.owner, endpoint.id, status=EndpointStatus.ACTIVE))
    ).unwrap()
    assert (enabled.status, enabled.consecutive_failures, enabled.disabled_at) == (
        EndpointStatus.ACTIVE,
        0,
        None,
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
async def test_the_sender_refuses_private_destinations_when_it_connects(host: str) -> None:
    # A name is checked at every delivery, by what it resolves to then (registration saw only the name).
    request = WebhookRequest(
        f"https://{host}:9/hooks", new_signing_secret(), WebhookDeliveryId(new_uuid()), "{}", T0
    )
    response = await HttpxWebhookSender().send(request)
    assert response.status_code is None
    assert response.error is not None
    assert response.error.endswith("resolves to a private address")


@pytest.mark.parametrize("url", ["https://💩.example.com/hooks", "https://xn--a.com/hooks"])
async def test_a_url_the_http_client_refuses_is_a_failed_attempt_not_a_crash(url: str) -> None:
    """Otherwise the job would fail without counting an attempt, and the delivery stay pending forever."""
    response = await HttpxWebhookSender().send(
        WebhookRequest(
            url,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            WebhookDeliveryId(new_uuid()),
            "{}",
            datetime.now(UTC),
        )
    )
    assert response.status_code is None
    assert response.error
