"""Repositories of the tenancy context. Each tenant-owned repository is built for exactly one tenant."""

from __future__ import annotations

from typing import Protocol

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.shared.ids import InvitationId, MembershipId, TenantId, UnitId, UserId
from clinic_core.shared.values import Slug
from clinic_core.tenancy.model import Invitation, Membership, Tenant, Unit
from clinic_core.tenancy.permissions import Role


class TenantRepository(Protocol):
    """The directory of tenants (control plane): looked up by id or slug before a tenant is chosen."""

    async def add(self, tenant: Tenant) -> None: ...

    async def get(self, tenant_id: TenantId) -> Tenant | None: ...

    async def get_by_slug(self, slug: Slug) -> Tenant | None: ...

    async def slugs_like(self, slug: Slug) -> set[str]:
        """The taken slugs equal to ``slug`` or of the form ``slug-N``."""
        ...

    async def save(self, tenant: Tenant) -> None: ...


class UnitRepository(Protocol):
    async def add(self, unit: Unit) -> None: ...

    async def get(self, unit_id: UnitId) -> Unit | None: ...

    async def list(self, page: PageRequest, only: frozenset[UnitId] | None = None) -> Page[Unit]:
        """Units in id order; ``only`` restricts to those ids (a unit-restricted member's view)."""
        ...

    async def existing(self, unit_ids: frozenset[UnitId]) -> frozenset[UnitId]: ...


class MembershipRepository(Protocol):
    async def add(self, membership: Membership) -> None: ...

    async def get(self, membership_id: MembershipId) -> Membership | None: ...

    async def get_for_user(self, user_id: UserId) -> Membership | None: ...

    async def list(self, page: PageRequest, sharing: frozenset[UnitId] | None = None) -> Page[Membership]:
        """Memberships in id order; with ``sharing``, only those that reach one of these units (the members
        a unit-restricted member works with: unrestricted ones, and those restricted to a shared unit)."""
        ...

    async def save_roles(self, membership: Membership) -> None:
        """Write the membership's built-in ``roles`` and its ``custom_role_ids``."""
        ...

    async def ids_with_role(self, role: Role) -> frozenset[MembershipId]:
        """The memberships holding ``role``, locked until the transaction ends where the database can
        (so that two owners demoting each other at once cannot leave the clinic without one). Not for a
        read-only unit of work."""
        ...

    async def remove(self, membership_id: MembershipId) -> bool:
        """Delete the membership with its unit restrictions and custom-role assignments. False when there
        was none (already removed)."""
        ...


class UserMembershipDirectory(Protocol):
    """A user's memberships across every tenant: the one cross-tenant read, keyed by the user themself.

    Built-in roles and units only: ``custom_role_ids`` stay empty here (tokens name built-in roles; the
    tenant's ``MembershipRepository`` has the custom ones)."""

    async def memberships_of(self, user_id: UserId) -> list[tuple[Tenant, Membership]]: ...


class InvitationRepository(Protocol):
    async def add(self, invitation: Invitation) -> None: ...

    async def get(self, invitation_id: InvitationId) -> Invitation | None: ...

    async def save(self, invitation: Invitation) -> None: ...
