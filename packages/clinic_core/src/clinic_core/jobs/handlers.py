"""Handlers of outbox messages, and the use case that runs them once each.

A handler is subscribed to topics. ``HandleOutboxMessage`` runs every handler of a message's topic, each in
a unit of work of its own bound to the message's tenant: it claims the receipt ``(message, handler)``, runs
the handler, records the outcome and commits. A handler whose effect is a database change is therefore
applied exactly once; a handler whose effect leaves the database (an email, an HTTP call) happens once
unless the process dies after the effect and before the commit, the one window in which it is repeated
(at least once, never zero times).

Handlers raise on outages (SMTP or the network down): the transaction rolls back, the receipt is released,
and the job is retried with backoff (``RetryLater`` when the failed attempt must leave a trace, such as a
webhook delivery's attempt count). What will not get better by retrying (no address, a disabled endpoint,
an appointment that moved) is an ``Outcome.SKIPPED``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.shared.clock import Clock

log = logging.getLogger(__name__)


class MessageHandler(Protocol):
    @property
    def name(self) -> str:
        """Stable name: receipts are keyed by it, so renaming a handler re-runs it on redelivered rows."""
        ...

    @property
    def topics(self) -> frozenset[str]: ...

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        """Do the handler's work for ``message`` inside ``uow`` (which the caller commits)."""
        ...


class RetryLater(Exception):
    """Raised by a handler whose attempt failed in a way a retry may fix (a peer down), when the attempt
    must leave a trace all the same (a delivery's attempt count, its last error).

    The handler's unit of work rolls back with the exception, trace included; ``HandleOutboxMessage``
    then writes the trace in a unit of work of its own and re-raises, so the job is retried. The trace is
    not written from inside the handler: a second transaction opened while the first holds its receipt
    would wait for it (SQLite has one writer at a time), and the first waits for the handler.
    """

    def __init__(self, reason: str, trace: Callable[[UnitOfWork], Awaitable[None]]) -> None:
        super().__init__(reason)
        self.trace = trace


class HandlerRegistry:
    """Topic to handlers. Built once per process by the composition root."""

    def __init__(self, handlers: Iterable[MessageHandler] = ()) -> None:
        self._handlers: list[MessageHandler] = []
        for handler in handlers:
            self.add(handler)

    def add(self, handler: MessageHandler) -> None:
        if any(h.name == handler.name for h in self._handlers):
            raise ValueError(f"two handlers are named {handler.name!r}")
        self._handlers.append(handler)

    def for_topic(self, topic: str) -> list[MessageHandler]:
        return [h for h in self._handlers if topic in h.topics]

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(t for h in self._handlers for t in h.topics)


@dataclass(frozen=True, slots=True)
class HandlerRun:
    handler: str
    outcome: Outcome


class HandleOutboxMessage:
    """Run each handler of ``message``'s topic once, then mark the message handled."""

    def __init__(self, uow_factory: UnitOfWorkFactory, handlers: HandlerRegistry, clock: Clock) -> None:
        self._uow = uow_factory
        self._handlers = handlers
        self._clock = clock

    async def __call__(self, message: OutboxMessage) -> Sequence[HandlerRun]:
        runs: list[HandlerRun] = []
        scope = Scope(tenant_id=message.tenant_id)
        handlers = self._handlers.for_topic(message.topic)
        if not handlers:
            async with self._uow(scope) as uow:
                await uow.job_receipts.message_handled(message.id, self._clock.now())
                await uow.commit()
            return runs
        if message.secret_withheld:
            async with self._uow(scope, read_only=True) as uow:
                message = message.with_secret(await uow.job_receipts.secret_of(message.id))
        for position, handler in enumerate(handlers, start=1):
            try:
                async with self._uow(scope) as uow:
                    now = self._clock.now()
                    if await uow.job_receipts.claim(message.id, handler.name, now):
                        outcome = await handler(uow, message, now)
                        await uow.job_receipts.settle(message.id, handler.name, outcome)
                    else:
                        outcome = Outcome.DUPLICATE
                    if position == len(handlers):  # the last one closes the message in its own transaction
                        await uow.job_receipts.message_handled(message.id, now)
                    await uow.commit()
            except RetryLater as retry:
                async with self._uow(scope) as uow:
                    await retry.trace(uow)
                    await uow.commit()
                raise
            runs.append(HandlerRun(handler.name, outcome))
            log.info("outbox message %s (%s): %s %s", message.id, message.topic, handler.name, outcome.value)
        return runs
