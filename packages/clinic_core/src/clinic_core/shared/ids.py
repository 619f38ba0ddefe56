"""Typed identifiers. Every id is a UUIDv7: time-ordered, so primary-key indexes stay append-mostly."""

from __future__ import annotations

from typing import NewType
from uuid import UUID

import uuid6

TenantId = NewType("TenantId", UUID)
UnitId = NewType("UnitId", UUID)
UserId = NewType("UserId", UUID)
MembershipId = NewType("MembershipId", UUID)
InvitationId = NewType("InvitationId", UUID)
SessionId = NewType("SessionId", UUID)
RefreshTokenId = NewType("RefreshTokenId", UUID)
EventId = NewType("EventId", UUID)
RoleId = NewType("RoleId", UUID)
ApiKeyId = NewType("ApiKeyId", UUID)


def new_uuid() -> UUID:
    """A new UUIDv7 (RFC 9562)."""
    return UUID(bytes=uuid6.uuid7().bytes)


def parse_uuid(raw: str) -> UUID | None:
    """The UUID written in ``raw``, or None when it is not one."""
    try:
        return UUID(raw)
    except (ValueError, AttributeError, TypeError):
        return None
