"""Where the audit trail is kept."""

from __future__ import annotations

from typing import Protocol

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.audit.model import AuditEvent, AuditQuery


class AuditLog(Protocol):
    """The current tenant's audit trail. Append-only: there is no update and no delete."""

    async def add(self, event: AuditEvent) -> None:
        """Append within the unit of work: the event commits or rolls back with the change it records."""
        ...

    async def page(self, page: PageRequest, query: AuditQuery) -> Page[AuditEvent]:
        """Newest first; ``page.after`` continues below the last id of the previous page."""
        ...
