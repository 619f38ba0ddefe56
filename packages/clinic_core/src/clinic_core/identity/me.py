"""Who am I: the signed-in user, the active tenant and every tenant they can switch to."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.identity.model import User
from clinic_core.shared.errors import NotFound
from clinic_core.tenancy.model import Membership, Tenant


@dataclass(frozen=True, slots=True)
class Me:
    user: User
    tenant: Tenant
    membership: Membership
    memberships: list[tuple[Tenant, Membership]]


class GetMe:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[Me, NotFound]:
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            user = await uow.users.get(actor.user_id)
            memberships = await uow.directory.memberships_of(actor.user_id)
        current = next(((t, m) for t, m in memberships if t.id == actor.tenant_id), None)
        if user is None or current is None:
            return Failure(NotFound("user", str(actor.user_id)))
        return Success(Me(user, current[0], current[1], memberships))
