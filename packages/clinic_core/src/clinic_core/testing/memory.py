"""An in-memory unit of work and repositories with the same contracts as the SQL ones."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from clinic_core.access.model import ApiKey, CustomRole, name_key
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import (
    NoTenantInScope,
    ReadOnlyUnitOfWork,
    RecordedEvents,
    Scope,
    UniqueViolation,
    collect_events,
    narrow,
)
from clinic_core.attachments.model import Attachment
from clinic_core.audit.model import AuditEvent, AuditQuery
from clinic_core.identity.account_security import AccountToken, SignInFailures, TokenPurpose
from clinic_core.identity.model import AuthSession, RefreshToken, User
from clinic_core.identity.ports import (
    AccountTokenRepository,
    MfaChallengeRepository,
    MfaRepository,
    PasswordResetRequestLog,
    RefreshTokenRepository,
    SessionRepository,
    SignInFailureRepository,
    UserRepository,
)
from clinic_core.identity.second_factor import MfaChallengeId, MfaChallengeRecord, TotpCredential
from clinic_core.interop.practitioners import ExternalPractitioner
from clinic_core.jobs.model import SECRET_PAYLOAD_KEY, Outcome
from clinic_core.patients.model import GuardianLink, Patient, PatientAccess, PatientWeight
from clinic_core.privacy.model import ConsentRecord, PrivacySettings
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import (
    ApiKeyId,
    InvitationId,
    MembershipId,
    RefreshTokenId,
    RoleId,
    SessionId,
    TenantId,
    UnitId,
    UserId,
    new_uuid,
)
from clinic_core.shared.values import Email, Slug
from clinic_core.tenancy.model import Invitation, Membership, Tenant, Unit
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.ports import TenantRepository, UserMembershipDirectory
from clinic_core.testing.attachments import InMemoryAttachments
from clinic_core.testing.catalog import (
    CatalogTables,
    InMemoryCategories,
    InMemoryEquipment,
    InMemoryProcedures,
    InMemoryProfessionals,
    InMemoryRooms,
)
from clinic_core.testing.clinical import (
    ClinicalTables,
    InMemoryAnamnesisResponses,
    InMemoryAnamnesisTemplates,
    InMemoryClinicalNotes,
    InMemoryTimeline,
)
from clinic_core.testing.patients import InMemoryGuardians, InMemoryPatientAccessLog, InMemoryPatients
from clinic_core.testing.practitioners import InMemoryExternalPractitioners, InMemoryIdentifierHolders
from clinic_core.testing.privacy_memory import InMemoryConsents, InMemoryPrivacySettings
from clinic_core.testing.scheduling import (
    InMemoryAppointmentLocks,
    InMemoryAppointmentReminders,
    InMemoryAppointments,
    InMemoryIdempotencyKeys,
    InMemoryWaitlist,
    SchedulingTables,
)
from clinic_core.testing.webhooks import InMemoryWebhookDeliveries, InMemoryWebhookEndpoints, WebhookTables
from clinic_core.testing.working_time import InMemoryBusyTimes, InMemoryWorkingTime, WorkingTimeTables

E = TypeVar("E")


@dataclass
class OutboxRecord:
    tenant_id: TenantId
    topic: str
    payload: dict[str, Any]
    occurred_at: datetime | None = None
    id: UUID = field(default_factory=new_uuid)
    published_at: datetime | None = None
    handled_at: datetime | None = None


@dataclass
class _RecoveryCode:
    user_id: UserId
    code_hash: str
    created_at: datetime
    used_at: datetime | None = None


@dataclass
class _Tables:
    tenants: dict[UUID, Tenant] = field(default_factory=dict)
    users: dict[UUID, User] = field(default_factory=dict)
    units: dict[UUID, Unit] = field(default_factory=dict)
    memberships: dict[UUID, Membership] = field(default_factory=dict)
    invitations: dict[UUID, Invitation] = field(default_factory=dict)
    sessions: dict[UUID, AuthSession] = field(default_factory=dict)
    refresh_tokens: dict[UUID, RefreshToken] = field(default_factory=dict)
    audit_events: dict[UUID, AuditEvent] = field(default_factory=dict)
    totp_credentials: dict[UUID, TotpCredential] = field(default_factory=dict)
    recovery_codes: dict[UUID, _RecoveryCode] = field(default_factory=dict)
    mfa_challenges: dict[UUID, MfaChallengeRecord] = field(default_factory=dict)
    account_tokens: dict[UUID, AccountToken] = field(default_factory=dict)
    reset_requests: list[tuple[str, datetime]] = field(default_factory=list)
    sign_in_failures: dict[tuple[str, str], SignInFailures] = field(default_factory=dict)
    roles: dict[UUID, CustomRole] = field(default_factory=dict)
    api_keys: dict[UUID, ApiKey] = field(default_factory=dict)
    api_key_prefixes: dict[str, TenantId] = field(default_factory=dict)
    external_practitioners: dict[UUID, ExternalPractitioner] = field(default_factory=dict)
    patients: dict[UUID, Patient] = field(default_factory=dict)
    patient_weights: dict[UUID, PatientWeight] = field(default_factory=dict)
    guardian_links: list[GuardianLink] = field(default_factory=list)
    patient_access_log: list[PatientAccess] = field(default_factory=list)
    attachments: dict[UUID, Attachment] = field(default_factory=dict)
    outbox: list[OutboxRecord] = field(default_factory=list)
    job_receipts: dict[tuple[UUID, UUID, str], str] = field(default_factory=dict)
    """(tenant, message, handler) -> outcome."""
    clinical: ClinicalTables = field(default_factory=ClinicalTables)
    catalog: CatalogTables = field(default_factory=CatalogTables)
    working_time: WorkingTimeTables = field(default_factory=WorkingTimeTables)
    consents: dict[UUID, ConsentRecord] = field(default_factory=dict)
    privacy_settings: dict[UUID, PrivacySettings] = field(default_factory=dict)
    scheduling: SchedulingTables = field(default_factory=SchedulingTables)
    webhooks: WebhookTables = field(default_factory=WebhookTables)

    def check_unique(self) -> None:
        _unique("uq_users_email", (u.email.value for u in self.users.values()))
        _unique("uq_tenants_slug", (t.slug.value for t in self.tenants.values()))
        _unique("uq_memberships_tenant_user", ((m.tenant_id, m.user_id) for m in self.memberships.values()))
        _unique("uq_refresh_tokens_hash", (t.token_hash for t in self.refresh_tokens.values()))
        _unique("uq_mfa_challenges_token_hash", (c.token_hash for c in self.mfa_challenges.values()))
        _unique("uq_account_tokens_hash", (t.token_hash for t in self.account_tokens.values()))
        _unique("uq_roles_tenant_id_name_key", ((r.tenant_id, r.name_key) for r in self.roles.values()))
        _unique("pk_api_key_prefixes", (k.prefix for k in self.api_keys.values()))
        for membership in self.memberships.values():
            for role_id in membership.custom_role_ids:
                role = self.roles.get(role_id)
                if role is None or role.tenant_id != membership.tenant_id:
                    raise AssertionError(
                        "fk_membership_roles_role: a member holds a role not of their tenant"
                    )


def _unique(constraint: str, values: Iterable[object]) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise UniqueViolation(constraint)
        seen.add(value)


class InMemoryStore:
    """The committed state. One store is one database; units of work over it run one at a time."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[Any] | None = None
        """The task inside a unit of work, so that one opening a second inside the first fails at once."""

    @property
    def outbox(self) -> list[OutboxRecord]:
        return self.tables.outbox


class _Repo(Generic[E]):
    def __init__(self, rows: dict[UUID, E], seen: list[object], visible: Callable[[E], bool]) -> None:
        self._rows, self._seen, self._visible = rows, seen, visible

    def _get(self, key: UUID) -> E | None:
        row = self._rows.get(key)
        if row is None or not self._visible(row):
            return None
        self._seen.append(row)
        return row

    def _put(self, key: UUID, row: E) -> None:
        if not self._visible(row):
            raise NoTenantInScope(f"{type(row).__name__} belongs to another tenant than the unit of work's")
        self._rows[key] = row
        self._seen.append(row)

    def _where(self, predicate: Callable[[E], bool]) -> list[E]:
        return [r for r in self._rows.values() if self._visible(r) and predicate(r)]

    def _page(self, page: PageRequest, rows: list[E], key: Callable[[E], UUID]) -> Page[E]:
        ordered = sorted((r for r in rows if page.after is None or key(r) > page.after), key=key)
        items = ordered[: page.limit]
        self._seen.extend(items)
        more = len(ordered) > page.limit
        return Page(items, key(items[-1]) if more and items else None)


class _Tenants(_Repo[Tenant]):
    async def add(self, tenant: Tenant) -> None:
        self._put(tenant.id, tenant)

    async def get(self, tenant_id: TenantId) -> Tenant | None:
        return self._get(tenant_id)

    async def get_by_slug(self, slug: Slug) -> Tenant | None:
        found = self._where(lambda t: t.slug == slug)
        return found[0] if found else None

    async def slugs_like(self, slug: Slug) -> set[str]:
        base = slug.value
        return {
            t.slug.value
            for t in self._where(
                lambda t: (
                    t.slug.value == base
                    or (t.slug.value.startswith(base + "-") and t.slug.value[len(base) + 1 :].isdigit())
                )
            )
        }

    async def save(self, tenant: Tenant) -> None:
        self._put(tenant.id, tenant)


class _Users(_Repo[User]):
    async def add(self, user: User) -> None:
        self._put(user.id, user)

    async def get(self, user_id: UserId) -> User | None:
        return self._get(user_id)

    async def get_by_email(self, email: Email) -> User | None:
        found = self._where(lambda u: u.email == email)
        return found[0] if found else None

    async def get_many(self, user_ids: set[UserId]) -> dict[UserId, User]:
        return {u.id: u for u in self._where(lambda u: u.id in user_ids)}

    async def save(self, user: User) -> None:
        self._put(user.id, user)


class _Units(_Repo[Unit]):
    async def add(self, unit: Unit) -> None:
        self._put(unit.id, unit)

    async def get(self, unit_id: UnitId) -> Unit | None:
        return self._get(unit_id)

    async def list(self, page: PageRequest, only: frozenset[UnitId] | None = None) -> Page[Unit]:
        return self._page(page, self._where(lambda u: only is None or u.id in only), lambda u: u.id)

    async def existing(self, unit_ids: frozenset[UnitId]) -> frozenset[UnitId]:
        return frozenset(u.id for u in self._where(lambda u: u.id in unit_ids))


class _Memberships(_Repo[Membership]):
    async def add(self, membership: Membership) -> None:
        self._put(membership.id, membership)

    async def get(self, membership_id: MembershipId) -> Membership | None:
        return self._get(membership_id)

    async def get_for_user(self, user_id: UserId) -> Membership | None:
        found = self._where(lambda m: m.user_id == user_id)
        return found[0] if found else None

    async def list(self, page: PageRequest, sharing: frozenset[UnitId] | None = None) -> Page[Membership]:
        return self._page(
            page,
            self._where(lambda m: sharing is None or not m.unit_ids or bool(m.unit_ids & sharing)),
            lambda m: m.id,
        )

    async def save_roles(self, membership: Membership) -> None:
        self._put(membership.id, membership)

    async def ids_with_role(self, role: Role) -> frozenset[MembershipId]:
        return frozenset(m.id for m in self._where(lambda m: role in m.roles))

    async def remove(self, membership_id: MembershipId) -> bool:
        if self._get(membership_id) is None:
            return False
        del self._rows[membership_id]  # its units and custom roles live on the row
        return True


class _Roles(_Repo[CustomRole]):
    def __init__(
        self,
        rows: dict[UUID, CustomRole],
        memberships: dict[UUID, Membership],
        seen: list[object],
        visible: Callable[[CustomRole], bool],
    ) -> None:
        super().__init__(rows, seen, visible)
        self._memberships = memberships

    async def add(self, role: CustomRole) -> None:
        if self._where(lambda r: r.name_key == role.name_key):
            raise UniqueViolation("uq_roles_tenant_id_name_key")
        self._put(role.id, role)

    async def get(self, role_id: RoleId) -> CustomRole | None:
        return self._get(role_id)

    async def get_many(self, role_ids: frozenset[RoleId]) -> dict[RoleId, CustomRole]:
        return {r.id: r for r in self._where(lambda r: r.id in role_ids)}

    async def get_by_name(self, name: str) -> CustomRole | None:
        key = name_key(name)
        found = self._where(lambda r: r.name_key == key)
        return found[0] if found else None

    async def list(self) -> list[CustomRole]:
        return sorted(self._where(lambda _r: True), key=lambda r: (r.name_key, r.id))

    async def save(self, role: CustomRole) -> None:
        if self._where(lambda r: r.name_key == role.name_key and r.id != role.id):
            raise UniqueViolation("uq_roles_tenant_id_name_key")
        self._put(role.id, role)

    async def remove(self, role_id: RoleId) -> None:
        role = self._get(role_id)
        if role is not None:
            del self._rows[role_id]

    async def in_use(self, role_id: RoleId) -> bool:
        if self._get(role_id) is None:
            return False
        return any(role_id in m.custom_role_ids for m in self._memberships.values())


class _ApiKeys(_Repo[ApiKey]):
    def __init__(
        self,
        rows: dict[UUID, ApiKey],
        prefixes: dict[str, TenantId],
        seen: list[object],
        visible: Callable[[ApiKey], bool],
    ) -> None:
        super().__init__(rows, seen, visible)
        self._prefixes = prefixes

    async def add(self, key: ApiKey) -> None:
        if key.prefix in self._prefixes:
            raise UniqueViolation("pk_api_key_prefixes")
        self._put(key.id, key)
        self._prefixes[key.prefix] = key.tenant_id

    async def get(self, key_id: ApiKeyId) -> ApiKey | None:
        return self._get(key_id)

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        found = self._where(lambda k: k.prefix == prefix)
        return found[0] if found else None

    async def list(self) -> list[ApiKey]:
        return sorted(self._where(lambda _k: True), key=lambda k: k.id, reverse=True)

    async def save(self, key: ApiKey) -> None:
        self._put(key.id, key)

    async def touch(self, key_id: ApiKeyId, now: datetime, stale_before: datetime) -> bool:
        key = self._get(key_id)
        if key is None or (key.last_used_at is not None and key.last_used_at > stale_before):
            return False
        key.last_used_at = now
        return True


class _ApiKeyDirectory:
    def __init__(self, prefixes: dict[str, TenantId]) -> None:
        self._prefixes = prefixes

    async def tenant_of(self, prefix: str) -> TenantId | None:
        return self._prefixes.get(prefix)


class _Directory:
    def __init__(self, tables: _Tables, scope: Scope) -> None:
        self._tables, self._scope = tables, scope

    async def memberships_of(self, user_id: UserId) -> list[tuple[Tenant, Membership]]:
        if self._scope.user_id != user_id:
            return []
        found = sorted(
            (m for m in self._tables.memberships.values() if m.user_id == user_id),
            key=lambda m: (m.created_at, m.id),
        )
        return [(self._tables.tenants[m.tenant_id], replace(m, custom_role_ids=frozenset())) for m in found]


class _Invitations(_Repo[Invitation]):
    async def add(self, invitation: Invitation) -> None:
        self._put(invitation.id, invitation)

    async def get(self, invitation_id: InvitationId) -> Invitation | None:
        return self._get(invitation_id)

    async def save(self, invitation: Invitation) -> None:
        self._put(invitation.id, invitation)


class _Sessions(_Repo[AuthSession]):
    async def add(self, session: AuthSession) -> None:
        self._put(session.id, session)

    async def get(self, session_id: SessionId) -> AuthSession | None:
        return self._get(session_id)

    async def save(self, session: AuthSession) -> None:
        self._put(session.id, session)

    async def active_of(self, user_id: UserId, now: datetime) -> list[AuthSession]:
        found = self._where(lambda s: s.user_id == user_id and s.is_active(now))
        self._seen.extend(found)
        return sorted(found, key=lambda s: (s.last_used_at, s.id), reverse=True)

    async def device_known(self, user_id: UserId, fingerprint_hash: str) -> bool:
        return bool(self._where(lambda s: s.user_id == user_id and s.fingerprint_hash == fingerprint_hash))


class _RefreshTokens(_Repo[RefreshToken]):
    async def add(self, token: RefreshToken) -> None:
        self._put(token.id, token)

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        found = self._where(lambda t: t.token_hash == token_hash)
        return found[0] if found else None

    async def mark_rotated(self, token_id: RefreshTokenId, at: datetime) -> bool:
        token = self._rows.get(token_id)
        if token is None or token.rotated_at is not None:
            return False
        token.rotated_at = at
        return True


class _AccountTokens(_Repo[AccountToken]):
    async def add(self, token: AccountToken) -> None:
        self._put(token.id, token)

    async def get_by_hash(self, token_hash: str) -> AccountToken | None:
        found = self._where(lambda t: t.token_hash == token_hash)
        return copy.copy(found[0]) if found else None

    async def retire(self, user_id: UserId, purpose: TokenPurpose, at: datetime) -> None:
        for token in self._where(
            lambda t: t.user_id == user_id and t.purpose is purpose and t.used_at is None
        ):
            token.used_at = at

    async def spend(self, token_id: UUID, at: datetime) -> bool:
        token = self._rows.get(token_id)
        if token is None or token.used_at is not None:
            return False
        token.used_at = at
        return True


class _ResetRequests:
    def __init__(self, rows: list[tuple[str, datetime]]) -> None:
        self._rows = rows

    async def add(self, email_hash: str, at: datetime) -> None:
        self._rows.append((email_hash, at))

    async def count_since(self, email_hash: str, since: datetime) -> int:
        return sum(1 for key, at in self._rows if key == email_hash and at > since)


class _SignInFailures:
    def __init__(self, rows: dict[tuple[str, str], SignInFailures]) -> None:
        self._rows = rows

    async def get(self, key_hash: str, device_hash: str) -> SignInFailures | None:
        found = self._rows.get((key_hash, device_hash))
        return copy.copy(found) if found else None

    async def add(self, failures: SignInFailures) -> None:
        if (failures.key_hash, failures.device_hash) in self._rows:
            raise UniqueViolation("pk_sign_in_failures")
        await self.save(failures)

    async def save(self, failures: SignInFailures) -> None:
        self._rows[(failures.key_hash, failures.device_hash)] = copy.copy(failures)

    async def clear(self, key_hash: str, device_hash: str | None = None) -> None:
        for key in [k for k in self._rows if k[0] == key_hash and device_hash in (None, k[1])]:
            del self._rows[key]


class _AuditEvents(_Repo[AuditEvent]):
    async def add(self, event: AuditEvent) -> None:
        if event.id in self._rows:
            raise UniqueViolation("pk_audit_events")
        self._put(event.id, event)

    async def page(self, page: PageRequest, query: AuditQuery) -> Page[AuditEvent]:
        def matches(e: AuditEvent) -> bool:
            return (
                (not query.actions or e.action in query.actions)
                and (query.actor_user_id is None or e.actor_user_id == query.actor_user_id)
                and (query.since is None or e.occurred_at >= query.since)
                and (query.until is None or e.occurred_at < query.until)
                and (page.after is None or e.id < page.after)
            )

        newest_first = sorted(self._where(matches), key=lambda e: e.id, reverse=True)
        items = newest_first[: page.limit]
        more = len(newest_first) > page.limit
        return Page(items, items[-1].id if more and items else None)


class _Mfa:
    """TOTP state on the user (like the users table's columns) and recovery codes."""

    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    async def get(self, user_id: UserId) -> TotpCredential | None:
        if user_id not in self._t.users:
            return None
        return self._t.totp_credentials.get(user_id, TotpCredential(user_id=user_id))

    def _put(self, credential: TotpCredential) -> None:
        self._t.totp_credentials[credential.user_id] = credential
        self._t.users[credential.user_id].mfa_enabled_at = credential.enabled_at

    async def set_pending_secret(self, user_id: UserId, sealed_secret: str | None) -> None:
        current = await self.get(user_id)
        if current is not None:
            self._put(replace(current, pending_secret=sealed_secret))

    async def enable(self, user_id: UserId, sealed_secret: str, at: datetime, used_step: int) -> None:
        if user_id in self._t.users:
            self._put(TotpCredential(user_id, secret=sealed_secret, enabled_at=at, last_used_step=used_step))

    async def disable(self, user_id: UserId) -> None:
        if user_id in self._t.users:
            self._put(TotpCredential(user_id))
            codes = self._t.recovery_codes
            for key in [k for k, c in codes.items() if c.user_id == user_id]:
                del codes[key]

    async def spend_step(self, user_id: UserId, step: int) -> bool:
        current = await self.get(user_id)
        if current is None or (current.last_used_step is not None and current.last_used_step >= step):
            return False
        self._put(replace(current, last_used_step=step))
        return True

    async def replace_recovery_codes(self, user_id: UserId, code_hashes: list[str], at: datetime) -> None:
        codes = self._t.recovery_codes
        for key in [k for k, c in codes.items() if c.user_id == user_id]:
            del codes[key]
        for code_hash in code_hashes:
            codes[new_uuid()] = _RecoveryCode(user_id, code_hash, at)

    async def spend_recovery_code(self, user_id: UserId, code_hash: str, at: datetime) -> bool:
        for code in self._t.recovery_codes.values():
            if code.user_id == user_id and code.code_hash == code_hash and code.used_at is None:
                code.used_at = at
                return True
        return False

    async def unused_recovery_codes(self, user_id: UserId) -> int:
        return sum(c.user_id == user_id and c.used_at is None for c in self._t.recovery_codes.values())


class _MfaChallenges(_Repo[MfaChallengeRecord]):
    async def add(self, challenge: MfaChallengeRecord) -> None:
        self._put(challenge.id, challenge)

    async def get_by_hash(self, token_hash: str) -> MfaChallengeRecord | None:
        found = self._where(lambda c: c.token_hash == token_hash)
        return copy.copy(found[0]) if found else None

    async def spend_attempt(self, challenge_id: MfaChallengeId, max_attempts: int) -> bool:
        challenge = self._rows.get(challenge_id)
        if challenge is None or challenge.used_at is not None or challenge.attempts >= max_attempts:
            return False
        challenge.attempts += 1
        return True

    async def mark_used(self, challenge_id: MfaChallengeId, at: datetime) -> bool:
        challenge = self._rows.get(challenge_id)
        if challenge is None or challenge.used_at is not None:
            return False
        challenge.used_at = at
        return True


class InMemoryUnitOfWork:
    """Works on a private copy of the store; ``commit`` publishes it, anything else discards it."""

    # Typed as the ports: the UnitOfWork protocol's attributes are mutable, hence invariant.
    tenants: TenantRepository
    users: UserRepository
    sessions: SessionRepository
    refresh_tokens: RefreshTokenRepository
    directory: UserMembershipDirectory
    mfa: MfaRepository
    mfa_challenges: MfaChallengeRepository
    account_tokens: AccountTokenRepository
    reset_requests: PasswordResetRequestLog
    sign_in_failures: SignInFailureRepository

    def __init__(self, store: InMemoryStore, scope: Scope, *, read_only: bool = False) -> None:
        self._store = store
        self._read_only = read_only
        self.scope = scope
        self.committed = False

    async def __aenter__(self) -> Self:
        if self._store.holder is not None and self._store.holder is asyncio.current_task():
            # A real database would let the inner one run (and maybe deadlock on a row); here it would wait
            # forever for the outer one. Units of work are never nested in this code base: say so.
            raise RuntimeError("a unit of work was opened inside another one of the same task")
        await self._store.lock.acquire()
        self._store.holder = asyncio.current_task()
        self._tables = copy.deepcopy(self._store.tables)
        self._seen: list[object] = []
        self._build()
        return self

    def _build(self) -> None:
        t, seen, everyone = self._tables, self._seen, (lambda _row: True)
        in_tenant = self._in_tenant
        self.tenants = _Tenants(t.tenants, seen, everyone)
        self.users = _Users(t.users, seen, everyone)
        self.sessions = _Sessions(t.sessions, seen, everyone)
        self.refresh_tokens = _RefreshTokens(t.refresh_tokens, seen, everyone)
        self.directory = _Directory(t, self.scope)
        self.mfa = _Mfa(t)
        self.mfa_challenges = _MfaChallenges(t.mfa_challenges, seen, everyone)
        self.expired_records = InMemoryExpiredRecords(t, self.scope)
        self.account_tokens = _AccountTokens(t.account_tokens, seen, everyone)
        self.reset_requests = _ResetRequests(t.reset_requests)
        self.sign_in_failures = _SignInFailures(t.sign_in_failures)
        self._units = _Units(t.units, seen, in_tenant)
        self._memberships = _Memberships(t.memberships, seen, in_tenant)
        self._invitations = _Invitations(t.invitations, seen, in_tenant)
        self._audit = _AuditEvents(t.audit_events, seen, in_tenant)
        self._roles = _Roles(t.roles, t.memberships, seen, in_tenant)
        self._api_keys = _ApiKeys(t.api_keys, t.api_key_prefixes, seen, in_tenant)
        self.api_key_directory = _ApiKeyDirectory(t.api_key_prefixes)
        self._consents = InMemoryConsents(t.consents, self._tenant)
        self._privacy_settings = InMemoryPrivacySettings(t.privacy_settings, self._tenant)

    def _in_tenant(self, row: Unit | Membership | Invitation | AuditEvent | CustomRole | ApiKey) -> bool:
        return row.tenant_id == self._tenant()

    def _tenant(self) -> TenantId:
        if self.scope.tenant_id is None:
            raise NoTenantInScope("this unit of work was opened without a tenant")
        return self.scope.tenant_id

    @property
    def units(self) -> _Units:
        self._tenant()
        return self._units

    @property
    def memberships(self) -> _Memberships:
        self._tenant()
        return self._memberships

    @property
    def invitations(self) -> _Invitations:
        self._tenant()
        return self._invitations

    @property
    def audit(self) -> _AuditEvents:
        self._tenant()
        return self._audit

    @property
    def roles(self) -> _Roles:
        self._tenant()
        return self._roles

    @property
    def api_keys(self) -> _ApiKeys:
        self._tenant()
        return self._api_keys

    @property
    def external_practitioners(self) -> InMemoryExternalPractitioners:
        return InMemoryExternalPractitioners(self._tables.external_practitioners, self._tenant())

    @property
    def identifier_holders(self) -> InMemoryIdentifierHolders:
        return InMemoryIdentifierHolders(self._tables.patients, self._tenant())

    @property
    def consents(self) -> InMemoryConsents:
        self._tenant()
        return self._consents

    @property
    def privacy_settings(self) -> InMemoryPrivacySettings:
        self._tenant()
        return self._privacy_settings

    @property
    def patients(self) -> InMemoryPatients:
        return InMemoryPatients(
            self._tables.patients, self._tables.patient_weights, self._seen, self._tenant()
        )

    @property
    def guardians(self) -> InMemoryGuardians:
        return InMemoryGuardians(self._tables.guardian_links, self._tables.patients, self._tenant())

    @property
    def patient_access(self) -> InMemoryPatientAccessLog:
        return InMemoryPatientAccessLog(self._tables.patient_access_log, self._tenant())

    @property
    def attachments(self) -> InMemoryAttachments:
        return InMemoryAttachments(
            self._tables.attachments, self._tables.patients, self._seen, self._tenant()
        )

    @property
    def anamnesis_templates(self) -> InMemoryAnamnesisTemplates:
        return InMemoryAnamnesisTemplates(self._tables.clinical, self._tenant())

    @property
    def anamnesis_responses(self) -> InMemoryAnamnesisResponses:
        return InMemoryAnamnesisResponses(self._tables.clinical, self._tenant())

    @property
    def clinical_notes(self) -> InMemoryClinicalNotes:
        return InMemoryClinicalNotes(self._tables.clinical, self._tenant())

    @property
    def timeline(self) -> InMemoryTimeline:
        return InMemoryTimeline(self._tables.clinical, self._tenant())

    @property
    def appointments(self) -> InMemoryAppointments:
        return InMemoryAppointments(self._tables.scheduling, self._seen, self._tenant())

    @property
    def appointment_locks(self) -> InMemoryAppointmentLocks:
        self._tenant()
        return InMemoryAppointmentLocks(self._tables.scheduling.lock_calls)

    @property
    def appointment_reminders(self) -> InMemoryAppointmentReminders:
        return InMemoryAppointmentReminders(self._tables.scheduling, self._tenant())

    @property
    def waitlist(self) -> InMemoryWaitlist:
        return InMemoryWaitlist(self._tables.scheduling, self._seen, self._tenant())

    @property
    def idempotency_keys(self) -> InMemoryIdempotencyKeys:
        return InMemoryIdempotencyKeys(self._tables.scheduling, self._tenant())

    @property
    def categories(self) -> InMemoryCategories:
        return InMemoryCategories(self._tables.catalog, self._seen, self._tenant())

    @property
    def procedures(self) -> InMemoryProcedures:
        return InMemoryProcedures(self._tables.catalog, self._seen, self._tenant())

    @property
    def professionals(self) -> InMemoryProfessionals:
        return InMemoryProfessionals(self._tables.catalog, self._seen, self._tenant())

    @property
    def rooms(self) -> InMemoryRooms:
        return InMemoryRooms(self._tables.catalog, self._seen, self._tenant())

    @property
    def equipment(self) -> InMemoryEquipment:
        return InMemoryEquipment(self._tables.catalog, self._seen, self._tenant())

    @property
    def working_time(self) -> InMemoryWorkingTime:
        return InMemoryWorkingTime(self._tables.working_time, self._tenant())

    @property
    def busy_times(self) -> InMemoryBusyTimes:
        return InMemoryBusyTimes(
            self._tables.working_time, self._tenant(), self._tables.scheduling.appointments
        )

    @property
    def job_receipts(self) -> InMemoryJobReceipts:
        return InMemoryJobReceipts(self._tables.job_receipts, self._tables.outbox, self._tenant())

    @property
    def webhook_endpoints(self) -> InMemoryWebhookEndpoints:
        return InMemoryWebhookEndpoints(self._tables.webhooks, self._seen, self._tenant())

    @property
    def webhook_deliveries(self) -> InMemoryWebhookDeliveries:
        return InMemoryWebhookDeliveries(self._tables.webhooks, self._seen, self._tenant())

    def record(self, *events: DomainEvent) -> None:
        self._seen.append(RecordedEvents(events))

    async def bind(self, scope: Scope) -> None:
        self.scope = narrow(self.scope, scope)
        self.directory = _Directory(self._tables, self.scope)
        self.expired_records = InMemoryExpiredRecords(self._tables, self.scope)

    async def commit(self) -> None:
        if self._read_only:
            raise ReadOnlyUnitOfWork("this unit of work was opened read-only")
        self._tables.check_unique()
        for event in collect_events(self._seen):
            self._tables.outbox.append(
                OutboxRecord(event.tenant_id, event.topic, event.payload(), occurred_at=event.occurred_at)
            )
        # Publish a copy: the objects the use case holds must not be the committed rows, or changing one
        # after the commit would change the "database" without a unit of work.
        self._store.tables = copy.deepcopy(self._tables)
        self._seen.clear()
        self._build()
        self.committed = True

    async def rollback(self) -> None:
        self._tables = copy.deepcopy(self._store.tables)
        self._seen.clear()
        self._build()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._store.holder = None
        self._store.lock.release()


class InMemoryJobReceipts:
    def __init__(
        self, receipts: dict[tuple[UUID, UUID, str], str], outbox: list[OutboxRecord], tenant: TenantId
    ) -> None:
        self._receipts, self._outbox, self._tenant = receipts, outbox, tenant

    async def claim(self, message_id: UUID, handler: str, at: datetime) -> bool:
        key = (self._tenant, message_id, handler)
        if key in self._receipts:
            return False
        self._receipts[key] = "claimed"
        return True

    async def settle(self, message_id: UUID, handler: str, outcome: Outcome) -> None:
        self._receipts[(self._tenant, message_id, handler)] = outcome.value

    async def secret_of(self, message_id: UUID) -> str | None:
        for row in self._outbox:
            if row.id == message_id and row.tenant_id == self._tenant and row.handled_at is None:
                secret = row.payload.get(SECRET_PAYLOAD_KEY)
                return str(secret) if secret is not None else None
        return None

    async def message_handled(self, message_id: UUID, at: datetime) -> None:
        for row in self._outbox:
            if row.id == message_id and row.tenant_id == self._tenant and row.handled_at is None:
                row.handled_at = at
                row.payload.pop(SECRET_PAYLOAD_KEY, None)


def _oldest_first(
    rows: dict[UUID, E], spent: Callable[[E], bool], age: Callable[[E], datetime], limit: int
) -> int:
    doomed = sorted((key for key, row in rows.items() if spent(row)), key=lambda key: age(rows[key]))[:limit]
    for key in doomed:
        del rows[key]
    return len(doomed)


class InMemoryExpiredRecords:
    def __init__(self, tables: _Tables, scope: Scope) -> None:
        self._t, self._scope = tables, scope

    async def purge_account_tokens(self, before: datetime, limit: int) -> int:
        return _oldest_first(
            self._t.account_tokens,
            lambda k: k.expires_at < before or (k.used_at is not None and k.used_at < before),
            lambda k: k.expires_at,
            limit,
        )

    async def purge_mfa_challenges(self, before: datetime, limit: int) -> int:
        return _oldest_first(
            self._t.mfa_challenges,
            lambda c: c.expires_at < before or (c.used_at is not None and c.used_at < before),
            lambda c: c.expires_at,
            limit,
        )

    async def purge_sessions(self, before: datetime, limit: int) -> int:
        purged = _oldest_first(
            self._t.sessions, lambda s: s.expires_at < before, lambda s: s.expires_at, limit
        )
        tokens = self._t.refresh_tokens
        for key in [k for k, token in tokens.items() if token.session_id not in self._t.sessions]:
            del tokens[key]  # ON DELETE CASCADE
        return purged

    async def purge_refresh_tokens(self, before: datetime, limit: int) -> int:
        return _oldest_first(
            self._t.refresh_tokens, lambda r: r.expires_at < before, lambda r: r.expires_at, limit
        )

    async def purge_handled_outbox(self, before: datetime, limit: int) -> int:
        tenant = self._scope.tenant_id
        if tenant is None:
            raise NoTenantInScope("this unit of work was opened without a tenant")
        handled = sorted(
            (
                r
                for r in self._t.outbox
                if r.tenant_id == tenant and r.handled_at is not None and r.handled_at < before
            ),
            key=lambda r: r.handled_at or before,
        )[:limit]
        doomed = {r.id for r in handled}
        self._t.outbox[:] = [r for r in self._t.outbox if r.id not in doomed]
        for key in [k for k in self._t.job_receipts if k[0] == tenant and k[1] in doomed]:
            del self._t.job_receipts[key]
        return len(doomed)


class InMemoryUnitOfWorkFactory:
    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()

    def __call__(self, scope: Scope, *, read_only: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store, scope, read_only=read_only)
