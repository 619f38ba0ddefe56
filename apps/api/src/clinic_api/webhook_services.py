"""The webhook use cases the HTTP host serves, built on the same ports as the rest of ``AppServices``."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.ports import SecretBox
from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.shared.clock import Clock
from clinic_core.webhooks.model import WebhookPolicy
from clinic_core.webhooks.use_cases import (
    CreateWebhook,
    DeleteWebhook,
    GetWebhook,
    ListWebhookDeliveries,
    ListWebhooks,
    RedeliverWebhook,
    RotateWebhookSecret,
    UpdateWebhook,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookServices:
    create: CreateWebhook
    list: ListWebhooks
    get: GetWebhook
    update: UpdateWebhook
    delete: DeleteWebhook
    rotate_secret: RotateWebhookSecret
    list_deliveries: ListWebhookDeliveries
    redeliver: RedeliverWebhook

    @classmethod
    def from_ports(
        cls, uow: UnitOfWorkFactory, clock: Clock, box: SecretBox, policy: WebhookPolicy
    ) -> WebhookServices:
        return cls(
            create=CreateWebhook(uow, box, clock, policy),
            list=ListWebhooks(uow),
            get=GetWebhook(uow),
            update=UpdateWebhook(uow, clock, policy),
            delete=DeleteWebhook(uow, clock),
            rotate_secret=RotateWebhookSecret(uow, box, clock),
            list_deliveries=ListWebhookDeliveries(uow),
            redeliver=RedeliverWebhook(uow, clock),
        )
