"""Domain events. Aggregates record them; the unit of work writes them to the outbox on commit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

from clinic_core.shared.ids import TenantId


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    topic: ClassVar[str] = "event"
    tenant_id: TenantId
    occurred_at: datetime

    def payload(self) -> dict[str, Any]:
        """The event as JSON-ready primitives (UUIDs, datetimes and enums become strings)."""
        return {f.name: _primitive(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _primitive(value: object) -> Any:
    if isinstance(value, UUID | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set | tuple | list):
        return sorted(_primitive(v) for v in value)
    return value
