"""The principal a use case acts for. It comes from a verified credential, never from a request body."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.identity.ports import AccessClaims
from clinic_core.shared.errors import Forbidden
from clinic_core.shared.ids import ApiKeyId, SessionId, TenantId, UnitId, UserId
from clinic_core.tenancy.permissions import Permission, Role, permissions_of


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: UserId
    tenant_id: TenantId
    roles: frozenset[Role]
    unit_ids: frozenset[UnitId]
    """Empty: every unit of the tenant. Otherwise the member is restricted to these units."""
    session_id: SessionId | None = None
    granted: frozenset[Permission] | None = None
    """The effective permissions when known (built-in roles and custom roles, or an API key's scopes);
    None: those of ``roles``."""
    withheld: frozenset[Permission] = frozenset()
    """Permissions granted but withheld by the tenant for now (say, until the email is verified)."""
    api_key_id: ApiKeyId | None = None
    """Set when an API key acts rather than a person; ``user_id`` is then nobody's
    (``clinic_core.access.model.API_KEY_USER``)."""

    @classmethod
    def from_claims(cls, claims: AccessClaims) -> Actor:
        """The actor a verified access token speaks for. Raises ValueError for unit ids that are not UUIDs
        (a token this platform did not mint)."""
        return cls(
            user_id=claims.user_id,
            tenant_id=claims.tenant_id,
            roles=claims.roles,
            unit_ids=frozenset(UnitId(UUID(raw)) for raw in claims.unit_ids),
            session_id=claims.session_id,
        )

    def with_access(
        self,
        roles: frozenset[Role],
        unit_ids: frozenset[UnitId],
        *,
        granted: frozenset[Permission] | None = None,
        withheld: frozenset[Permission] = frozenset(),
    ) -> Actor:
        """The same person and session with the roles, units and permissions their membership has now,
        less what the tenant withholds."""
        return replace(self, roles=roles, unit_ids=unit_ids, granted=granted, withheld=withheld)

    @property
    def permissions(self) -> frozenset[Permission]:
        return self.grantable - self.withheld

    @property
    def grantable(self) -> frozenset[Permission]:
        """What the actor's roles carry, withheld or not: what they may hand to others. An unverified email
        limits what the person reads, not whom a clinic's owner may appoint; the appointee's own account
        answers for its own access."""
        return self.granted if self.granted is not None else permissions_of(self.roles)

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
