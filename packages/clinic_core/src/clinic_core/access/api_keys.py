"""API keys for the systems a clinic integrates (its ERP, a booking widget on its website).

A key is created by someone allowed to (``api_keys:write``), shown once, and stored as a SHA-256 digest
beside a short prefix that finds it. It acts for its tenant only and with its scopes only: a subset of its
creator's permissions, so that nobody mints a key that can do more than they can. Every key expires
within ``API_KEY_MAX_LIFETIME`` and may be limited to some networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.access.model import (
    API_KEY_MAX_LIFETIME,
    API_KEY_USER,
    LAST_USED_GRANULARITY,
    ApiKey,
    ApiKeyNotAllowed,
    InvalidApiKey,
    PermissionEscalation,
    format_api_key,
    key_prefix_of,
    new_key_prefix,
    parse_cidrs,
    parse_permissions,
)
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound, collect_invalid
from clinic_core.shared.ids import ApiKeyId, new_uuid
from clinic_core.shared.tokens import digest, matches, new_secret
from clinic_core.tenancy.model import Plan
from clinic_core.tenancy.permissions import Permission

API_KEY_NAME_MAX = 100
_PREFIX_ATTEMPTS = 3


def _scope(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


@dataclass(frozen=True, slots=True)
class CreateApiKeyCommand:
    actor: Actor
    name: str
    scopes: frozenset[str]
    expires_at: datetime | None = None
    """At most ``API_KEY_MAX_LIFETIME`` ahead; None: exactly that far."""
    allowed_cidrs: tuple[str, ...] = ()
    context: RequestContext = NO_CONTEXT


@dataclass(frozen=True, slots=True)
class ApiKeyIssued:
    api_key: ApiKey
    key: str
    """Shown once; only its digest is stored."""


class CreateApiKey:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: CreateApiKeyCommand) -> Result[ApiKeyIssued, Forbidden | InvalidInput]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.API_KEYS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        if actor.api_key_id is not None:
            return Failure(ApiKeyNotAllowed(permission=Permission.API_KEYS_WRITE.value))
        now = self._clock.now()
        name = " ".join(cmd.name.split())
        name_ok: Result[str, InvalidInput] = (
            Success(name)
            if 0 < len(name) <= API_KEY_NAME_MAX
            else Failure(InvalidInput.of("name", "invalid_name", f"1 to {API_KEY_NAME_MAX} characters"))
        )
        scopes, cidrs = parse_permissions(cmd.scopes, "scopes"), parse_cidrs(cmd.allowed_cidrs)
        expires_at = cmd.expires_at or now + API_KEY_MAX_LIFETIME
        expiry_ok: Result[datetime, InvalidInput] = (
            Success(expires_at)
            if now < expires_at <= now + API_KEY_MAX_LIFETIME
            else Failure(
                InvalidInput.of(
                    "expires_at", "invalid_expiry", "must be in the future and at most 365 days ahead"
                )
            )
        )
        invalid = collect_invalid(name_ok, scopes, cidrs, expiry_ok)
        if invalid is not None:
            return Failure(invalid)
        beyond = scopes.unwrap() - actor.permissions
        if beyond:
            return Failure(PermissionEscalation(permission=", ".join(sorted(beyond))))

        for attempt in range(_PREFIX_ATTEMPTS):
            prefix = new_key_prefix()
            key = format_api_key(prefix, new_secret())
            api_key = ApiKey(
                tenant_id=actor.tenant_id,
                id=ApiKeyId(new_uuid()),
                name=name,
                prefix=prefix,
                secret_hash=digest(key),
                scopes=scopes.unwrap(),
                allowed_cidrs=cidrs.unwrap(),
                expires_at=expires_at,
                created_by=actor.user_id,
                created_at=now,
            )
            async with self._uow(_scope(actor)) as uow:
                try:
                    await uow.api_keys.add(api_key)
                except UniqueViolation:  # a prefix drawn twice (1 in 2.8e12 per pair): draw again
                    if attempt == _PREFIX_ATTEMPTS - 1:
                        raise
                    continue
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.API_KEY_CREATED,
                        tenant_id=actor.tenant_id,
                        at=now,
                        context=cmd.context,
                        target=AuditTarget("api_key", str(api_key.id)),
                        name=name,
                        prefix=prefix,
                        scopes=",".join(sorted(s.value for s in api_key.scopes)),
                        **acted_by(actor),
                    )
                )
                await uow.commit()
            return Success(ApiKeyIssued(api_key, key))
        raise AssertionError("unreachable: the last attempt returns or raises")


class ListApiKeys:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[list[ApiKey], Forbidden]:
        allowed = actor.authorize(Permission.API_KEYS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            return Success(await uow.api_keys.list())


class GetApiKey:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, key_id: ApiKeyId) -> Result[ApiKey, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.API_KEYS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(_scope(actor), read_only=True) as uow:
            key = await uow.api_keys.get(key_id)
        return Success(key) if key is not None else Failure(NotFound("api_key", str(key_id)))


@dataclass(frozen=True, slots=True)
class RevokeApiKeyCommand:
    actor: Actor
    key_id: ApiKeyId
    context: RequestContext = NO_CONTEXT


class RevokeApiKey:
    """Revoke a key for good. Revoking a revoked key succeeds and changes nothing."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: RevokeApiKeyCommand) -> Result[ApiKey, Forbidden | NotFound]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.API_KEYS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        async with self._uow(_scope(actor)) as uow:
            key = await uow.api_keys.get(cmd.key_id)
            if key is None:
                return Failure(NotFound("api_key", str(cmd.key_id)))
            if key.revoked_at is None:
                key.revoked_at = now
                await uow.api_keys.save(key)
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.API_KEY_REVOKED,
                        tenant_id=actor.tenant_id,
                        at=now,
                        context=cmd.context,
                        target=AuditTarget("api_key", str(key.id)),
                        prefix=key.prefix,
                        **acted_by(actor),
                    )
                )
                await uow.commit()
        return Success(key)


@dataclass(frozen=True, slots=True)
class AuthenticateApiKeyCommand:
    key: str
    ip: str | None


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a valid key speaks for: the actor, and its clinic's plan (which sets the clinic's budgets)."""

    actor: Actor
    plan: Plan


class AuthenticateApiKey:
    """The actor a presented key speaks for: its tenant, its scopes, nobody's user id.

    Every refusal is the same ``InvalidApiKey``, whether the key is unknown, wrong, revoked, expired,
    presented from outside its networks, or its clinic is suspended: the answer tells a guesser nothing.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: AuthenticateApiKeyCommand) -> Result[KeyHolder, InvalidApiKey]:
        prefix = key_prefix_of(cmd.key)
        if prefix is None:
            return Failure(InvalidApiKey())
        now = self._clock.now()
        async with self._uow(Scope(), read_only=True) as uow:
            tenant_id = await uow.api_key_directory.tenant_of(prefix)
            if tenant_id is None:
                return Failure(InvalidApiKey())
            await uow.bind(Scope(tenant_id=tenant_id))
            key = await uow.api_keys.get_by_prefix(prefix)
            tenant = await uow.tenants.get(tenant_id)
        if (
            key is None
            or not matches(cmd.key, key.secret_hash)
            or not key.is_usable(now)
            or not key.allows(cmd.ip)
            or tenant is None
            or not tenant.is_active
        ):
            return Failure(InvalidApiKey())
        if key.last_use_is_stale(now):
            async with self._uow(Scope(tenant_id=tenant_id)) as uow:
                if await uow.api_keys.touch(key.id, now, now - LAST_USED_GRANULARITY):
                    await uow.commit()
        actor = Actor(
            user_id=API_KEY_USER,
            tenant_id=tenant_id,
            roles=frozenset(),
            unit_ids=frozenset(),
            granted=key.scopes,
            api_key_id=key.id,
        )
        return Success(KeyHolder(actor, tenant.plan))
