"""What both apps run jobs with: the handlers of outbox messages and the recurring jobs, wired to the
adapters the settings name. ``clinic-worker`` builds it in each work horse (after the fork); the API
builds it in the embedded default, where jobs run in its own event loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.jobs.handlers import HandleOutboxMessage, HandlerRegistry, MessageHandler
from clinic_core.jobs.ports import JobQueue
from clinic_core.jobs.purge import PurgeExpired, Retention
from clinic_core.jobs.recurring import RecurringJob, RecurringRegistry
from clinic_core.jobs.relay import RelayOutbox
from clinic_core.jobs.sweeps import every_tenant
from clinic_core.notifications.handlers import email_handlers
from clinic_core.scheduling.no_shows import MarkNoShows
from clinic_core.scheduling.reminders import QueueDueReminders
from clinic_core.scheduling.waitlist import ExpireWaitlistOffers
from clinic_core.shared.clock import Clock
from clinic_core.webhooks.delivery import DeliverWebhook, FanOutWebhooks
from clinic_core.webhooks.model import WebhookPolicy
from clinic_infra.db.engine import create_engine
from clinic_infra.db.job_repositories import SqlOutboxSource, SqlTenantDirectory
from clinic_infra.db.roles import assume_role_on_connect
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.http_webhooks import HttpxWebhookSender
from clinic_infra.mail.configured import mailroom_for
from clinic_infra.security.secret_box import secret_box_for
from clinic_infra.settings import Settings


def app_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """The engine the API and the worker act through: the configured URL, as the application role."""
    engine = create_engine(
        settings.effective_database_url, pool_size=pool_size or settings.database_pool_size
    )
    if settings.database_role:
        assume_role_on_connect(engine, settings.database_role)
    return engine


@dataclass(frozen=True)
class JobServices:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    uow: SqlUnitOfWorkFactory
    handlers: HandlerRegistry
    recurring: RecurringRegistry
    outbox: SqlOutboxSource
    tenants: SqlTenantDirectory

    @property
    def handle(self) -> HandleOutboxMessage:
        return HandleOutboxMessage(self.uow, self.handlers, self.clock)

    def relay(self, queue: JobQueue) -> RelayOutbox:
        return RelayOutbox(self.outbox, queue, self.clock)


def handlers_for(settings: Settings, uow: SqlUnitOfWorkFactory, clock: Clock) -> list[MessageHandler]:
    """Every handler of outbox messages this deployment runs."""
    webhooks = webhook_policy(settings)
    return [
        *email_handlers(mailroom_for(settings, clock)),
        FanOutWebhooks(),
        DeliverWebhook(
            HttpxWebhookSender(allow_private_hosts=webhooks.allow_private_hosts),
            secret_box_for(settings),
            webhooks,
        ),
    ]


def webhook_policy(settings: Settings) -> WebhookPolicy:
    return WebhookPolicy(
        allow_private_hosts=settings.webhook_allow_private_hosts,
        disable_after=settings.webhook_disable_after_failures,
    )


def recurring_for(
    settings: Settings, uow: SqlUnitOfWorkFactory, tenants: SqlTenantDirectory, clock: Clock
) -> list[RecurringJob]:
    """Every recurring job this deployment runs."""
    return [
        RecurringJob(
            "appointment-reminders",
            timedelta(seconds=60),
            every_tenant("appointment-reminders", tenants, QueueDueReminders(uow, clock)),
        ),
        RecurringJob(
            "mark-no-shows",
            timedelta(minutes=5),
            every_tenant(
                "mark-no-shows",
                tenants,
                MarkNoShows(uow, clock, grace=timedelta(minutes=settings.no_show_grace_minutes)),
            ),
        ),
        RecurringJob(
            "expire-waitlist-offers",
            timedelta(seconds=60),
            every_tenant("expire-waitlist-offers", tenants, ExpireWaitlistOffers(uow, clock)),
        ),
        RecurringJob(
            "purge-expired",
            timedelta(hours=1),
            PurgeExpired(
                uow,
                tenants,
                clock,
                Retention(handled_outbox=timedelta(days=settings.outbox_retention_days)),
            ),
        ),
    ]


def job_services(
    settings: Settings,
    engine: AsyncEngine,
    clock: Clock,
    *,
    extra_handlers: tuple[MessageHandler, ...] = (),
) -> JobServices:
    uow = SqlUnitOfWorkFactory(engine)
    tenants = SqlTenantDirectory(engine)
    return JobServices(
        settings=settings,
        engine=engine,
        clock=clock,
        uow=uow,
        handlers=HandlerRegistry([*handlers_for(settings, uow, clock), *extra_handlers]),
        recurring=RecurringRegistry(recurring_for(settings, uow, tenants, clock)),
        outbox=SqlOutboxSource(engine),
        tenants=tenants,
    )
