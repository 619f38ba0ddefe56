"""The tenant's own roles, and which roles each member holds.

Nobody grants what they do not hold: a role may carry only permissions its author has, and changing a
member's roles may add or take away only permissions the changer has. Only an owner makes or unmakes an
owner, and the last owner stays one.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.access.model import (
    CustomRole,
    LastOwner,
    OwnerOnly,
    PermissionEscalation,
    RoleInUse,
    RoleNameTaken,
    parse_description,
    parse_permissions,
    parse_role_name,
)
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import MembershipId, RoleId, new_uuid
from clinic_core.tenancy.model import Membership
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Permission, Role, permissions_of

MAX_CUSTOM_ROLES_PER_MEMBER = 20


def _beyond(actor: Actor, permissions: frozenset[Permission]) -> Result[None, PermissionEscalation]:
    missing = permissions - actor.grantable
    if missing:
        return Failure(PermissionEscalation(permission=", ".join(sorted(missing))))
    return Success(None)


def _scope(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


def _joined(permissions: frozenset[Permission]) -> str:
    return ",".join(sorted(p.value for p in permissions))


@dataclass(frozen=True, slots=True)
class BuiltInRole:
    role: Role

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]


@dataclass(frozen=True, slots=True)
class RoleCatalogue:
    built_in: tuple[BuiltInRole, ...]
    custom: tuple[CustomRole, ...]


class ListRoles:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[RoleCatalogue, Forbidden]:
        allowed = actor.authorize(Permission.MEMBERS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            custom = await uow.roles.list()
        return Success(RoleCatalogue(tuple(BuiltInRole(r) for r in Role), tuple(custom)))


class GetRole:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, role_id: RoleId) -> Result[CustomRole, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.MEMBERS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            role = await uow.roles.get(role_id)
        return Success(role) if role is not None else Failure(NotFound("role", str(role_id)))


@dataclass(frozen=True, slots=True)
class RoleInput:
    name: str
    permissions: frozenset[str]
    description: str = ""


def _parse(
    given: RoleInput,
) -> Result[tuple[str, str, frozenset[Permission]], InvalidInput]:
    name, description, permissions = (
        parse_role_name(given.name),
        parse_description(given.description),
        parse_permissions(given.permissions),
    )
    invalid = collect_invalid(name, description, permissions)
    if invalid is not None:
        return Failure(invalid)
    return Success((name.unwrap(), description.unwrap(), permissions.unwrap()))


@dataclass(frozen=True, slots=True)
class CreateRoleCommand:
    actor: Actor
    role: RoleInput
    context: RequestContext = NO_CONTEXT


class CreateRole:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: CreateRoleCommand
    ) -> Result[CustomRole, Forbidden | InvalidInput | RoleNameTaken]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.MEMBERS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        parsed = _parse(cmd.role)
        if isinstance(parsed, Failure):
            return parsed
        name, description, permissions = parsed.unwrap()
        escalating = _beyond(actor, permissions)
        if isinstance(escalating, Failure):
            return escalating
        now = self._clock.now()
        role = CustomRole(
            tenant_id=actor.tenant_id,
            id=RoleId(new_uuid()),
            name=name,
            description=description,
            permissions=permissions,
            created_at=now,
            updated_at=now,
        )
        async with self._uow(_scope(actor)) as uow:
            if await uow.roles.get_by_name(name) is not None:
                return Failure(RoleNameTaken())
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.ROLE_CREATED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    target=AuditTarget("role", str(role.id)),
                    name=name,
                    permissions=_joined(permissions),
                    **acted_by(actor),
                )
            )
            try:
                await uow.roles.add(role)
                await uow.commit()
            except UniqueViolation:  # the same name, created at the same time: the other one won
                return Failure(RoleNameTaken())
        return Success(role)


@dataclass(frozen=True, slots=True)
class UpdateRoleCommand:
    actor: Actor
    role_id: RoleId
    role: RoleInput
    context: RequestContext = NO_CONTEXT


class UpdateRole:
    """Rename, describe, and set the permissions of a custom role. Every member holding it gains or loses
    the permissions at once (within the session cache's few seconds).

    The editor must hold every permission the role has before and after the edit: nobody lends a role
    more than they have, nor strips a role that does more than they can.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: UpdateRoleCommand
    ) -> Result[CustomRole, Forbidden | InvalidInput | NotFound | RoleNameTaken]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.MEMBERS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        parsed = _parse(cmd.role)
        if isinstance(parsed, Failure):
            return parsed
        name, description, permissions = parsed.unwrap()
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            role = await uow.roles.get(cmd.role_id)
            if role is None:
                return Failure(NotFound("role", str(cmd.role_id)))
            escalating = _beyond(actor, permissions | role.permissions)
            if isinstance(escalating, Failure):
                return escalating
            same_name = await uow.roles.get_by_name(name)
            if same_name is not None and same_name.id != role.id:
                return Failure(RoleNameTaken())
            added, removed = permissions - role.permissions, role.permissions - permissions
            role.name, role.description, role.permissions, role.updated_at = (
                name,
                description,
                permissions,
                now,
            )
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.ROLE_UPDATED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    target=AuditTarget("role", str(role.id)),
                    name=name,
                    added=_joined(added),
                    removed=_joined(removed),
                    **acted_by(actor),
                )
            )
            try:
                await uow.roles.save(role)
                await uow.commit()
            except UniqueViolation:
                return Failure(RoleNameTaken())
        return Success(role)


@dataclass(frozen=True, slots=True)
class DeleteRoleCommand:
    actor: Actor
    role_id: RoleId
    context: RequestContext = NO_CONTEXT


class DeleteRole:
    """Delete a custom role nobody holds. A role still held is a 409: taking permissions from people is
    done member by member, on purpose."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: DeleteRoleCommand) -> Result[None, Forbidden | NotFound | RoleInUse]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.MEMBERS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor)) as uow:
            role = await uow.roles.get(cmd.role_id)
            if role is None:
                return Failure(NotFound("role", str(cmd.role_id)))
            if await uow.roles.in_use(role.id):
                return Failure(RoleInUse())
            await uow.roles.remove(role.id)
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.ROLE_DELETED,
                    tenant_id=actor.tenant_id,
                    at=self._clock.now(),
                    context=cmd.context,
                    target=AuditTarget("role", str(role.id)),
                    name=role.name,
                    **acted_by(actor),
                )
            )
            try:
                await uow.commit()
            except UniqueViolation:  # pragma: no cover - a foreign key, not a unique value
                return Failure(RoleInUse())
        return Success(None)


@dataclass(frozen=True, slots=True)
class SetMemberRolesCommand:
    actor: Actor
    membership_id: MembershipId
    roles: frozenset[str]
    custom_role_ids: frozenset[RoleId] = frozenset()
    context: RequestContext = NO_CONTEXT


def _built_in(raw: frozenset[str]) -> Result[frozenset[Role], InvalidInput]:
    known = {r.value for r in Role}
    unknown = sorted(raw - known)
    if unknown:
        return Failure(InvalidInput.of("roles", "unknown_role", f"unknown roles: {', '.join(unknown)}"))
    return Success(frozenset(Role(r) for r in raw))


async def effective_permissions(uow: UnitOfWork, membership: Membership) -> frozenset[Permission]:
    """The built-in roles' permissions and those of the custom roles the member holds."""
    granted = permissions_of(membership.roles)
    if membership.custom_role_ids:
        for role in (await uow.roles.get_many(membership.custom_role_ids)).values():
            granted |= role.permissions
    return granted


class SetMemberRoles:
    """Replace a member's built-in and custom roles."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: SetMemberRolesCommand
    ) -> Result[Membership, Forbidden | InvalidInput | NotFound | LastOwner]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.MEMBERS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        parsed = _built_in(cmd.roles)
        if isinstance(parsed, Failure):
            return parsed
        roles = parsed.unwrap()
        if not roles and not cmd.custom_role_ids:
            return Failure(InvalidInput.of("roles", "required", "give at least one role"))
        if len(cmd.custom_role_ids) > MAX_CUSTOM_ROLES_PER_MEMBER:
            return Failure(
                InvalidInput.of(
                    "custom_role_ids", "too_many", f"at most {MAX_CUSTOM_ROLES_PER_MEMBER} custom roles"
                )
            )
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            membership = await uow.memberships.get(cmd.membership_id)
            if membership is None or not (
                not actor.unit_ids or membership.all_units or membership.unit_ids & actor.unit_ids
            ):
                return Failure(NotFound("member", str(cmd.membership_id)))
            custom = await uow.roles.get_many(cmd.custom_role_ids)
            unknown = cmd.custom_role_ids - custom.keys()
            if unknown:
                return Failure(
                    InvalidInput.of(
                        "custom_role_ids",
                        "unknown_role",
                        f"no such roles: {', '.join(sorted(map(str, unknown)))}",
                    )
                )
            if Role.OWNER in roles ^ membership.roles and Role.OWNER not in actor.roles:
                return Failure(OwnerOnly(permission="members:grant-owner"))
            before = await effective_permissions(uow, membership)
            after = permissions_of(roles)
            for role in custom.values():
                after |= role.permissions
            escalating = _beyond(actor, before ^ after)
            if isinstance(escalating, Failure):
                return escalating
            if Role.OWNER in membership.roles and Role.OWNER not in roles:
                owners = await uow.memberships.ids_with_role(Role.OWNER)
                if owners <= {membership.id}:
                    return Failure(LastOwner())
            old_roles, old_custom = membership.roles, membership.custom_role_ids
            if (old_roles, old_custom) == (roles, frozenset(custom)):
                return Success(membership)  # nothing changes: nothing to write or record
            membership.roles, membership.custom_role_ids = roles, frozenset(custom)
            await uow.memberships.save_roles(membership)
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.MEMBER_ROLES_CHANGED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    target=AuditTarget("membership", str(membership.id)),
                    roles=",".join(sorted(r.value for r in roles)),
                    previous_roles=",".join(sorted(r.value for r in old_roles)),
                    custom_role_ids=",".join(sorted(map(str, membership.custom_role_ids))),
                    previous_custom_role_ids=",".join(sorted(map(str, old_custom))),
                    **acted_by(actor),
                )
            )
            await uow.commit()
        return Success(membership)
