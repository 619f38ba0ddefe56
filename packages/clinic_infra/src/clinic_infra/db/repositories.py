"""SQL repositories: rows in, plain domain objects out.

Every tenant-owned query filters by the unit of work's tenant explicitly; on PostgreSQL row-level
security would hide other tenants' rows anyway, but the filter is what SQLite has, and it lets the
planner use the tenant-leading indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Select, Table, Text, bindparam, cast, delete, func, insert, or_, select, update

from clinic_core.access.model import ApiKey, CustomRole, name_key
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.audit.model import AuditAction, AuditEvent, AuditEventId, AuditQuery, AuditTarget
from clinic_core.identity.account_security import AccountToken, SignInFailures, TokenPurpose
from clinic_core.identity.model import AuthSession, RefreshToken, RevocationReason, User
from clinic_core.identity.second_factor import (
    ChallengePurpose,
    MfaChallengeId,
    MfaChallengeRecord,
    TotpCredential,
)
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
from clinic_core.shared.values import Email, PersonName, Phone, Slug, TimeZone
from clinic_core.tenancy.model import (
    Address,
    Invitation,
    Locale,
    Membership,
    Plan,
    SecurityPolicy,
    Tenant,
    TenantStatus,
    Unit,
    UnverifiedEmailAccess,
)
from clinic_core.tenancy.permissions import Permission, Role
from clinic_infra.db import tables as t
from clinic_infra.db.types import UtcDateTime

if TYPE_CHECKING:
    from clinic_infra.db.unit_of_work import SqlSession

Row = Mapping[Any, Any]


class _Repository:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def _rows(self, statement: Select[Any], params: Mapping[str, Any] | None = None) -> list[Row]:
        return list((await self._db.execute(statement, params)).mappings())

    async def _row(self, statement: Select[Any], params: Mapping[str, Any] | None = None) -> Row | None:
        return (await self._db.execute(statement, params)).mappings().first()


def _one_by(table: Table, *columns: str) -> Select[Any]:
    """``SELECT * FROM table WHERE col = :col AND ... LIMIT 1``, built once.

    The lookups every request makes use statements built at import: SQLAlchemy memoises a statement's
    cache key on the object, so reusing it skips rebuilding and re-keying it on each call.
    """
    return select(table).where(*(table.c[name] == bindparam(name) for name in columns)).limit(1)


_TENANT_BY_ID = _one_by(t.tenants, "id")
_TENANT_BY_SLUG = _one_by(t.tenants, "slug")
_USER_BY_ID = _one_by(t.users, "id")
_USER_BY_EMAIL = _one_by(t.users, "email")
_UNIT_BY_ID = _one_by(t.units, "tenant_id", "id")
_SESSION_BY_ID = _one_by(t.auth_sessions, "id")
_REFRESH_TOKEN_BY_HASH = _one_by(t.refresh_tokens, "token_hash")
_ACTIVE_SESSIONS_OF = (
    select(t.auth_sessions)
    .where(
        t.auth_sessions.c.user_id == bindparam("user_id"),
        t.auth_sessions.c.revoked_at.is_(None),
        t.auth_sessions.c.expires_at > bindparam("now", type_=UtcDateTime),
        t.auth_sessions.c.idle_expires_at.is_(None)
        | (t.auth_sessions.c.idle_expires_at > bindparam("now", type_=UtcDateTime)),
    )
    .order_by(t.auth_sessions.c.last_used_at.desc(), t.auth_sessions.c.id.desc())
)


def _page_of(rows: list[Row], page: PageRequest) -> tuple[list[Row], UUID | None]:
    """Rows fetched with ``limit + 1``: the page, and where the next one starts (None if last)."""
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        return rows, rows[-1]["id"]
    return rows, None


# --- tenants ---------------------------------------------------------------------------------------------


def _tenant(row: Row) -> Tenant:
    return Tenant(
        id=TenantId(row["id"]),
        slug=Slug(row["slug"]),
        name=row["name"],
        plan=Plan(row["plan"]),
        status=TenantStatus(row["status"]),
        created_at=row["created_at"],
        security=_security_policy(row["security"] or {}),
        patients_shared_across_units=bool(row["patients_shared_across_units"]),
        locale=Locale(row["locale"]),
        contact_email=Email(row["contact_email"]) if row["contact_email"] else None,
    )


def _security_policy(doc: Mapping[str, Any]) -> SecurityPolicy:
    default = SecurityPolicy()
    return SecurityPolicy(
        require_mfa_for_staff=bool(doc.get("require_mfa_for_staff", default.require_mfa_for_staff)),
        unverified_email_access=UnverifiedEmailAccess(
            doc.get("unverified_email_access", default.unverified_email_access)
        ),
    )


def _tenant_values(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug.value,
        "name": tenant.name,
        "plan": tenant.plan.value,
        "status": tenant.status.value,
        "created_at": tenant.created_at,
        "security": {
            "require_mfa_for_staff": tenant.security.require_mfa_for_staff,
            "unverified_email_access": tenant.security.unverified_email_access.value,
        },
        "patients_shared_across_units": tenant.patients_shared_across_units,
        "locale": tenant.locale.value,
        "contact_email": tenant.contact_email.value if tenant.contact_email else None,
    }


class SqlTenantRepository(_Repository):
    async def add(self, tenant: Tenant) -> None:
        await self._db.execute(insert(t.tenants).values(_tenant_values(tenant)))
        self._db.saw(tenant)

    async def get(self, tenant_id: TenantId) -> Tenant | None:
        row = await self._row(_TENANT_BY_ID, {"id": tenant_id})
        return self._seen(_tenant(row)) if row else None

    async def get_by_slug(self, slug: Slug) -> Tenant | None:
        row = await self._row(_TENANT_BY_SLUG, {"slug": slug.value})
        return self._seen(_tenant(row)) if row else None

    async def slugs_like(self, slug: Slug) -> set[str]:
        candidates = select(t.tenants.c.slug).where(
            (t.tenants.c.slug == slug.value) | t.tenants.c.slug.startswith(slug.value + "-", autoescape=True)
        )
        prefix = len(slug.value) + 1
        return {
            s
            for (s,) in (await self._db.execute(candidates)).all()
            if s == slug.value or s[prefix:].isdigit()
        }

    async def save(self, tenant: Tenant) -> None:
        values = _tenant_values(tenant)
        await self._db.execute(update(t.tenants).where(t.tenants.c.id == tenant.id).values(values))
        self._db.saw(tenant)

    def _seen(self, tenant: Tenant) -> Tenant:
        self._db.saw(tenant)
        return tenant


# --- users -----------------------------------------------------------------------------------------------


def _user(row: Row) -> User:
    return User(
        id=UserId(row["id"]),
        email=Email(row["email"]),
        name=PersonName(row["name"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        mfa_enabled_at=row["mfa_enabled_at"],
        email_verified_at=row["email_verified_at"],
    )


class SqlUserRepository(_Repository):
    async def add(self, user: User) -> None:
        await self._db.execute(
            insert(t.users).values(
                id=user.id,
                email=user.email.value,
                name=user.name.value,
                password_hash=user.password_hash,
                created_at=user.created_at,
                email_verified_at=user.email_verified_at,
            )
        )
        self._db.saw(user)

    async def get(self, user_id: UserId) -> User | None:
        row = await self._row(_USER_BY_ID, {"id": user_id})
        return _user(row) if row else None

    async def get_by_email(self, email: Email) -> User | None:
        row = await self._row(_USER_BY_EMAIL, {"email": email.value})
        return _user(row) if row else None

    async def get_many(self, user_ids: set[UserId]) -> dict[UserId, User]:
        if not user_ids:
            return {}
        rows = await self._rows(select(t.users).where(t.users.c.id.in_(user_ids)))
        return {UserId(r["id"]): _user(r) for r in rows}

    async def save(self, user: User) -> None:
        await self._db.execute(
            update(t.users)
            .where(t.users.c.id == user.id)
            .values(
                email=user.email.value,
                name=user.name.value,
                password_hash=user.password_hash,
                email_verified_at=user.email_verified_at,
            )
        )
        self._db.saw(user)


# --- units -----------------------------------------------------------------------------------------------


def _unit(row: Row) -> Unit:
    address = row["address"]
    return Unit(
        tenant_id=TenantId(row["tenant_id"]),
        id=UnitId(row["id"]),
        name=row["name"],
        timezone=TimeZone(row["timezone"]),
        phone=Phone(row["phone"]) if row["phone"] else None,
        address=Address(**address) if address else None,
        created_at=row["created_at"],
    )


def _address_document(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "line1": address.line1,
        "line2": address.line2,
        "district": address.district,
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
        "country": address.country,
    }


class SqlUnitRepository(_Repository):
    async def add(self, unit: Unit) -> None:
        await self._db.execute(
            insert(t.units).values(
                tenant_id=self._db.tenant_id(),
                id=unit.id,
                name=unit.name,
                timezone=unit.timezone.value,
                phone=unit.phone.value if unit.phone else None,
                address=_address_document(unit.address),
                created_at=unit.created_at,
            )
        )
        self._db.saw(unit)

    async def get(self, unit_id: UnitId) -> Unit | None:
        row = await self._row(_UNIT_BY_ID, {"tenant_id": self._db.tenant_id(), "id": unit_id})
        return _unit(row) if row else None

    async def list(self, page: PageRequest, only: frozenset[UnitId] | None = None) -> Page[Unit]:
        query = select(t.units).where(t.units.c.tenant_id == self._db.tenant_id())
        if only is not None:
            query = query.where(t.units.c.id.in_(only))
        if page.after is not None:
            query = query.where(t.units.c.id > page.after)
        rows, after = _page_of(await self._rows(query.order_by(t.units.c.id).limit(page.limit + 1)), page)
        return Page([_unit(r) for r in rows], after)

    async def existing(self, unit_ids: frozenset[UnitId]) -> frozenset[UnitId]:
        if not unit_ids:
            return frozenset()
        found = await self._db.execute(
            select(t.units.c.id).where(
                t.units.c.tenant_id == self._db.tenant_id(), t.units.c.id.in_(unit_ids)
            )
        )
        return frozenset(UnitId(i) for (i,) in found.all())


# --- memberships -----------------------------------------------------------------------------------------


def _membership(row: Row, unit_ids: Iterable[UUID]) -> Membership:
    return Membership(
        tenant_id=TenantId(row["tenant_id"]),
        id=MembershipId(row["id"]),
        user_id=UserId(row["user_id"]),
        roles=frozenset(Role(r) for r in row["roles"]),
        unit_ids=frozenset(UnitId(u) for u in unit_ids),
        created_at=row["created_at"],
    )


def _with_units(memberships: Select[Any], order: tuple[str, ...] = ("id",)) -> Select[Any]:
    """A query over memberships that brings each one's unit restrictions along, in the same round trip.

    The query (with its order and limit) becomes a subquery, left-joined to membership_units; rows of one
    membership arrive together, and ``_fold`` makes them one again, in the query's order.
    """
    inner = memberships.subquery()
    mu = t.membership_units
    return (
        select(inner, mu.c.unit_id.label("restricted_unit_id"))
        .outerjoin(mu, (mu.c.tenant_id == inner.c.tenant_id) & (mu.c.membership_id == inner.c.id))
        .order_by(*(inner.c[name] for name in order))  # a subquery's order is not kept: state it again
    )


async def _fold(
    db: SqlSession, statement: Select[Any], params: Mapping[str, Any] | None = None
) -> list[tuple[Row, list[UUID]]]:
    folded: dict[tuple[UUID, UUID], tuple[Row, list[UUID]]] = {}
    for row in (await db.execute(statement, params)).mappings():
        entry = folded.setdefault((row["tenant_id"], row["id"]), (row, []))
        if row["restricted_unit_id"] is not None:
            entry[1].append(row["restricted_unit_id"])
    return list(folded.values())


_MEMBERSHIP_BY_ID = _with_units(_one_by(t.memberships, "tenant_id", "id"))
_MEMBERSHIP_BY_USER = _with_units(_one_by(t.memberships, "tenant_id", "user_id"))
_DIRECTORY = _with_units(
    select(t.memberships, *(c.label(f"directory_tenant_{c.name}") for c in t.tenants.c))
    .join(t.tenants, t.tenants.c.id == t.memberships.c.tenant_id)
    .where(t.memberships.c.user_id == bindparam("user_id")),
    order=("created_at", "id"),
)


class SqlMembershipRepository(_Repository):
    async def add(self, membership: Membership) -> None:
        tenant_id = self._db.tenant_id()
        await self._db.execute(
            insert(t.memberships).values(
                tenant_id=tenant_id,
                id=membership.id,
                user_id=membership.user_id,
                roles=sorted(r.value for r in membership.roles),
                created_at=membership.created_at,
            )
        )
        if membership.unit_ids:
            await self._db.execute(
                insert(t.membership_units),
                [
                    {"tenant_id": tenant_id, "membership_id": membership.id, "unit_id": u}
                    for u in sorted(membership.unit_ids)
                ],
            )
        self._db.saw(membership)

    async def get(self, membership_id: MembershipId) -> Membership | None:
        return await self._one(_MEMBERSHIP_BY_ID, {"id": membership_id})

    async def get_for_user(self, user_id: UserId) -> Membership | None:
        return await self._one(_MEMBERSHIP_BY_USER, {"user_id": user_id})

    async def _one(self, statement: Select[Any], params: dict[str, Any]) -> Membership | None:
        found = await _fold(self._db, statement, {"tenant_id": self._db.tenant_id(), **params})
        if not found:
            return None
        membership = _membership(*found[0])
        await self._with_custom_roles([membership])
        self._db.saw(membership)
        return membership

    async def _with_custom_roles(self, memberships: list[Membership]) -> None:
        """Fill in ``custom_role_ids``: a second query, since joining them to the units would multiply
        the rows."""
        if not memberships:
            return
        mr = t.membership_roles
        found = await self._db.execute(
            select(mr.c.membership_id, mr.c.role_id).where(
                mr.c.tenant_id == self._db.tenant_id(),
                mr.c.membership_id.in_([m.id for m in memberships]),
            )
        )
        held: dict[UUID, set[RoleId]] = {}
        for row in found.mappings():
            held.setdefault(row["membership_id"], set()).add(RoleId(row["role_id"]))
        for membership in memberships:
            membership.custom_role_ids = frozenset(held.get(membership.id, ()))

    async def save_roles(self, membership: Membership) -> None:
        tenant_id, mr = self._db.tenant_id(), t.membership_roles
        await self._db.execute(
            update(t.memberships)
            .where(t.memberships.c.tenant_id == tenant_id, t.memberships.c.id == membership.id)
            .values(roles=sorted(r.value for r in membership.roles))
        )
        await self._db.execute(
            delete(mr).where(mr.c.tenant_id == tenant_id, mr.c.membership_id == membership.id)
        )
        if membership.custom_role_ids:
            await self._db.execute(
                insert(mr),
                [
                    {"tenant_id": tenant_id, "membership_id": membership.id, "role_id": role_id}
                    for role_id in sorted(membership.custom_role_ids)
                ],
            )
        self._db.saw(membership)

    async def ids_with_role(self, role: Role) -> frozenset[MembershipId]:
        m = t.memberships
        # Roles are a JSON list of plain names: '"owner"' in its text is the role, on JSONB and SQLite
        # alike. FOR UPDATE (PostgreSQL) holds these rows until commit; SQLite has one writer anyway.
        found = await self._db.execute(
            select(m.c.id)
            .where(m.c.tenant_id == self._db.tenant_id(), cast(m.c.roles, Text).like(f'%"{role.value}"%'))
            .with_for_update()
        )
        return frozenset(MembershipId(i) for (i,) in found.all())

    async def remove(self, membership_id: MembershipId) -> bool:
        tenant_id, m = self._db.tenant_id(), t.memberships
        # The children first, though their foreign keys cascade: what goes is said here, not left to how
        # each engine enforces cascades.
        for child in (t.membership_units, t.membership_roles):
            await self._db.execute(
                delete(child).where(child.c.tenant_id == tenant_id, child.c.membership_id == membership_id)
            )
        deleted = await self._db.execute(delete(m).where(m.c.tenant_id == tenant_id, m.c.id == membership_id))
        return bool(deleted.rowcount)

    async def list(self, page: PageRequest, sharing: frozenset[UnitId] | None = None) -> Page[Membership]:
        m, mu = t.memberships, t.membership_units
        query = select(m).where(m.c.tenant_id == self._db.tenant_id())
        if sharing is not None:
            links = select(mu.c.unit_id).where(mu.c.tenant_id == m.c.tenant_id, mu.c.membership_id == m.c.id)
            query = query.where(~links.exists() | links.where(mu.c.unit_id.in_(sharing)).exists())
        if page.after is not None:
            query = query.where(m.c.id > page.after)
        found = await _fold(self._db, _with_units(query.order_by(m.c.id).limit(page.limit + 1)))
        more = len(found) > page.limit
        items = [_membership(row, units) for row, units in found[: page.limit]]
        await self._with_custom_roles(items)
        return Page(items, items[-1].id if more and items else None)


class SqlUserMembershipDirectory(_Repository):
    async def memberships_of(self, user_id: UserId) -> list[tuple[Tenant, Membership]]:
        return [
            (
                _tenant({c.name: row[f"directory_tenant_{c.name}"] for c in t.tenants.c}),
                _membership(row, units),
            )
            for row, units in await _fold(self._db, _DIRECTORY, {"user_id": user_id})
        ]


# --- invitations -----------------------------------------------------------------------------------------


def _invitation(row: Row) -> Invitation:
    return Invitation(
        tenant_id=TenantId(row["tenant_id"]),
        id=InvitationId(row["id"]),
        email=Email(row["email"]),
        roles=frozenset(Role(r) for r in row["roles"]),
        unit_ids=frozenset(UnitId(UUID(u)) for u in row["unit_ids"]),
        token_hash=row["token_hash"],
        invited_by=UserId(row["invited_by"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        accepted_at=row["accepted_at"],
        revoked_at=row["revoked_at"],
    )


class SqlInvitationRepository(_Repository):
    async def add(self, invitation: Invitation) -> None:
        await self._db.execute(
            insert(t.invitations).values(
                tenant_id=self._db.tenant_id(),
                id=invitation.id,
                email=invitation.email.value,
                roles=sorted(r.value for r in invitation.roles),
                unit_ids=sorted(str(u) for u in invitation.unit_ids),
                token_hash=invitation.token_hash,
                invited_by=invitation.invited_by,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
                accepted_at=invitation.accepted_at,
                revoked_at=invitation.revoked_at,
            )
        )
        self._db.saw(invitation)

    async def get(self, invitation_id: InvitationId) -> Invitation | None:
        row = await self._row(
            select(t.invitations).where(
                t.invitations.c.tenant_id == self._db.tenant_id(), t.invitations.c.id == invitation_id
            )
        )
        if row is None:
            return None
        invitation = _invitation(row)
        self._db.saw(invitation)
        return invitation

    async def save(self, invitation: Invitation) -> None:
        await self._db.execute(
            update(t.invitations)
            .where(t.invitations.c.tenant_id == self._db.tenant_id(), t.invitations.c.id == invitation.id)
            .values(accepted_at=invitation.accepted_at, revoked_at=invitation.revoked_at)
        )
        self._db.saw(invitation)


# --- sessions and refresh tokens -------------------------------------------------------------------------


def _session(row: Row) -> AuthSession:
    return AuthSession(
        id=SessionId(row["id"]),
        user_id=UserId(row["user_id"]),
        tenant_id=TenantId(row["tenant_id"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        idle_expires_at=row["idle_expires_at"],
        user_agent=row["user_agent"],
        ip=row["ip"],
        device_label=row["device_label"],
        fingerprint_hash=row["fingerprint_hash"],
        revoked_at=row["revoked_at"],
        revoked_reason=RevocationReason(row["revoked_reason"]) if row["revoked_reason"] else None,
    )


class SqlSessionRepository(_Repository):
    async def add(self, session: AuthSession) -> None:
        await self._db.execute(
            insert(t.auth_sessions).values(
                id=session.id,
                user_id=session.user_id,
                tenant_id=session.tenant_id,
                created_at=session.created_at,
                last_used_at=session.last_used_at,
                expires_at=session.expires_at,
                idle_expires_at=session.idle_expires_at,
                user_agent=session.user_agent,
                ip=session.ip,
                device_label=session.device_label,
                fingerprint_hash=session.fingerprint_hash,
                revoked_at=session.revoked_at,
                revoked_reason=session.revoked_reason.value if session.revoked_reason else None,
            )
        )
        self._db.saw(session)

    async def get(self, session_id: SessionId) -> AuthSession | None:
        row = await self._row(_SESSION_BY_ID, {"id": session_id})
        if row is None:
            return None
        session = _session(row)
        self._db.saw(session)
        return session

    async def save(self, session: AuthSession) -> None:
        await self._db.execute(
            update(t.auth_sessions)
            .where(t.auth_sessions.c.id == session.id)
            .values(
                tenant_id=session.tenant_id,
                last_used_at=session.last_used_at,
                idle_expires_at=session.idle_expires_at,
                revoked_at=session.revoked_at,
                revoked_reason=session.revoked_reason.value if session.revoked_reason else None,
            )
        )
        self._db.saw(session)

    async def active_of(self, user_id: UserId, now: datetime) -> list[AuthSession]:
        rows = await self._rows(_ACTIVE_SESSIONS_OF, {"user_id": user_id, "now": now})
        sessions = [_session(row) for row in rows]
        self._db.saw(*sessions)
        return sessions

    async def device_known(self, user_id: UserId, fingerprint_hash: str) -> bool:
        s = t.auth_sessions
        found = await self._db.execute(
            select(s.c.id).where(s.c.user_id == user_id, s.c.fingerprint_hash == fingerprint_hash).limit(1)
        )
        return found.first() is not None


class SqlRefreshTokenRepository(_Repository):
    async def add(self, token: RefreshToken) -> None:
        await self._db.execute(
            insert(t.refresh_tokens).values(
                id=token.id,
                session_id=token.session_id,
                token_hash=token.token_hash,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                rotated_at=token.rotated_at,
            )
        )

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        row = await self._row(_REFRESH_TOKEN_BY_HASH, {"token_hash": token_hash})
        if row is None:
            return None
        return RefreshToken(
            id=RefreshTokenId(row["id"]),
            session_id=SessionId(row["session_id"]),
            token_hash=row["token_hash"],
            issued_at=row["issued_at"],
            expires_at=row["expires_at"],
            rotated_at=row["rotated_at"],
        )

    async def mark_rotated(self, token_id: RefreshTokenId, at: datetime) -> bool:
        # A conditional UPDATE is the compare-and-set: under READ COMMITTED the second of two racing
        # refreshes waits for the first to commit, re-checks the WHERE clause, and updates nothing.
        rt = t.refresh_tokens
        result = await self._db.execute(
            update(rt).where(rt.c.id == token_id, rt.c.rotated_at.is_(None)).values(rotated_at=at)
        )
        return result.rowcount == 1


# --- second factor --------------------------------------------------------------------------------------

_TOTP_OF = select(
    t.users.c.id,
    t.users.c.mfa_secret,
    t.users.c.mfa_pending_secret,
    t.users.c.mfa_enabled_at,
    t.users.c.mfa_last_step,
).where(t.users.c.id == bindparam("id"))
_CHALLENGE_BY_HASH = _one_by(t.mfa_challenges, "token_hash")


class SqlMfaRepository(_Repository):
    async def get(self, user_id: UserId) -> TotpCredential | None:
        row = await self._row(_TOTP_OF, {"id": user_id})
        if row is None:
            return None
        return TotpCredential(
            user_id=UserId(row["id"]),
            secret=row["mfa_secret"],
            pending_secret=row["mfa_pending_secret"],
            enabled_at=row["mfa_enabled_at"],
            last_used_step=row["mfa_last_step"],
        )

    async def set_pending_secret(self, user_id: UserId, sealed_secret: str | None) -> None:
        await self._db.execute(
            update(t.users).where(t.users.c.id == user_id).values(mfa_pending_secret=sealed_secret)
        )

    async def enable(self, user_id: UserId, sealed_secret: str, at: datetime, used_step: int) -> None:
        await self._db.execute(
            update(t.users)
            .where(t.users.c.id == user_id)
            .values(
                mfa_secret=sealed_secret, mfa_pending_secret=None, mfa_enabled_at=at, mfa_last_step=used_step
            )
        )

    async def disable(self, user_id: UserId) -> None:
        await self._db.execute(
            update(t.users)
            .where(t.users.c.id == user_id)
            .values(mfa_secret=None, mfa_pending_secret=None, mfa_enabled_at=None, mfa_last_step=None)
        )
        await self._db.execute(delete(t.mfa_recovery_codes).where(t.mfa_recovery_codes.c.user_id == user_id))

    async def spend_step(self, user_id: UserId, step: int) -> bool:
        # The compare-and-set: a second transaction with the same code waits for the first one's row lock
        # (PostgreSQL, READ COMMITTED) or its write lock (SQLite), then finds the step taken.
        u = t.users
        result = await self._db.execute(
            update(u)
            .where(u.c.id == user_id, or_(u.c.mfa_last_step.is_(None), u.c.mfa_last_step < step))
            .values(mfa_last_step=step)
        )
        return result.rowcount == 1

    async def replace_recovery_codes(self, user_id: UserId, code_hashes: list[str], at: datetime) -> None:
        codes = t.mfa_recovery_codes
        await self._db.execute(delete(codes).where(codes.c.user_id == user_id))
        if code_hashes:
            await self._db.execute(
                insert(codes),
                [
                    {"id": new_uuid(), "user_id": user_id, "code_hash": h, "created_at": at}
                    for h in code_hashes
                ],
            )

    async def spend_recovery_code(self, user_id: UserId, code_hash: str, at: datetime) -> bool:
        codes = t.mfa_recovery_codes
        result = await self._db.execute(
            update(codes)
            .where(codes.c.user_id == user_id, codes.c.code_hash == code_hash, codes.c.used_at.is_(None))
            .values(used_at=at)
        )
        return result.rowcount >= 1

    async def unused_recovery_codes(self, user_id: UserId) -> int:
        codes = t.mfa_recovery_codes
        count = await self._db.execute(
            select(func.count()).where(codes.c.user_id == user_id, codes.c.used_at.is_(None))
        )
        return int(count.scalar_one())


def _mfa_challenge(row: Row) -> MfaChallengeRecord:
    return MfaChallengeRecord(
        id=MfaChallengeId(row["id"]),
        user_id=UserId(row["user_id"]),
        tenant_id=TenantId(row["tenant_id"]),
        purpose=ChallengePurpose(row["purpose"]),
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        device_label=row["device_label"],
        fingerprint_hash=row["fingerprint_hash"],
        ip=row["ip"],
        attempts=row["attempts"],
        used_at=row["used_at"],
    )


class SqlMfaChallengeRepository(_Repository):
    async def add(self, challenge: MfaChallengeRecord) -> None:
        await self._db.execute(
            insert(t.mfa_challenges).values(
                id=challenge.id,
                user_id=challenge.user_id,
                tenant_id=challenge.tenant_id,
                purpose=challenge.purpose.value,
                token_hash=challenge.token_hash,
                created_at=challenge.created_at,
                expires_at=challenge.expires_at,
                device_label=challenge.device_label,
                fingerprint_hash=challenge.fingerprint_hash,
                ip=challenge.ip,
                attempts=challenge.attempts,
                used_at=challenge.used_at,
            )
        )

    async def get_by_hash(self, token_hash: str) -> MfaChallengeRecord | None:
        row = await self._row(_CHALLENGE_BY_HASH, {"token_hash": token_hash})
        return _mfa_challenge(row) if row else None

    async def spend_attempt(self, challenge_id: MfaChallengeId, max_attempts: int) -> bool:
        c = t.mfa_challenges
        result = await self._db.execute(
            update(c)
            .where(c.c.id == challenge_id, c.c.used_at.is_(None), c.c.attempts < max_attempts)
            .values(attempts=c.c.attempts + 1)
        )
        return result.rowcount == 1

    async def mark_used(self, challenge_id: MfaChallengeId, at: datetime) -> bool:
        c = t.mfa_challenges
        result = await self._db.execute(
            update(c).where(c.c.id == challenge_id, c.c.used_at.is_(None)).values(used_at=at)
        )
        return result.rowcount == 1


# --- account tokens, reset requests, sign-in failures ------------------------------------------------------


def _account_token(row: Row) -> AccountToken:
    return AccountToken(
        id=row["id"],
        user_id=UserId(row["user_id"]),
        purpose=TokenPurpose(row["purpose"]),
        token_hash=row["token_hash"],
        email=Email(row["email"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
        end_other_sessions=row["end_other_sessions"],
        session_id=SessionId(row["session_id"]) if row["session_id"] else None,
    )


_ACCOUNT_TOKEN_BY_HASH = _one_by(t.account_tokens, "token_hash")


class SqlAccountTokenRepository(_Repository):
    async def add(self, token: AccountToken) -> None:
        await self._db.execute(
            insert(t.account_tokens).values(
                id=token.id,
                user_id=token.user_id,
                purpose=token.purpose.value,
                token_hash=token.token_hash,
                email=token.email.value,
                created_at=token.created_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
                end_other_sessions=token.end_other_sessions,
                session_id=token.session_id,
            )
        )
        self._db.saw(token)

    async def get_by_hash(self, token_hash: str) -> AccountToken | None:
        row = await self._row(_ACCOUNT_TOKEN_BY_HASH, {"token_hash": token_hash})
        return _account_token(row) if row else None

    async def retire(self, user_id: UserId, purpose: TokenPurpose, at: datetime) -> None:
        a = t.account_tokens
        await self._db.execute(
            update(a)
            .where(a.c.user_id == user_id, a.c.purpose == purpose.value, a.c.used_at.is_(None))
            .values(used_at=at)
        )

    async def spend(self, token_id: UUID, at: datetime) -> bool:
        # The compare-and-set, as for refresh tokens: the second of two racing spends waits for the
        # first to commit, re-checks ``used_at IS NULL`` and updates nothing.
        a = t.account_tokens
        result = await self._db.execute(
            update(a).where(a.c.id == token_id, a.c.used_at.is_(None)).values(used_at=at)
        )
        return result.rowcount == 1


class SqlPasswordResetRequestLog(_Repository):
    async def add(self, email_hash: str, at: datetime) -> None:
        await self._db.execute(
            insert(t.password_reset_requests).values(id=new_uuid(), email_hash=email_hash, requested_at=at)
        )

    async def count_since(self, email_hash: str, since: datetime) -> int:
        r = t.password_reset_requests
        found = await self._db.execute(
            select(func.count()).where(r.c.email_hash == email_hash, r.c.requested_at > since)
        )
        return int(found.scalar_one())


def _sign_in_failures(row: Row) -> SignInFailures:
    return SignInFailures(
        key_hash=row["key_hash"],
        device_hash=row["device_hash"],
        failures=row["failures"],
        first_failed_at=row["first_failed_at"],
        last_failed_at=row["last_failed_at"],
        locked_until=row["locked_until"],
    )


def _failure_values(failures: SignInFailures) -> dict[str, Any]:
    return {
        "failures": failures.failures,
        "first_failed_at": failures.first_failed_at,
        "last_failed_at": failures.last_failed_at,
        "locked_until": failures.locked_until,
    }


class SqlSignInFailureRepository(_Repository):
    async def get(self, key_hash: str, device_hash: str) -> SignInFailures | None:
        f = t.sign_in_failures
        # FOR UPDATE on PostgreSQL; SQLite ignores it, and its write transactions run one at a time anyway.
        row = await self._row(
            select(f).where(f.c.key_hash == key_hash, f.c.device_hash == device_hash).with_for_update()
        )
        return _sign_in_failures(row) if row else None

    async def add(self, failures: SignInFailures) -> None:
        # Never an update-or-insert: a counter read as missing may have been inserted since, and writing
        # this one's values over it would lose the other attempt's count.
        await self._db.execute(
            insert(t.sign_in_failures).values(
                key_hash=failures.key_hash, device_hash=failures.device_hash, **_failure_values(failures)
            )
        )

    async def save(self, failures: SignInFailures) -> None:
        f = t.sign_in_failures
        await self._db.execute(
            update(f)
            .where(f.c.key_hash == failures.key_hash, f.c.device_hash == failures.device_hash)
            .values(_failure_values(failures))
        )

    async def clear(self, key_hash: str, device_hash: str | None = None) -> None:
        f = t.sign_in_failures
        statement = delete(f).where(f.c.key_hash == key_hash)
        if device_hash is not None:
            statement = statement.where(f.c.device_hash == device_hash)
        await self._db.execute(statement)


# --- audit trail -----------------------------------------------------------------------------------------


def _audit_event(row: Row) -> AuditEvent:
    kind, target_id = row["target_kind"], row["target_id"]
    return AuditEvent(
        id=AuditEventId(row["id"]),
        tenant_id=TenantId(row["tenant_id"]),
        action=AuditAction(row["action"]),
        occurred_at=row["occurred_at"],
        actor_user_id=UserId(row["actor_user_id"]) if row["actor_user_id"] else None,
        actor_api_key_id=row["actor_api_key_id"],
        target=AuditTarget(kind, target_id) if kind and target_id else None,
        ip=row["ip"],
        user_agent=row["user_agent"],
        request_id=row["request_id"],
        details=dict(row["details"] or {}),
    )


class SqlAuditLog(_Repository):
    async def add(self, event: AuditEvent) -> None:
        await self._db.execute(
            insert(t.audit_events).values(
                tenant_id=self._db.tenant_id(),
                id=event.id,
                action=event.action.value,
                occurred_at=event.occurred_at,
                actor_user_id=event.actor_user_id,
                actor_api_key_id=event.actor_api_key_id,
                target_kind=event.target.kind if event.target else None,
                target_id=event.target.id if event.target else None,
                ip=event.ip,
                user_agent=event.user_agent,
                request_id=event.request_id,
                details=dict(event.details),
            )
        )

    async def page(self, page: PageRequest, query: AuditQuery) -> Page[AuditEvent]:
        a = t.audit_events
        statement = select(a).where(a.c.tenant_id == self._db.tenant_id())
        if query.actions:
            statement = statement.where(a.c.action.in_(sorted(action.value for action in query.actions)))
        if query.actor_user_id is not None:
            statement = statement.where(a.c.actor_user_id == query.actor_user_id)
        if query.since is not None:
            statement = statement.where(a.c.occurred_at >= query.since)
        if query.until is not None:
            statement = statement.where(a.c.occurred_at < query.until)
        if page.after is not None:
            statement = statement.where(a.c.id < page.after)
        rows = await self._rows(statement.order_by(a.c.id.desc()).limit(page.limit + 1))
        kept, next_after = _page_of(rows, page)
        return Page([_audit_event(row) for row in kept], next_after)


# --- custom roles ----------------------------------------------------------------------------------------


def _role(row: Row) -> CustomRole:
    return CustomRole(
        tenant_id=TenantId(row["tenant_id"]),
        id=RoleId(row["id"]),
        name=row["name"],
        description=row["description"],
        permissions=frozenset(Permission(p) for p in row["permissions"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _role_values(role: CustomRole) -> dict[str, Any]:
    return {
        "name": role.name,
        "name_key": role.name_key,
        "description": role.description,
        "permissions": sorted(p.value for p in role.permissions),
        "updated_at": role.updated_at,
    }


class SqlRoleRepository(_Repository):
    async def add(self, role: CustomRole) -> None:
        await self._db.execute(
            insert(t.roles).values(
                tenant_id=self._db.tenant_id(), id=role.id, created_at=role.created_at, **_role_values(role)
            )
        )
        self._db.saw(role)

    async def get(self, role_id: RoleId) -> CustomRole | None:
        return await self._one(t.roles.c.id == role_id)

    async def get_by_name(self, name: str) -> CustomRole | None:
        return await self._one(t.roles.c.name_key == name_key(name))

    async def _one(self, condition: Any) -> CustomRole | None:
        row = await self._row(select(t.roles).where(t.roles.c.tenant_id == self._db.tenant_id(), condition))
        if row is None:
            return None
        role = _role(row)
        self._db.saw(role)
        return role

    async def get_many(self, role_ids: frozenset[RoleId]) -> dict[RoleId, CustomRole]:
        if not role_ids:
            return {}
        rows = await self._rows(
            select(t.roles).where(t.roles.c.tenant_id == self._db.tenant_id(), t.roles.c.id.in_(role_ids))
        )
        return {RoleId(r["id"]): _role(r) for r in rows}

    async def list(self) -> list[CustomRole]:
        rows = await self._rows(
            select(t.roles)
            .where(t.roles.c.tenant_id == self._db.tenant_id())
            .order_by(t.roles.c.name_key, t.roles.c.id)
        )
        return [_role(r) for r in rows]

    async def save(self, role: CustomRole) -> None:
        await self._db.execute(
            update(t.roles)
            .where(t.roles.c.tenant_id == self._db.tenant_id(), t.roles.c.id == role.id)
            .values(_role_values(role))
        )
        self._db.saw(role)

    async def remove(self, role_id: RoleId) -> None:
        await self._db.execute(
            delete(t.roles).where(t.roles.c.tenant_id == self._db.tenant_id(), t.roles.c.id == role_id)
        )

    async def in_use(self, role_id: RoleId) -> bool:
        mr = t.membership_roles
        found = await self._db.execute(
            select(mr.c.membership_id)
            .where(mr.c.tenant_id == self._db.tenant_id(), mr.c.role_id == role_id)
            .limit(1)
        )
        return found.first() is not None


# --- API keys --------------------------------------------------------------------------------------------


def _api_key(row: Row) -> ApiKey:
    return ApiKey(
        tenant_id=TenantId(row["tenant_id"]),
        id=ApiKeyId(row["id"]),
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        scopes=frozenset(Permission(s) for s in row["scopes"]),
        allowed_cidrs=tuple(row["allowed_cidrs"]),
        expires_at=row["expires_at"],
        created_by=UserId(row["created_by"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


_API_KEY_BY_PREFIX = _one_by(t.api_keys, "tenant_id", "prefix")
_PREFIX_TENANT = select(t.api_key_prefixes.c.tenant_id).where(
    t.api_key_prefixes.c.prefix == bindparam("prefix")
)


class SqlApiKeyRepository(_Repository):
    async def add(self, key: ApiKey) -> None:
        tenant_id = self._db.tenant_id()
        await self._db.execute(insert(t.api_key_prefixes).values(prefix=key.prefix, tenant_id=tenant_id))
        await self._db.execute(
            insert(t.api_keys).values(
                tenant_id=tenant_id,
                id=key.id,
                name=key.name,
                prefix=key.prefix,
                secret_hash=key.secret_hash,
                scopes=sorted(s.value for s in key.scopes),
                allowed_cidrs=list(key.allowed_cidrs),
                expires_at=key.expires_at,
                created_by=key.created_by,
                created_at=key.created_at,
                last_used_at=key.last_used_at,
                revoked_at=key.revoked_at,
            )
        )
        self._db.saw(key)

    async def get(self, key_id: ApiKeyId) -> ApiKey | None:
        row = await self._row(
            select(t.api_keys).where(
                t.api_keys.c.tenant_id == self._db.tenant_id(), t.api_keys.c.id == key_id
            )
        )
        return _api_key(row) if row else None

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        row = await self._row(_API_KEY_BY_PREFIX, {"tenant_id": self._db.tenant_id(), "prefix": prefix})
        return _api_key(row) if row else None

    async def list(self) -> list[ApiKey]:
        rows = await self._rows(
            select(t.api_keys)
            .where(t.api_keys.c.tenant_id == self._db.tenant_id())
            .order_by(t.api_keys.c.id.desc())
        )
        return [_api_key(r) for r in rows]

    async def save(self, key: ApiKey) -> None:
        await self._db.execute(
            update(t.api_keys)
            .where(t.api_keys.c.tenant_id == self._db.tenant_id(), t.api_keys.c.id == key.id)
            .values(revoked_at=key.revoked_at)
        )
        self._db.saw(key)

    async def touch(self, key_id: ApiKeyId, now: datetime, stale_before: datetime) -> bool:
        k = t.api_keys
        result = await self._db.execute(
            update(k)
            .where(
                k.c.tenant_id == self._db.tenant_id(),
                k.c.id == key_id,
                k.c.last_used_at.is_(None) | (k.c.last_used_at <= stale_before),
            )
            .values(last_used_at=now)
        )
        return result.rowcount == 1


class SqlApiKeyDirectory(_Repository):
    async def tenant_of(self, prefix: str) -> TenantId | None:
        found = (await self._db.execute(_PREFIX_TENANT, {"prefix": prefix})).first()
        return TenantId(found[0]) if found else None
