"""Every route says what it needs, and the host checks it before the handler runs.

``@requires(Permission.X)`` marks a route that needs a permission: callers whose effective permissions
(roles, custom roles, an API key's scopes) lack it get 403 ``forbidden`` before any use case runs; the use
cases check again, so an embedder calling them directly is held to the same rule. ``@requires_person()``
marks a self-service route (my profile, my sessions, my password): any signed-in person may call it, and
no API key. ``@requires_signed_in()`` lets in any authenticated caller. Public routes use BlackSheep's
``allow_anonymous``.

The declaration lives on the handler, where the route table can be read: a test walks it and fails for
a route that declares nothing, and the role matrix test checks each declaration against each role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from blacksheep import Request, Response

from clinic_api.auth import ActorIdentity
from clinic_api.problems import ProblemRaised, problem_for
from clinic_core.access.model import ApiKeyNotAllowed
from clinic_core.shared.errors import Forbidden
from clinic_core.tenancy.permissions import Permission

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "clinic_access"


@dataclass(frozen=True, slots=True)
class Access:
    permission: Permission | None
    """None: any signed-in person."""
    people_only: bool
    """API keys are refused (403 ``api_key_not_allowed``)."""


def _declare(access: Access) -> Callable[[F], F]:
    def mark(handler: F) -> F:
        setattr(handler, _ATTRIBUTE, access)
        return handler

    return mark


def requires(permission: Permission, *, people_only: bool = False) -> Callable[[F], F]:
    """The route needs ``permission``; a person or an API key holding it may call it (a person only, with
    ``people_only``: minting credentials, say)."""
    return _declare(Access(permission, people_only=people_only))


def requires_signed_in() -> Callable[[F], F]:
    """Any authenticated caller, person or API key (reading the permission catalogue)."""
    return _declare(Access(None, people_only=False))


def requires_person() -> Callable[[F], F]:
    """A self-service route: any signed-in person, about themself; never an API key."""
    return _declare(Access(None, people_only=True))


def declared_access(handler: object) -> Access | None:
    """What a route handler declared, found through BlackSheep's wrappers (normalised handler, middleware
    chain), which copy the original function's attributes or keep it as ``root_fn``."""
    for candidate in (handler, getattr(handler, "root_fn", None), getattr(handler, "__wrapped__", None)):
        access = getattr(candidate, _ATTRIBUTE, None)
        if isinstance(access, Access):
            return access
    return None


def is_public(handler: object) -> bool:
    return any(
        getattr(candidate, "allow_anonymous", False) is True
        for candidate in (handler, getattr(handler, "root_fn", None))
    )


async def access_middleware(request: Request, handler: Callable[[Request], Awaitable[Response]]) -> Response:
    """Runs after authentication and authorization: anonymous callers were refused already."""
    access = declared_access(handler)
    identity = getattr(request, "identity", None)
    if access is not None and isinstance(identity, ActorIdentity):
        actor = identity.actor
        if access.people_only and actor.api_key_id is not None:
            raise ProblemRaised(problem_for(ApiKeyNotAllowed()))
        if access.permission is not None and access.permission not in actor.permissions:
            raise ProblemRaised(problem_for(Forbidden(permission=access.permission.value)))
    return await handler(request)
