from __future__ import annotations

from datetime import datetime

from blacksheep import Response
from blacksheep.server.controllers import APIController

from clinic_api.access import requires
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, invalid_fields, unwrap_or_raise
from clinic_api.responses import json_response
from clinic_api.routing import get
from clinic_api.schemas import AuditEventOut, AuditEventPage
from clinic_core.application.actor import Actor
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.audit.queries import ListAuditEvents
from clinic_core.shared.errors import FieldError
from clinic_core.shared.ids import UserId, parse_uuid
from clinic_core.tenancy.permissions import Permission


def _moment(name: str, raw: QueryParam[str] | None) -> datetime | None:
    if raw is None or not raw.value:
        return None
    try:
        moment = datetime.fromisoformat(raw.value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ProblemRaised(
            invalid_fields(
                [FieldError(name, "invalid_datetime", "an ISO 8601 date-time with its UTC offset")]
            )
        )
    return moment


def _query(
    action: QueryParam[str] | None,
    actor_user_id: QueryParam[str] | None,
    since: QueryParam[str] | None,
    until: QueryParam[str] | None,
) -> AuditQuery:
    errors: list[FieldError] = []
    actions: set[AuditAction] = set()
    for name in action.value.split(",") if action and action.value else []:
        try:
            actions.add(AuditAction(name.strip()))
        except ValueError:
            errors.append(FieldError("action", "unknown_action", f"no such action: {name.strip()[:60]}"))
    user = parse_uuid(actor_user_id.value) if actor_user_id and actor_user_id.value else None
    if actor_user_id and actor_user_id.value and user is None:
        errors.append(FieldError("actor_user_id", "invalid_value", "expected a UUID"))
    if errors:
        raise ProblemRaised(invalid_fields(errors))
    return AuditQuery(
        actions=frozenset(actions),
        actor_user_id=UserId(user) if user else None,
        since=_moment("since", since),
        until=_moment("until", until),
    )


class AuditEvents(APIController):
    def __init__(self, list_audit_events: ListAuditEvents) -> None:
        self._list = list_audit_events

    @classmethod
    def route(cls) -> str:
        return "/v1/audit-events"

    @requires(Permission.AUDIT_READ)
    @documented(200, AuditEventPage, problems=(401, 403, 422))
    @get("/")
    async def list_audit_events(
        self,
        actor: Actor,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
        action: QueryParam[str] | None = None,
        actor_user_id: QueryParam[str] | None = None,
        since: QueryParam[str] | None = None,
        until: QueryParam[str] | None = None,
    ) -> Response:
        """The clinic's security audit trail, newest first. Needs the `audit:read` permission.

        Sign-ins and their failures, second-factor events, password changes and resets, revoked sessions,
        API keys, roles and members: who did it, when, from which address, in which request.

        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        @param action: only these actions, comma-separated (`auth.sign_in_failed,auth.session_revoked`).
        @param actor_user_id: only what this person did.
        @param since: only events at or after this instant (ISO 8601 with offset).
        @param until: only events before this instant (ISO 8601 with offset).
        """
        query = _query(action, actor_user_id, since, until)
        page = unwrap_or_raise(await self._list(actor, page_request(cursor, limit), query))
        return json_response(
            AuditEventPage(items=[AuditEventOut.of(e) for e in page.items], next_cursor=page.next_cursor)
        )
