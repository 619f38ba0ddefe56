"""Waking the relay when the outbox gets rows, instead of polling it.

On PostgreSQL a statement trigger on ``outbox`` sends ``NOTIFY clinic_outbox`` (delivered when the writing
transaction commits); the dispatcher listens on a connection of its own and runs a relay pass at once.
The wait still ends after a timeout, so a lost notification (the listening connection dropped, a commit
during a reconnection) costs one timeout, never a row. Without PostgreSQL the relay polls.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "clinic_outbox"


class OutboxWake(Protocol):
    async def wait(self, seconds: float) -> None:
        """Return when the outbox may have new rows, or after ``seconds``."""
        ...

    async def close(self) -> None: ...


class PostgresNotifications:
    def __init__(self, database_url: str) -> None:
        self._url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def wait(self, seconds: float) -> None:
        try:
            connection = await self._listening()
            async for _ in connection.notifies(timeout=seconds, stop_after=1):
                pass
        except psycopg.Error as error:
            log.warning("outbox notifications lost (%s): polling until they are back", type(error).__name__)
            await self.close()
            await asyncio.sleep(seconds)

    async def _listening(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=5
            )
            await self._connection.execute(f"LISTEN {CHANNEL}")
        return self._connection

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


def wake_for(database_url: str) -> OutboxWake | None:
    """Notifications on PostgreSQL; None (the relay polls) elsewhere."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresNotifications(database_url)
    return None
