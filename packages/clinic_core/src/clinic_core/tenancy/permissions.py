"""The permission catalogue and what each built-in role may do.

Permissions are ``resource:action`` strings. Use cases check the one they need; the HTTP host never
decides access on its own.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    TENANT_READ = "tenant:read"
    TENANT_WRITE = "tenant:write"
    UNITS_READ = "units:read"
    UNITS_WRITE = "units:write"
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    PATIENTS_READ = "patients:read"
    PATIENTS_WRITE = "patients:write"
    PATIENTS_EXPORT = "patients:export"
    PATIENTS_ANONYMISE = "patients:anonymise"
    APPOINTMENTS_READ = "appointments:read"
    APPOINTMENTS_WRITE = "appointments:write"
    CLINICAL_READ = "clinical:read"
    CLINICAL_WRITE = "clinical:write"
    BILLING_READ = "billing:read"
    BILLING_WRITE = "billing:write"
    AUDIT_READ = "audit:read"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_WRITE = "api_keys:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    PROFESSIONAL = "professional"
    NURSE = "nurse"
    RECEPTIONIST = "receptionist"
    CLIENT = "client"


P = Permission
_ALL = frozenset(Permission)
_FRONT_DESK = frozenset(
    {
        P.TENANT_READ,
        P.UNITS_READ,
        P.CATALOG_READ,
        P.PATIENTS_READ,
        P.PATIENTS_WRITE,
        P.APPOINTMENTS_READ,
        P.APPOINTMENTS_WRITE,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL - {P.TENANT_WRITE},
    Role.MANAGER: _FRONT_DESK | {P.MEMBERS_READ, P.CATALOG_WRITE, P.BILLING_READ, P.BILLING_WRITE},
    Role.PROFESSIONAL: _FRONT_DESK | {P.CLINICAL_READ, P.CLINICAL_WRITE},
    Role.NURSE: _FRONT_DESK | {P.CLINICAL_READ, P.CLINICAL_WRITE},
    Role.RECEPTIONIST: _FRONT_DESK | {P.BILLING_READ},
    # A client (patient or guardian) reaches only their own records; use cases narrow further by ownership.
    Role.CLIENT: frozenset(
        {P.TENANT_READ, P.UNITS_READ, P.CATALOG_READ, P.APPOINTMENTS_READ, P.APPOINTMENTS_WRITE}
    ),
}

STAFF_ROLES = frozenset(Role) - {Role.CLIENT}


def permissions_of(roles: frozenset[Role]) -> frozenset[Permission]:
    granted: frozenset[Permission] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return granted
