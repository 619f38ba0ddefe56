"""Repositories of custom roles and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from clinic_core.access.model import ApiKey, CustomRole
from clinic_core.shared.ids import ApiKeyId, RoleId, TenantId


class RoleRepository(Protocol):
    """The scope's tenant's custom roles."""

    async def add(self, role: CustomRole) -> None:
        """Raises ``UniqueViolation("uq_roles_tenant_id_name_key")`` for a name the tenant has already."""
        ...

    async def get(self, role_id: RoleId) -> CustomRole | None: ...

    async def get_many(self, role_ids: frozenset[RoleId]) -> dict[RoleId, CustomRole]:
        """The roles among ``role_ids`` that exist in this tenant."""
        ...

    async def get_by_name(self, name: str) -> CustomRole | None:
        """The role whose name is ``name`` up to case and spacing."""
        ...

    async def list(self) -> list[CustomRole]:
        """Every custom role of the tenant, by name."""
        ...

    async def save(self, role: CustomRole) -> None: ...

    async def remove(self, role_id: RoleId) -> None: ...

    async def in_use(self, role_id: RoleId) -> bool:
        """Whether any member holds the role."""
        ...


class ApiKeyRepository(Protocol):
    """The scope's tenant's API keys."""

    async def add(self, key: ApiKey) -> None:
        """Also records the key's prefix in the global directory. Raises ``UniqueViolation`` for a prefix
        that is taken (in any tenant)."""
        ...

    async def get(self, key_id: ApiKeyId) -> ApiKey | None: ...

    async def get_by_prefix(self, prefix: str) -> ApiKey | None: ...

    async def list(self) -> list[ApiKey]:
        """Every key of the tenant, newest first, revoked ones included."""
        ...

    async def save(self, key: ApiKey) -> None:
        """Writes the revocation; nothing else of a key changes."""
        ...

    async def touch(self, key_id: ApiKeyId, now: datetime, stale_before: datetime) -> bool:
        """Set ``last_used_at = now`` if it is unset or not after ``stale_before``: a compare-and-set, so
        a busy key writes at most once per interval whatever the number of processes."""
        ...


class ApiKeyDirectory(Protocol):
    """Which tenant a key prefix belongs to: read before any tenant is in scope (a global table)."""

    async def tenant_of(self, prefix: str) -> TenantId | None: ...
