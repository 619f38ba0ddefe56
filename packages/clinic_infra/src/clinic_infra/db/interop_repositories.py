"""SQL repositories of what imports need: external practitioners, and which patient holds an identifier."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from clinic_core.interop.imported import AdministrativeGender, ContactKind, ImportedAddress, ImportedContact
from clinic_core.interop.practitioners import ExternalPractitioner, ExternalPractitionerId
from clinic_core.patients.model import Identifier, PatientId
from clinic_core.shared.ids import TenantId
from clinic_infra.db.interop_tables import external_practitioners as xp
from clinic_infra.db.patient_tables import patient_identifiers
from clinic_infra.db.repositories import Row, _Repository


def _contacts(raw: list[dict[str, Any]]) -> tuple[ImportedContact, ...]:
    return tuple(ImportedContact(ContactKind(c["kind"]), c["value"], c.get("use")) for c in raw)


def _address(raw: dict[str, Any] | None) -> ImportedAddress | None:
    if raw is None:
        return None
    return ImportedAddress(**{**raw, "lines": tuple(raw.get("lines", ()))})


def _practitioner(row: Row) -> ExternalPractitioner:
    return ExternalPractitioner(
        tenant_id=TenantId(row["tenant_id"]),
        id=ExternalPractitionerId(row["id"]),
        npi=row["npi"],
        name=row["name"],
        prefix=row["prefix"],
        gender=AdministrativeGender(row["gender"]) if row["gender"] else None,
        contacts=_contacts(row["contacts"]),
        address=_address(row["address"]),
        source=row["source"],
        source_id=row["source_id"],
        raw=row["raw"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(p: ExternalPractitioner) -> dict[str, Any]:
    return {
        "name": p.name,
        "prefix": p.prefix,
        "gender": p.gender.value if p.gender else None,
        "contacts": [{"kind": c.kind.value, "value": c.value, "use": c.use} for c in p.contacts],
        "address": {**asdict(p.address), "lines": list(p.address.lines)} if p.address else None,
        "source": p.source,
        "source_id": p.source_id,
        "raw": p.raw,
        "updated_at": p.updated_at,
    }


class SqlExternalPractitionerRepository(_Repository):
    async def get_by_npi(self, npi: str) -> ExternalPractitioner | None:
        row = await self._row(select(xp).where(xp.c.tenant_id == self._db.tenant_id(), xp.c.npi == npi))
        return _practitioner(row) if row is not None else None

    async def add(self, practitioner: ExternalPractitioner) -> None:
        await self._db.execute(
            insert(xp).values(
                tenant_id=self._db.tenant_id(),
                id=practitioner.id,
                npi=practitioner.npi,
                created_at=practitioner.created_at,
                **_values(practitioner),
            )
        )

    async def save(self, practitioner: ExternalPractitioner) -> None:
        await self._db.execute(
            update(xp)
            .where(xp.c.tenant_id == self._db.tenant_id(), xp.c.id == practitioner.id)
            .values(_values(practitioner))
        )

    async def count(self) -> int:
        result = await self._db.execute(
            select(func.count()).select_from(xp).where(xp.c.tenant_id == self._db.tenant_id())
        )
        return int(result.scalar_one())


class SqlIdentifierHolders(_Repository):
    async def holders(self, identifiers: Collection[Identifier]) -> dict[Identifier, PatientId]:
        # The identifiers table alone, point look-ups on its unique (tenant, system, value) index: no join
        # for the planner to order badly while a bulk import outruns the table's statistics. The tenant is
        # repeated in each branch so that SQLite, too, reads each through that index (a MULTI-INDEX OR)
        # rather than every identifier of the tenant.
        if not identifiers:
            return {}
        i, tenant_id = patient_identifiers, self._db.tenant_id()
        rows = await self._rows(
            select(i.c.system, i.c.value, i.c.patient_id).where(
                or_(
                    *(
                        and_(i.c.tenant_id == tenant_id, i.c.system == x.system, i.c.value == x.value)
                        for x in identifiers
                    )
                )
            )
        )
        return {Identifier(r["system"], r["value"]): PatientId(r["patient_id"]) for r in rows}
