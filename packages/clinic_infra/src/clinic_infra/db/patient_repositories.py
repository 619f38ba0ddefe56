"""The SQL patient repository: the ``patients`` row, its identifiers and search terms, and weights."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, insert, or_, select, true, tuple_, update

from clinic_core.application.pagination import Page, PageRequest
from clinic_core.patients.model import (
    AccessAction,
    AccessId,
    Allergy,
    AllergySeverity,
    GuardianLink,
    GuardianRole,
    Identifier,
    Microchip,
    Patient,
    PatientAccess,
    PatientAddress,
    PatientId,
    PatientKind,
    PatientStatus,
    PatientWeight,
    Sex,
    Species,
    WeightId,
    tag_term,
)
from clinic_core.patients.search import INFIX_CANDIDATES, PatientQuery, SearchPage
from clinic_core.shared.ids import TenantId, UnitId, UserId
from clinic_core.shared.values import CPF, Email, PersonName, Phone
from clinic_infra.db import patient_tables as pt

if TYPE_CHECKING:
    from clinic_infra.db.unit_of_work import SqlSession

Row = Mapping[Any, Any]

_P = pt.patients
_BY_ID = select(_P).where(_P.c.tenant_id == bindparam("tenant_id"), _P.c.id == bindparam("id"))
_IDENTIFIERS_OF = select(pt.patient_identifiers).where(
    pt.patient_identifiers.c.tenant_id == bindparam("tenant_id"),
    pt.patient_identifiers.c.patient_id.in_(bindparam("ids", expanding=True)),
)


def _address(doc: Mapping[str, Any] | None) -> PatientAddress | None:
    return PatientAddress(**doc) if doc else None


def _address_document(address: PatientAddress | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "street": address.street,
        "number": address.number,
        "complement": address.complement,
        "district": address.district,
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
        "country": address.country,
    }


def _patient(row: Row, identifiers: list[Identifier]) -> Patient:
    return Patient(
        tenant_id=TenantId(row["tenant_id"]),
        id=PatientId(row["id"]),
        kind=PatientKind(row["kind"]),
        name=PersonName(row["name"]),
        social_name=PersonName(row["social_name"]) if row["social_name"] else None,
        sex=Sex(row["sex"]),
        birth_date=row["birth_date"],
        birth_date_estimated=bool(row["birth_date_estimated"]),
        phones=tuple(Phone(p) for p in row["phones"]),
        emails=tuple(Email(e) for e in row["emails"]),
        address=_address(row["address"]),
        allergies=tuple(
            Allergy(a["substance"], a.get("reaction"), AllergySeverity(a.get("severity", "unknown")))
            for a in row["allergies"]
        ),
        notes=row["notes"],
        status=PatientStatus(row["status"]),
        deceased_at=row["deceased_at"],
        tags=frozenset(row["tags"]),
        cpf=CPF(row["cpf"]) if row["cpf"] else None,
        identifiers=tuple(sorted(identifiers, key=lambda i: (i.system, i.value))),
        species=Species(row["species"]) if row["species"] else None,
        breed=row["breed"],
        coat=row["coat"],
        neutered=row["neutered"],
        microchip=Microchip(row["microchip"]) if row["microchip"] else None,
        unit_id=UnitId(row["unit_id"]) if row["unit_id"] else None,
        user_id=UserId(row["user_id"]) if row["user_id"] else None,
        anonymised_at=row["anonymised_at"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(patient: Patient) -> dict[str, Any]:
    """The row's columns but the keys and the version."""
    return {
        "kind": patient.kind.value,
        "name": patient.name.value,
        "social_name": patient.social_name.value if patient.social_name else None,
        "search_name": "" if patient.anonymised else patient.search_name,
        "sex": patient.sex.value,
        "birth_date": patient.birth_date,
        "birth_date_estimated": patient.birth_date_estimated,
        "phones": [p.value for p in patient.phones],
        "emails": [e.value for e in patient.emails],
        "address": _address_document(patient.address),
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction, "severity": a.severity.value}
            for a in patient.allergies
        ],
        "notes": patient.notes,
        "status": patient.status.value,
        "deceased_at": patient.deceased_at,
        "tags": sorted(patient.tags),
        "cpf": patient.cpf.value if patient.cpf else None,
        "species": patient.species.value if patient.species else None,
        "breed": patient.breed,
        "coat": patient.coat,
        "neutered": patient.neutered,
        "microchip": patient.microchip.value if patient.microchip else None,
        "unit_id": patient.unit_id,
        "user_id": patient.user_id,
        "anonymised_at": patient.anonymised_at,
        "created_at": patient.created_at,
        "updated_at": patient.updated_at,
    }


def patient_row(tenant_id: UUID, patient: Patient) -> dict[str, Any]:
    """The ``patients`` row the repository writes for ``patient`` (bulk loaders write the same)."""
    return {"tenant_id": tenant_id, "id": patient.id, "version": patient.version, **_values(patient)}


def identifier_rows(tenant_id: UUID, patient: Patient) -> list[dict[str, Any]]:
    """The ``patient_identifiers`` rows of ``patient``.

    Nothing of an anonymised patient's identity is stored where search looks: no identifiers, no terms
    (and ``search_name`` is empty), whatever the aggregate holds."""
    if patient.anonymised:
        return []
    return [
        {"tenant_id": tenant_id, "patient_id": patient.id, "system": i.system, "value": i.value}
        for i in patient.identifiers
    ]


def search_term_rows(tenant_id: UUID, patient: Patient) -> list[dict[str, Any]]:
    """The ``patient_search_terms`` rows of ``patient``: one per search key (none once anonymised)."""
    if patient.anonymised:
        return []
    return [
        {"tenant_id": tenant_id, "term": term, "patient_id": patient.id}
        for term in sorted(patient.search_terms())
    ]


def _weight(row: Row) -> PatientWeight:
    return PatientWeight(
        tenant_id=TenantId(row["tenant_id"]),
        id=WeightId(row["id"]),
        patient_id=PatientId(row["patient_id"]),
        kg=Decimal(row["kg"]),
        measured_at=row["measured_at"],
        recorded_by=UserId(row["recorded_by"]) if row["recorded_by"] else None,
        created_at=row["created_at"],
    )


_TOP = "\U0010ffff"
"""The last code point: every string that begins with ``w`` sorts in ``[w, w + _TOP)``."""


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlPatientRepository:
    def __init__(self, db: SqlSession, *, postgres: bool) -> None:
        self._db = db
        self._postgres = postgres

    async def _rows(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[Row]:
        return list((await self._db.execute(statement, params)).mappings())

    async def _load(self, rows: list[Row]) -> list[Patient]:
        """Patients of ``rows`` with their identifiers (one query for all), seen by the unit of work."""
        if not rows:
            return []
        identifiers: dict[UUID, list[Identifier]] = {}
        for row in await self._rows(
            _IDENTIFIERS_OF, {"tenant_id": self._db.tenant_id(), "ids": [r["id"] for r in rows]}
        ):
            identifiers.setdefault(row["patient_id"], []).append(Identifier(row["system"], row["value"]))
        patients = [_patient(row, identifiers.get(row["id"], [])) for row in rows]
        self._db.saw(*patients)
        return patients

    async def _first(self, condition: Any) -> Patient | None:
        rows = await self._rows(select(_P).where(_P.c.tenant_id == self._db.tenant_id(), condition).limit(1))
        found = await self._load(rows)
        return found[0] if found else None

    async def add(self, patient: Patient) -> None:
        tenant_id = self._db.tenant_id()
        await self._db.execute(insert(_P).values(patient_row(tenant_id, patient)))
        await self._write_children(patient, tenant_id)
        self._db.saw(patient)

    async def _write_children(self, patient: Patient, tenant_id: UUID) -> None:
        identifiers = identifier_rows(tenant_id, patient)
        if identifiers:
            await self._db.execute(insert(pt.patient_identifiers), identifiers)
        terms = search_term_rows(tenant_id, patient)
        if terms:
            await self._db.execute(insert(pt.patient_search_terms), terms)

    async def get(self, patient_id: PatientId) -> Patient | None:
        found = await self._load(
            await self._rows(_BY_ID, {"tenant_id": self._db.tenant_id(), "id": patient_id})
        )
        return found[0] if found else None

    async def get_many(self, patient_ids: frozenset[PatientId]) -> dict[PatientId, Patient]:
        if not patient_ids:
            return {}
        rows = await self._rows(
            select(_P).where(_P.c.tenant_id == self._db.tenant_id(), _P.c.id.in_(sorted(patient_ids)))
        )
        return {p.id: p for p in await self._load(rows)}

    async def save(self, patient: Patient, expected_version: int | None = None) -> bool:
        tenant_id = self._db.tenant_id()
        expected = patient.version if expected_version is None else expected_version
        written = await self._db.execute(
            update(_P)
            .where(_P.c.tenant_id == tenant_id, _P.c.id == patient.id, _P.c.version == expected)
            .values(version=expected + 1, **_values(patient))
        )
        if written.rowcount != 1:
            return False
        # Identifiers and terms are few: rewritten whole rather than diffed.
        for table in (pt.patient_identifiers, pt.patient_search_terms):
            await self._db.execute(
                delete(table).where(table.c.tenant_id == tenant_id, table.c.patient_id == patient.id)
            )
        await self._write_children(patient, tenant_id)
        patient.version = expected + 1
        self._db.saw(patient)
        return True

    async def find_by_identifier(self, system: str, value: str) -> Patient | None:
        # Two point look-ups (the identifier's unique index, then the patient's key) rather than one
        # semi-join, which PostgreSQL planned as a scan of the clinic's patients while a bulk import
        # outran the table's statistics (290 ms a call at 1,000 patients).
        i = pt.patient_identifiers
        rows = await self._rows(
            select(i.c.patient_id).where(
                i.c.tenant_id == self._db.tenant_id(), i.c.system == system, i.c.value == value
            )
        )
        return await self.get(PatientId(rows[0]["patient_id"])) if rows else None

    async def find_by_cpf(self, cpf: CPF) -> Patient | None:
        return await self._first(_P.c.cpf == cpf.value)

    async def find_by_microchip(self, microchip: Microchip) -> Patient | None:
        return await self._first(_P.c.microchip == microchip.value)

    async def find_by_user(self, user_id: UserId) -> Patient | None:
        return await self._first(_P.c.user_id == user_id)

    def _with_term(self, tenant_id: UUID, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        st = pt.patient_search_terms
        return _P.c.id.in_(select(st.c.patient_id).where(st.c.tenant_id == tenant_id, condition))

    def _conditions(self, query: PatientQuery, tenant_id: UUID) -> list[ColumnElement[bool]]:
        st = pt.patient_search_terms
        conditions: list[ColumnElement[bool]] = [_P.c.tenant_id == tenant_id]
        # Each word is a range on the (tenant_id, term) key: "=" and "<", ">=" on text are leakproof, so
        # the index serves them under row-level security, where LIKE would make a scan.
        text: ColumnElement[bool] | None = None
        if query.words:
            text = and_(
                *(
                    self._with_term(tenant_id, and_(st.c.term >= word, st.c.term < word + _TOP))
                    for word in query.words
                )
            )
        if query.infix:
            infix: ColumnElement[bool]
            if self._postgres:
                found = select(func.clinic_patient_infix_search(query.infix, INFIX_CANDIDATES))
                infix = _P.c.id.in_(found.scalar_subquery())
            else:
                pattern = "%" + "%".join(_like_escaped(w) for w in query.infix.split()) + "%"
                infix = _P.c.search_name.like(pattern, escape="\\")
            text = infix if text is None else or_(text, infix)
        if text is not None:
            conditions.append(text)
        if query.cpf is not None:
            conditions.append(_P.c.cpf == query.cpf.value)
        if query.phone_digits:
            conditions.append(
                self._with_term(tenant_id, st.c.term.in_(sorted("+" + d for d in query.phone_digits)))
            )
        if query.microchip is not None:
            conditions.append(_P.c.microchip == query.microchip.value)
        if query.identifier is not None:
            i = pt.patient_identifiers
            conditions.append(
                _P.c.id.in_(
                    select(i.c.patient_id).where(
                        i.c.tenant_id == tenant_id,
                        i.c.system == query.identifier.system,
                        i.c.value == query.identifier.value,
                    )
                )
            )
        if query.kind is not None:
            conditions.append(_P.c.kind == query.kind.value)
        if query.species is not None:
            conditions.append(_P.c.species == query.species.value)
        if query.status is not None:
            conditions.append(_P.c.status == query.status.value)
        if query.tag is not None:
            conditions.append(self._with_term(tenant_id, st.c.term == tag_term(query.tag)[:100]))
        if query.unit_id is not None:
            conditions.append(_P.c.unit_id == query.unit_id)
        if query.visible_units is not None:
            conditions.append(or_(_P.c.unit_id.is_(None), _P.c.unit_id.in_(sorted(query.visible_units))))
        if query.patient_ids is not None:
            conditions.append(_P.c.id.in_(sorted(query.patient_ids)) if query.patient_ids else ~true())
        return conditions

    def search_statement(self, query: PatientQuery, page: SearchPage) -> Any:
        """The search's SELECT (exposed for EXPLAIN in tests)."""
        statement = select(_P).where(*self._conditions(query, self._db.tenant_id()))
        if page.after is not None:
            statement = statement.where(
                tuple_(_P.c.search_name, _P.c.id) > tuple_(page.after.search_name, page.after.id)
            )
        return statement.order_by(_P.c.search_name, _P.c.id).limit(page.limit + 1)

    async def search(self, query: PatientQuery, page: SearchPage) -> list[Patient]:
        return await self._load(await self._rows(self.search_statement(query, page)))

    async def add_weight(self, weight: PatientWeight) -> None:
        await self._db.execute(
            insert(pt.patient_weights).values(
                tenant_id=self._db.tenant_id(),
                id=weight.id,
                patient_id=weight.patient_id,
                kg=weight.kg,
                measured_at=weight.measured_at,
                recorded_by=weight.recorded_by,
                created_at=weight.created_at,
            )
        )

    async def weights(self, patient_id: PatientId, page: PageRequest) -> Page[PatientWeight]:
        w = pt.patient_weights
        tenant_id = self._db.tenant_id()
        query = select(w).where(w.c.tenant_id == tenant_id, w.c.patient_id == patient_id)
        if page.after is not None:
            anchor = (
                select(w.c.measured_at, w.c.id)
                .where(w.c.tenant_id == tenant_id, w.c.patient_id == patient_id, w.c.id == page.after)
                .subquery()
            )
            query = query.join(
                anchor, tuple_(w.c.measured_at, w.c.id) < tuple_(anchor.c.measured_at, anchor.c.id)
            )
        rows = await self._rows(query.order_by(w.c.measured_at.desc(), w.c.id.desc()).limit(page.limit + 1))
        items = [_weight(r) for r in rows[: page.limit]]
        return Page(items, items[-1].id if len(rows) > page.limit and items else None)


# --- guardians -------------------------------------------------------------------------------------------


def _link(row: Row) -> GuardianLink:
    return GuardianLink(
        tenant_id=TenantId(row["tenant_id"]),
        patient_id=PatientId(row["patient_id"]),
        guardian_id=PatientId(row["guardian_id"]),
        role=GuardianRole(row["role"]),
        is_primary=bool(row["is_primary"]),
        created_at=row["created_at"],
    )


class SqlGuardianRepository:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def _links(self, condition: ColumnElement[bool], *order: Any) -> list[GuardianLink]:
        g = pt.guardian_links
        statement = select(g).where(g.c.tenant_id == self._db.tenant_id(), condition).order_by(*order)
        return [_link(row) for row in (await self._db.execute(statement)).mappings()]

    async def of_patient(self, patient_id: PatientId) -> list[GuardianLink]:
        g = pt.guardian_links
        return await self._links(
            g.c.patient_id == patient_id, g.c.is_primary.desc(), g.c.created_at, g.c.guardian_id
        )

    async def of_guardian(self, guardian_id: PatientId) -> list[GuardianLink]:
        g = pt.guardian_links
        return await self._links(g.c.guardian_id == guardian_id, g.c.created_at, g.c.patient_id)

    async def replace(self, patient_id: PatientId, links: list[GuardianLink]) -> None:
        g = pt.guardian_links
        tenant_id = self._db.tenant_id()
        await self._db.execute(delete(g).where(g.c.tenant_id == tenant_id, g.c.patient_id == patient_id))
        if links:
            await self._db.execute(
                insert(g),
                [
                    {
                        "tenant_id": tenant_id,
                        "patient_id": patient_id,
                        "guardian_id": link.guardian_id,
                        "role": link.role.value,
                        "is_primary": link.is_primary,
                        "created_at": link.created_at,
                    }
                    for link in links
                ],
            )

    async def remove_all(self, patient_id: PatientId) -> int:
        g = pt.guardian_links
        removed = await self._db.execute(
            delete(g).where(
                g.c.tenant_id == self._db.tenant_id(),
                or_(g.c.patient_id == patient_id, g.c.guardian_id == patient_id),
            )
        )
        return int(removed.rowcount)


# --- the access log --------------------------------------------------------------------------------------


def _access(row: Row) -> PatientAccess:
    return PatientAccess(
        tenant_id=TenantId(row["tenant_id"]),
        id=AccessId(row["id"]),
        patient_id=PatientId(row["patient_id"]),
        action=AccessAction(row["action"]),
        at=row["at"],
        actor_user_id=UserId(row["actor_user_id"]) if row["actor_user_id"] else None,
        actor_api_key_id=row["actor_api_key_id"],
        ip=row["ip"],
        user_agent=row["user_agent"],
        request_id=row["request_id"],
    )


class SqlPatientAccessLog:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def add(self, entries: list[PatientAccess]) -> None:
        if not entries:
            return
        tenant_id = self._db.tenant_id()
        await self._db.execute(
            insert(pt.patient_access_log),
            [
                {
                    "tenant_id": tenant_id,
                    "id": e.id,
                    "patient_id": e.patient_id,
                    "action": e.action.value,
                    "at": e.at,
                    "actor_user_id": e.actor_user_id,
                    "actor_api_key_id": e.actor_api_key_id,
                    "ip": e.ip,
                    "user_agent": e.user_agent,
                    "request_id": e.request_id,
                }
                for e in entries
            ],
        )

    async def page(self, patient_id: PatientId, page: PageRequest) -> Page[PatientAccess]:
        a = pt.patient_access_log
        statement = select(a).where(a.c.tenant_id == self._db.tenant_id(), a.c.patient_id == patient_id)
        if page.after is not None:
            statement = statement.where(a.c.id < page.after)
        rows = list(
            (await self._db.execute(statement.order_by(a.c.id.desc()).limit(page.limit + 1))).mappings()
        )
        items = [_access(r) for r in rows[: page.limit]]
        return Page(items, items[-1].id if len(rows) > page.limit and items else None)
