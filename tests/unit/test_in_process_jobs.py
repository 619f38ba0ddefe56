"""The embedded default's queue: retries wait off the line, so one failing message delays no other."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

from clinic_core.jobs.handlers import HandleOutboxMessage
from clinic_core.jobs.model import OutboxMessage
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_infra.jobs.in_process import InProcessJobQueue


def _message(topic: str) -> OutboxMessage:
    return OutboxMessage(new_uuid(), TenantId(new_uuid()), topic, {}, datetime.now(UTC))


async def test_a_failing_message_waits_for_its_retry_without_holding_the_others() -> None:
    handled: list[str] = []
    attempts: dict[str, int] = {}

    async def handle(message: OutboxMessage) -> list[object]:
        attempts[message.topic] = attempts.get(message.topic, 0) + 1
        if message.topic == "dead.endpoint":
            raise ConnectionError("the peer is down")
        handled.append(message.topic)
        return []

    queue = InProcessJobQueue(cast(HandleOutboxMessage, handle), backoff=(0.05, 60.0))
    runner = asyncio.create_task(queue.drain())
    try:
        await queue.dispatch([_message("dead.endpoint"), _message("sign.up")])
        async with asyncio.timeout(30):  # only against a hang
            while attempts.get("dead.endpoint", 0) < 2:  # noqa: ASYNC110 - the drain task's progress
                await asyncio.sleep(0.01)
        # The dead message is waiting for its second retry (a minute away): the other went through.
        assert handled == ["sign.up"]
        assert attempts == {"dead.endpoint": 2, "sign.up": 1}
    finally:
        runner.cancel()
