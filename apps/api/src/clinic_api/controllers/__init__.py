"""The HTTP controllers. Importing this package registers their routes in ``clinic_api.routing``."""

from clinic_api.controllers import (
    account_recovery,
    api_keys,
    audit,
    devices,
    health,
    invitations,
    me,
    members,
    metrics,
    mfa,
    roles,
    security_policy,
    sessions,
    signup,
    units,
    well_known,
)

__all__ = [
    "account_recovery",
    "api_keys",
    "audit",
    "devices",
    "health",
    "invitations",
    "me",
    "members",
    "metrics",
    "mfa",
    "roles",
    "security_policy",
    "sessions",
    "signup",
    "units",
    "well_known",
]
