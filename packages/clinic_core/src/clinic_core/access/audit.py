"""Who an audit event says acted: a person, or an API key acting for the tenant."""

from __future__ import annotations

from typing import Any

from clinic_core.application.actor import Actor


def acted_by(actor: Actor) -> dict[str, Any]:
    """``actor_user_id`` or ``actor_api_key_id`` for ``AuditEvent.record``, never both."""
    if actor.api_key_id is not None:
        return {"actor_user_id": None, "actor_api_key_id": actor.api_key_id}
    return {"actor_user_id": actor.user_id, "actor_api_key_id": None}
