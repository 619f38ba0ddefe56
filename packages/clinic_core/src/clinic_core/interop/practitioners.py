"""Practitioners known from other systems (say, a patient's general practitioner in a FHIR export).

They are not members of the clinic and sign in nowhere: a directory of who they are, kept as the source
described them, one per NPI in a tenant. Imports upsert them by NPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NewType, Protocol
from uuid import UUID

from clinic_core.interop.imported import AdministrativeGender, ImportedAddress, ImportedContact
from clinic_core.shared.ids import TenantId

ExternalPractitionerId = NewType("ExternalPractitionerId", UUID)
MAX_NPI = 20


def npi_problem(npi: str) -> str | None:
    """Why ``npi`` is not a US National Provider Identifier (10 digits, Luhn over ``80840`` + the first
    nine), or None. Imports keep such values as keys all the same, and warn."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return "an NPI has 10 digits"
    total = 0
    for position, char in enumerate(reversed("80840" + npi)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return None if total % 10 == 0 else "the NPI check digit does not match"


@dataclass(eq=False, kw_only=True)
class ExternalPractitioner:
    tenant_id: TenantId
    id: ExternalPractitionerId
    npi: str
    name: str
    """Given names then family name (``Randy Bergstrom``)."""
    prefix: str | None = None
    """Titles before the name, as the source wrote them (``Dr.``)."""
    gender: AdministrativeGender | None = None
    contacts: tuple[ImportedContact, ...] = ()
    address: ImportedAddress | None = None
    source: str
    """Where it was imported from (``synthea``, a FHIR server's label)."""
    source_id: str | None = None
    raw: str
    """The source's resource as JSON text, as last imported."""
    created_at: datetime
    updated_at: datetime

    def described(self) -> tuple[object, ...]:
        """What an import compares to tell an update from an unchanged record."""
        return (self.name, self.prefix, self.gender, self.contacts, self.address, self.source_id, self.raw)


class ExternalPractitionerRepository(Protocol):
    async def get_by_npi(self, npi: str) -> ExternalPractitioner | None: ...

    async def add(self, practitioner: ExternalPractitioner) -> None:
        """Raises ``UniqueViolation`` (``uq_external_practitioners_tenant_id_npi``) when the tenant has the
        NPI already."""
        ...

    async def save(self, practitioner: ExternalPractitioner) -> None: ...

    async def count(self) -> int: ...
