"""Tenants, units, memberships and invitations: plain Python, no persistence concerns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import Conflict, DomainError, Forbidden
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import InvitationId, MembershipId, RoleId, TenantId, UnitId, UserId
from clinic_core.shared.values import Email, Phone, Slug, TimeZone
from clinic_core.tenancy.permissions import Role

INVITATION_LIFETIME = timedelta(days=7)


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Plan(StrEnum):
    TRIAL = "trial"
    CLINIC = "clinic"
    FRANCHISE = "franchise"


class Locale(StrEnum):
    """The language (and date and number conventions) a clinic's emails are written in."""

    PT_BR = "pt-BR"
    EN = "en"


class UnverifiedEmailAccess(StrEnum):
    """What a member whose email is not verified yet may do in a clinic."""

    FULL = "full"
    """Everything their roles allow."""
    NO_PATIENT_DATA = "no_patient_data"
    """Sign in and work on the clinic's setup, but read or write no patient data (the default)."""
    NONE = "none"
    """Not sign in to this clinic at all."""


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """A clinic's own security rules, on top of the platform's."""

    require_mfa_for_staff: bool = False
    """Staff (every role but client) must use a second factor; those without one enrol at next sign-in."""
    unverified_email_access: UnverifiedEmailAccess = UnverifiedEmailAccess.NO_PATIENT_DATA


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    city: str
    state: str
    postal_code: str
    country: str = "BR"
    line2: str | None = None
    district: str | None = None


@dataclass(frozen=True, kw_only=True)
class TenantCreated(DomainEvent):
    topic = "tenancy.tenant_created"
    slug: str
    owner_id: UserId


@dataclass(frozen=True, kw_only=True)
class UnitCreated(DomainEvent):
    topic = "tenancy.unit_created"
    unit_id: UnitId


@dataclass(frozen=True, kw_only=True)
class MemberInvited(DomainEvent):
    """Mail ``token`` to ``email`` as the link that accepts the invitation.

    Like the account token events, the outbox row carries the raw token until delivery (only its digest
    is on the invitation): it works once, for 7 days, and only until the invitation is revoked.
    """

    topic = "tenancy.member_invited"
    invitation_id: InvitationId
    email: str
    invited_by: UserId
    expires_at: datetime
    token: str


@dataclass(frozen=True, kw_only=True)
class MemberJoined(DomainEvent):
    topic = "tenancy.member_joined"
    membership_id: MembershipId
    user_id: UserId


@dataclass(frozen=True, kw_only=True)
class MemberRemoved(DomainEvent):
    topic = "tenancy.member_removed"
    membership_id: MembershipId
    user_id: UserId


@dataclass(eq=False, kw_only=True)
class Tenant:
    id: TenantId
    slug: Slug
    name: str
    plan: Plan
    status: TenantStatus
    created_at: datetime
    security: SecurityPolicy = field(default_factory=SecurityPolicy)
    patients_shared_across_units: bool = True
    """Whether every member sees every patient; when False, a member restricted to some units sees only
    the patients of those units (and those with no home unit)."""
    locale: Locale = Locale.PT_BR
    """What the clinic's emails are written in."""
    contact_email: Email | None = None
    """Where replies to the clinic's emails go, and the address they show for it."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE

    def suspend(self) -> None:
        self.status = TenantStatus.SUSPENDED

    def reactivate(self) -> None:
        self.status = TenantStatus.ACTIVE


@dataclass(eq=False, kw_only=True)
class Unit:
    tenant_id: TenantId
    id: UnitId
    name: str
    timezone: TimeZone
    created_at: datetime
    phone: Phone | None = None
    address: Address | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)


@dataclass(eq=False, kw_only=True)
class Membership:
    """A user's place in a tenant. ``unit_ids`` empty means every unit; otherwise only those."""

    tenant_id: TenantId
    id: MembershipId
    user_id: UserId
    roles: frozenset[Role]
    unit_ids: frozenset[UnitId]
    created_at: datetime
    custom_role_ids: frozenset[RoleId] = frozenset()
    """The tenant's own roles this member holds, on top of the built-in ``roles``."""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def all_units(self) -> bool:
        return not self.unit_ids


class InvitationNotUsable(DomainError):
    code = "invitation_not_usable"

    @property
    def detail(self) -> str:
        return "the invitation is invalid, expired, revoked or already accepted"


@dataclass(eq=False, kw_only=True)
class Invitation:
    tenant_id: TenantId
    id: InvitationId
    email: Email
    roles: frozenset[Role]
    unit_ids: frozenset[UnitId]
    token_hash: str
    invited_by: UserId
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def is_usable(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at

    def accept(self, now: datetime) -> Result[None, InvitationNotUsable]:
        if not self.is_usable(now):
            return Failure(InvitationNotUsable())
        self.accepted_at = now
        return Success(None)


class SlugTaken(Conflict):
    code = "slug_taken"


class TenantSuspended(Forbidden):
    code = "tenant_suspended"

    @property
    def detail(self) -> str:
        return "this clinic's account is suspended"


class NoAccessToTenant(Forbidden):
    code = "no_access_to_tenant"

    @property
    def detail(self) -> str:
        return "you are not a member of that clinic"
