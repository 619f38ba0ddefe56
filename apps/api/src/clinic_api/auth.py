"""Bearer-token authentication: who the caller is, and in which tenant, comes only from a verified token.

``BearerAuthentication`` turns a valid ``Authorization: Bearer`` token into an ``ActorIdentity``; the
authorization strategy then refuses anonymous callers on every route not marked ``allow_anonymous``; and
``ActorBinder`` hands the ``Actor`` to any handler that declares a parameter of that type.

A signature is not enough: the token's session must still stand (not logged out, not revoked for a
replayed refresh token, still in this tenant, tenant active, membership there). ``SessionGuard`` asks
``CheckSession`` and remembers the answer for a few seconds, so that a logout takes effect everywhere
within that time without a database read on every request.

``ApiKeyAuthentication`` is the second way in, for integrators: ``Authorization: ApiKey <key>`` or
``X-API-Key: <key>`` gives an actor for the key's tenant with exactly the key's scopes.
"""

from __future__ import annotations

from typing import Any

from blacksheep import Request
from blacksheep.server.bindings import Binder
from cachetools import TTLCache
from guardpost import AuthenticationHandler, Identity, UnauthorizedError
from returns.result import Success

from clinic_api.logging_setup import tenant_id_var
from clinic_core.access.api_keys import AuthenticateApiKey, AuthenticateApiKeyCommand
from clinic_core.application.actor import Actor
from clinic_core.identity.ports import AccessClaims, AccessTokenVerifier
from clinic_core.identity.sessions import CheckSession, SessionStanding
from clinic_core.shared.ids import SessionId, TenantId, UserId
from clinic_core.tenancy.model import Plan

BEARER_SCHEME = "Bearer"
API_KEY_SCHEME = "ApiKey"
API_KEY_HEADER = b"X-API-Key"
_PRESENTED_TOKEN = "clinic_presented_token"
_PRESENTED_API_KEY = "clinic_presented_api_key"


class ActorIdentity(Identity):
    def __init__(self, actor: Actor, scheme: str = BEARER_SCHEME, plan: Plan | None = None) -> None:
        super().__init__(
            {
                "sub": str(actor.user_id),
                "tid": str(actor.tenant_id),
                "roles": sorted(role.value for role in actor.roles),
            },
            scheme,
        )
        self.actor = actor
        self.plan = plan
        """The clinic's plan: it sets the clinic's request budget."""


def actor_from(claims: AccessClaims) -> Actor | None:
    """The actor a token speaks for; None when its unit ids are not UUIDs (a token we did not mint)."""
    try:
        return Actor.from_claims(claims)
    except ValueError:
        return None


def bearer_token(request: Request) -> str | None:
    header = request.get_first_header(b"Authorization")
    if header is None:
        return None
    scheme, _, token = header.decode("latin-1").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def presented_a_token(request: Request) -> bool:
    """True when the request carried a bearer token, valid or not (RFC 6750 wants ``invalid_token`` then)."""
    return bool(getattr(request, _PRESENTED_TOKEN, False))


class SessionGuard:
    """The standing of the sessions behind access tokens, cached per process for ``ttl_seconds``."""

    def __init__(self, check: CheckSession, *, ttl_seconds: float, max_sessions: int = 50_000) -> None:
        self._check = check
        self._cache: TTLCache[tuple[SessionId | None, TenantId, UserId], SessionStanding] = TTLCache(
            maxsize=max_sessions, ttl=ttl_seconds
        )

    async def standing(self, actor: Actor) -> SessionStanding:
        key = (actor.session_id, actor.tenant_id, actor.user_id)
        known = self._cache.get(key)
        if known is None:
            known = self._cache[key] = await self._check(actor)
        return known


def api_key(request: Request) -> str | None:
    """The key of ``Authorization: ApiKey <key>`` or of ``X-API-Key: <key>``."""
    header = request.get_first_header(b"Authorization")
    if header is not None:
        scheme, _, value = header.decode("latin-1").strip().partition(" ")
        if scheme.lower() == API_KEY_SCHEME.lower() and value.strip():
            return value.strip()
    raw = request.get_first_header(API_KEY_HEADER)
    value = raw.decode("latin-1").strip() if raw else ""
    return value or None


def presented_an_api_key(request: Request) -> bool:
    return bool(getattr(request, _PRESENTED_API_KEY, False))


class BearerAuthentication(AuthenticationHandler):
    def __init__(self, verifier: AccessTokenVerifier, guard: SessionGuard) -> None:
        self._verifier, self._guard = verifier, guard

    @property
    def scheme(self) -> str:
        return BEARER_SCHEME

    # guardpost awaits coroutine handlers (_is_async_handler) though its base class declares a sync method.
    async def authenticate(self, context: Any) -> Identity | None:  # type: ignore[override]
        request: Request = context
        token = bearer_token(request)
        if token is None:
            return None
        setattr(request, _PRESENTED_TOKEN, True)
        claims = self._verifier.verify(token)
        actor = actor_from(claims) if claims is not None else None
        if actor is None:
            return None
        standing = await self._guard.standing(actor)
        if not standing.active:
            return None
        # The membership's roles, units and permissions as they are now, not as they were when the token
        # was signed, less what the tenant withholds until the email is verified.
        actor = actor.with_access(
            standing.roles, standing.unit_ids, granted=standing.permissions, withheld=standing.withheld
        )
        tenant_id_var.set(str(actor.tenant_id))
        return ActorIdentity(actor, BEARER_SCHEME, standing.plan)


class ApiKeyAuthentication(AuthenticationHandler):
    """An integrator's API key: an actor for the key's tenant with the key's scopes, and nobody's user id.

    The key is checked on every request (digest, revocation, expiry, client address): a revoked key stops
    at once, unlike a session's few seconds of cache.
    """

    def __init__(self, authenticate: AuthenticateApiKey) -> None:
        self._authenticate = authenticate

    @property
    def scheme(self) -> str:
        return API_KEY_SCHEME

    async def authenticate(self, context: Any) -> Identity | None:  # type: ignore[override]
        request: Request = context
        key = api_key(request)
        if key is None:
            return None
        setattr(request, _PRESENTED_API_KEY, True)
        result = await self._authenticate(AuthenticateApiKeyCommand(key=key, ip=request.client_ip))
        if not isinstance(result, Success):
            return None
        holder = result.unwrap()
        tenant_id_var.set(str(holder.actor.tenant_id))
        return ActorIdentity(holder.actor, API_KEY_SCHEME, holder.plan)


def current_actor(request: Request) -> Actor:
    identity = getattr(request, "identity", None)
    if isinstance(identity, ActorIdentity):
        return identity.actor
    # Authorization already refused anonymous callers; reaching here means a route asked for an Actor
    # while allowing anonymous access, and a 401 is still the right answer.
    raise UnauthorizedError("The resource requires authentication", [], scheme=BEARER_SCHEME)


class ActorBinder(Binder):
    """Lets a handler declare ``actor: Actor``. Never documented as a parameter: it is not one.

    Defining the class is what registers it: BlackSheep's binder metaclass records ``type_alias``.
    """

    type_alias = Actor

    def __init__(self) -> None:
        super().__init__(Actor, implicit=True)

    async def get_value(self, request: Request) -> Actor:
        return current_actor(request)
