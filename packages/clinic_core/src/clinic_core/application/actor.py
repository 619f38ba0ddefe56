"""The principal a use case acts for. It comes from a verified credential, never from a request body."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import Forbidden
from clinic_core.shared.ids import SessionId, TenantId, UnitId, UserId
from clinic_core.tenancy.permissions import Permission, Role, permissions_of


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: UserId
    tenant_id: TenantId
    roles: frozenset[Role]
    unit_ids: frozenset[UnitId]
    """Empty: every unit of the tenant. Otherwise the member is restricted to these units."""
    session_id: SessionId | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.roles)

    def authorize(self, permission: Permission) -> Result[None, Forbidden]:
        if permission in self.permissions:
            return Success(None)
        return Failure(Forbidden(permission=permission.value))

    def sees_unit(self, unit_id: UnitId) -> bool:
        return not self.unit_ids or unit_id in self.unit_ids

    @property
    def unit_filter(self) -> frozenset[UnitId] | None:
        """The units to filter by, or None when the actor sees all of them."""
        return self.unit_ids or None
