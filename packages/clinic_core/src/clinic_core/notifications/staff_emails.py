"""Emails to the clinic's own people: a webhook endpoint that was disabled, told to owners and admins."""

from __future__ import annotations

from datetime import datetime

from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.identity.model import User
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.notifications.mailroom import ClinicDetails, Mailroom
from clinic_core.tenancy.model import Membership
from clinic_core.tenancy.permissions import Role
from clinic_core.webhooks.events import WebhookEndpointDisabled

RUNS_THE_CLINIC = frozenset({Role.OWNER, Role.ADMIN})


async def people_running(uow: UnitOfWork) -> list[User]:
    """The users of the scope's tenant's members who are owners or admins, in membership order."""
    members: list[Membership] = []
    page = PageRequest(limit=100)
    while True:
        found = await uow.memberships.list(page)
        members.extend(m for m in found.items if m.roles & RUNS_THE_CLINIC)
        if found.next_after is None:
            break
        page = PageRequest(after=found.next_after, limit=page.limit)
    users = await uow.users.get_many({m.user_id for m in members})
    return [users[m.user_id] for m in members if m.user_id in users]


class WebhookDisabledEmail:
    """One message to each owner and admin: the endpoint stopped receiving events until re-enabled.

    Each recipient's message has a Message-ID of its own (the user's id is part of it). A retry after an
    outage in the middle sends again to those already written to, with the same Message-ID.
    """

    name = f"email.{WebhookEndpointDisabled.topic}"
    topics = frozenset({WebhookEndpointDisabled.topic})

    def __init__(self, mailroom: Mailroom) -> None:
        self._mailroom = mailroom

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        tenant = await uow.tenants.get(message.tenant_id)
        if tenant is None:
            return Outcome.SKIPPED
        payload = message.payload
        outcomes = []
        for user in await people_running(uow):
            outcomes.append(
                await self._mailroom.send(
                    message,
                    self.name,
                    to=user.email.value,
                    template="webhook_endpoint_disabled",
                    locale=tenant.locale,
                    context={
                        "name": user.name.value,
                        "clinic": ClinicDetails.of(tenant),
                        "url": payload["url"],
                        "failed_deliveries": payload["failed_deliveries"],
                    },
                    part=str(user.id),
                )
            )
        return Outcome.DONE if Outcome.DONE in outcomes else Outcome.SKIPPED
