"""The HTTP controllers. Importing this package registers their routes in ``clinic_api.routing``."""

from clinic_api.controllers import (
    api_keys,
    devices,
    health,
    invitations,
    me,
    members,
    metrics,
    roles,
    sessions,
    signup,
    units,
    well_known,
)

__all__ = [
    "api_keys",
    "devices",
    "health",
    "invitations",
    "me",
    "members",
    "metrics",
    "roles",
    "sessions",
    "signup",
    "units",
    "well_known",
]
