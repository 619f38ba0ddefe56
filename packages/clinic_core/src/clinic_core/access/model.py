"""Custom roles and API keys: plain Python, no persistence concerns."""

from __future__ import annotations

import ipaddress
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import ApiKeyId, RoleId, TenantId, UserId
from clinic_core.tenancy.permissions import Permission, Role

ROLE_NAME_MAX = 60
ROLE_DESCRIPTION_MAX = 300
API_KEY_PREFIX = "clinic"
API_KEY_PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
API_KEY_MAX_LIFETIME = timedelta(days=365)
"""Every key expires: one that leaked from an integrator's config stops working within a year at most."""
API_KEY_MAX_CIDRS = 20
LAST_USED_GRANULARITY = timedelta(minutes=1)
"""``last_used_at`` moves at most this often: a busy integration must not write on every request."""
API_KEY_USER = UserId(UUID(int=0))
"""The ``user_id`` of an actor that is an API key: nobody's, so it reads no person's memberships."""


# --- custom roles ------------------------------------------------------------------------------------------


@dataclass(eq=False, kw_only=True)
class CustomRole:
    """A tenant's own named set of permissions, assignable to its members beside the built-in roles."""

    tenant_id: TenantId
    id: RoleId
    name: str
    description: str
    permissions: frozenset[Permission]
    created_at: datetime
    updated_at: datetime
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def name_key(self) -> str:
        """What makes two names the same name: case and surrounding spaces do not count."""
        return name_key(self.name)


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def parse_role_name(raw: str) -> Result[str, InvalidInput]:
    name = " ".join(raw.split())
    if not name:
        return Failure(InvalidInput.of("name", "required", "give the role a name"))
    if len(name) > ROLE_NAME_MAX:
        return Failure(InvalidInput.of("name", "too_long", f"at most {ROLE_NAME_MAX} characters"))
    if name.casefold() in {role.value for role in Role}:
        return Failure(InvalidInput.of("name", "reserved_name", "that is the name of a built-in role"))
    return Success(name)


def parse_description(raw: str) -> Result[str, InvalidInput]:
    description = raw.strip()
    if len(description) > ROLE_DESCRIPTION_MAX:
        return Failure(
            InvalidInput.of("description", "too_long", f"at most {ROLE_DESCRIPTION_MAX} characters")
        )
    return Success(description)


def parse_permissions(
    raw: Iterable[str], field_name: str = "permissions"
) -> Result[frozenset[Permission], InvalidInput]:
    values = set(raw)
    known = {p.value for p in Permission}
    unknown = sorted(values - known)
    if unknown:
        return Failure(
            InvalidInput.of(field_name, "unknown_permission", f"unknown permissions: {', '.join(unknown)}")
        )
    if not values:
        return Failure(InvalidInput.of(field_name, "required", "give at least one permission"))
    return Success(frozenset(Permission(p) for p in values))


class RoleNameTaken(Conflict):
    code = "role_name_taken"

    @property
    def detail(self) -> str:
        return "the clinic already has a role of that name"


class RoleInUse(Conflict):
    code = "role_in_use"

    @property
    def detail(self) -> str:
        return "members still hold this role: take it from them first"


class LastOwner(Conflict):
    code = "last_owner"

    @property
    def detail(self) -> str:
        return "the clinic's last owner cannot stop being one: make someone else owner first"


class PermissionEscalation(Forbidden):
    """Granting, or taking away, a permission one does not hold oneself."""

    code = "permission_escalation"

    @property
    def detail(self) -> str:
        return f"you cannot grant or withdraw permissions you do not hold: {self.permission}"


class OwnerOnly(Forbidden):
    code = "owner_only"

    @property
    def detail(self) -> str:
        return "only an owner can make someone an owner or stop them being one"


class ApiKeyNotAllowed(Forbidden):
    """A route that acts for a person (their profile, sessions, password) or mints credentials."""

    code = "api_key_not_allowed"

    @property
    def detail(self) -> str:
        return "this endpoint acts for a signed-in person; an API key cannot use it"


# --- API keys ----------------------------------------------------------------------------------------------


def new_key_prefix() -> str:
    """8 lowercase letters and digits: shown in lists, the key's public handle, never an underscore."""
    return "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(API_KEY_PREFIX_LENGTH))


def format_api_key(prefix: str, secret: str) -> str:
    return f"{API_KEY_PREFIX}_{prefix}_{secret}"


def key_prefix_of(key: str) -> str | None:
    """The prefix of a presented key, or None when it is not shaped like one of ours."""
    scheme, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if (
        scheme != API_KEY_PREFIX
        or len(prefix) != API_KEY_PREFIX_LENGTH
        or any(c not in _PREFIX_ALPHABET for c in prefix)
        or len(secret) < 32
        or len(key) > 256
    ):
        return None
    return prefix


def parse_cidrs(raw: Iterable[str]) -> Result[tuple[str, ...], InvalidInput]:
    """Networks in CIDR notation (a bare address is a /32 or /128), normalised: ``10.0.0.7/8`` is
    ``10.0.0.0/8``."""
    values = list(raw)
    if len(values) > API_KEY_MAX_CIDRS:
        return Failure(InvalidInput.of("allowed_cidrs", "too_many", f"at most {API_KEY_MAX_CIDRS} networks"))
    networks: list[str] = []
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return Failure(
                InvalidInput.of("allowed_cidrs", "invalid_cidr", "not a network such as 203.0.113.0/24")
            )
        if str(network) not in networks:
            networks.append(str(network))
    return Success(tuple(networks))


def ip_allowed(ip: str | None, cidrs: tuple[str, ...]) -> bool:
    """No allowlist: any address. Otherwise the address must be inside one of the networks; an unknown
    or unreadable address is outside all of them. An IPv4 address written as IPv6 (``::ffff:a.b.c.d``)
    counts as the IPv4 address."""
    if not cidrs:
        return True
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    networks = [ipaddress.ip_network(cidr) for cidr in cidrs]
    return any(a in n for a in candidates for n in networks if a.version == n.version)


@dataclass(eq=False, kw_only=True)
class ApiKey:
    """A credential for another system acting for a tenant, with the scopes it was given and no more.

    Only the SHA-256 of the whole key is stored; the prefix is stored in clear to find the key and to
    tell keys apart in lists.
    """

    tenant_id: TenantId
    id: ApiKeyId
    name: str
    prefix: str
    secret_hash: str
    scopes: frozenset[Permission]
    allowed_cidrs: tuple[str, ...]
    expires_at: datetime
    created_by: UserId
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def allows(self, ip: str | None) -> bool:
        return ip_allowed(ip, self.allowed_cidrs)

    def last_use_is_stale(self, now: datetime) -> bool:
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_GRANULARITY


class InvalidApiKey(Unauthenticated):
    """Unknown, malformed, revoked, expired, or used from outside its networks: one answer for all."""

    code = "invalid_api_key"

    @property
    def detail(self) -> str:
        return "the API key is invalid, expired, revoked or not allowed from this address"
