"""What an import asks of storage beyond the patients' and practitioners' own repositories."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from clinic_core.patients.model import Identifier, PatientId


class IdentifierHolders(Protocol):
    async def holders(self, identifiers: Collection[Identifier]) -> dict[Identifier, PatientId]:
        """Which patient of the tenant holds each of ``identifiers``, in one look-up; an identifier nobody
        holds is absent. (Matching a record reads all of its identifiers at once, by the unique index.)"""
        ...
