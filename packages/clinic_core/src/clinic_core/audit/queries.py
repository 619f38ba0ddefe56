"""Reading the audit trail: the tenant's admins page and filter it."""

from __future__ import annotations

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.audit.model import AuditEvent, AuditQuery
from clinic_core.shared.errors import Forbidden, InvalidInput
from clinic_core.tenancy.permissions import Permission


class ListAuditEvents:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, page: PageRequest, query: AuditQuery
    ) -> Result[Page[AuditEvent], Forbidden | InvalidInput]:
        allowed = actor.authorize(Permission.AUDIT_READ)
        if isinstance(allowed, Failure):
            return allowed
        if query.since is not None and query.until is not None and query.since > query.until:
            return Failure(InvalidInput.of("since", "after_until", "since must not be later than until"))
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            return Success(await uow.audit.page(page, query))
