"""The catalog's repositories, one contract on three stores: the in-memory fakes, PostgreSQL (as the app role,
under row-level security) and SQLite. Round trips, Money in integer cents, the professional-procedure
relation written from either side, unique constraints, filters, keyset pages, reordering, and tenant
isolation; then what only the SQL schema enforces (composite keys into another tenant, check constraints)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.catalog.model import (
    Council,
    CouncilRegistration,
    Equipment,
    EquipmentId,
    ProcedureId,
    ProfessionalId,
)
from clinic_core.catalog.ports import ProcedurePosition, ProcedureQuery, ProfessionalQuery
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Money, Slug
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import (
    FakePasswordHasher,
    InMemoryUnitOfWorkFactory,
    a_category,
    a_procedure,
    a_professional,
    a_room,
)
from clinic_infra.db import catalog_tables as ct
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, unique_email

T1 = datetime(2026, 2, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["memory", "postgres", "sqlite"])
def uow(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        return InMemoryUnitOfWorkFactory()
    engine: AsyncEngine = request.getfixturevalue(
        "pg_app_engine" if request.param == "postgres" else "sqlite_engine"
    )
    return SqlUnitOfWorkFactory(engine)


async def clinic(uow: UnitOfWorkFactory, name: str = "Clínica Catálogo") -> SignedUp:
    command = SignUpCommand(
        tenant_name=name,
        unit_name="Centro",
        timezone="America/Sao_Paulo",
        owner_name="Ana Souza",
        email=unique_email("owner"),
        password=PASSWORD,
    )
    return (await SignUp(uow, FakePasswordHasher(), SystemClock())(command)).unwrap()


def scope(clinic: SignedUp) -> Scope:
    return Scope(tenant_id=clinic.tenant.id)


async def test_a_category_and_a_procedure_round_trip_with_the_price_in_cents(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    tenant = a.tenant.id
    category = a_category(tenant, "Estética facial", icon="spa", colour="#FFAA00", sort_order=3)
    procedure = a_procedure(
        tenant,
        "Peeling químico",
        minutes=45,
        price="199.99",
        description="Ácido glicólico 70%",
        category_id=category.id,
        buffer_before_minutes=5,
        buffer_after_minutes=15,
        room_type="procedure_room",
        sort_order=7,
    )
    async with uow(scope(a)) as tx:
        await tx.categories.add(category)
        await tx.procedures.add(procedure)
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        got_category = await tx.categories.get(category.id)
        got = await tx.procedures.get(procedure.id)
        by_slug = await tx.categories.get_by_slug(Slug("estetica-facial"))
    assert got_category is not None
    assert by_slug is not None
    assert by_slug.id == category.id
    assert (got_category.name, got_category.icon, got_category.colour, got_category.sort_order) == (
        "Estética facial",
        "spa",
        "#FFAA00",
        3,
    )
    assert got is not None
    assert got.price == Money(Decimal("199.99"))
    assert got.price.minor_units == 19999
    assert (got.duration_minutes, got.buffer_before_minutes, got.buffer_after_minutes) == (45, 5, 15)
    assert (got.category_id, got.room_type, got.sort_order, got.description) == (
        category.id,
        "procedure_room",
        7,
        "Ácido glicólico 70%",
    )
    assert got.blocked_minutes == 65
    assert got.active


async def test_prices_keep_their_currency_and_minor_units(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    clp = a_procedure(a.tenant.id, "Consulta CLP", minutes=30, price="0")
    clp.price = Money(Decimal("25000"), "CLP")
    usd = a_procedure(a.tenant.id, "Consult USD", minutes=30)
    usd.price = Money(Decimal("0.10"), "USD")
    async with uow(scope(a)) as tx:
        await tx.procedures.add(clp)
        await tx.procedures.add(usd)
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        found = await tx.procedures.get_many([clp.id, usd.id])
    assert found[clp.id].price == Money(Decimal(25000), "CLP")
    assert found[usd.id].price == Money(Decimal("0.10"), "USD")
    assert found[usd.id].price.minor_units == 10


async def test_who_performs_what_is_one_relation_written_from_either_side(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    tenant = a.tenant.id
    botox, laser, peel = (a_procedure(tenant, n) for n in ("Toxina botulínica", "Laser", "Peeling"))
    helena = a_professional(tenant, a.owner.id, "Dra. Helena", unit_ids=frozenset({a.unit.id}))
    async with uow(scope(a)) as tx:
        for procedure in (botox, laser, peel):
            await tx.procedures.add(procedure)
        helena.procedure_ids = frozenset({botox.id, laser.id})
        await tx.professionals.add(helena)
        await tx.commit()
    async with uow(scope(a)) as tx:
        got = await tx.procedures.get_many([botox.id, laser.id, peel.id])
        assert got[botox.id].professional_ids == {helena.id}
        assert got[peel.id].professional_ids == set()
        # The procedure's side: peel gains Helena, laser loses her; botox is untouched.
        peel_now, laser_now = got[peel.id], got[laser.id]
        peel_now.professional_ids = frozenset({helena.id})
        laser_now.professional_ids = frozenset()
        await tx.procedures.save(peel_now)
        await tx.procedures.save(laser_now)
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        pro = await tx.professionals.get(helena.id)
        by_user = await tx.professionals.get_by_user(a.owner.id)
        performed = await tx.procedures.list(ProcedureQuery(professional_id=helena.id))
    assert pro is not None
    assert pro.procedure_ids == {botox.id, peel.id}
    assert pro.unit_ids == {a.unit.id}
    assert by_user is not None
    assert by_user.id == helena.id
    assert {p.id for p in performed} == {botox.id, peel.id}


async def test_a_professional_round_trips_with_registration_and_specialties(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    registration = CouncilRegistration(Council.CRMV, "12345", "SP")
    vet = a_professional(
        a.tenant.id,
        a.owner.id,
        "Dr. Caio Lima",
        registration=registration,
        specialties=("Dermatologia", "Felinos"),
        active=False,
    )
    async with uow(scope(a)) as tx:
        await tx.professionals.add(vet)
        await tx.commit()
    async with uow(scope(a)) as tx:
        got = await tx.professionals.get(vet.id)
        assert got is not None
        assert (got.registration, got.specialties, got.active) == (
            registration,
            ("Dermatologia", "Felinos"),
            False,
        )
        got.registration = None
        got.active = True
        got.updated_at = T1
        await tx.professionals.save(got)
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        again = await tx.professionals.get(vet.id)
    assert again is not None
    assert again.registration is None
    assert again.active
    assert again.updated_at == T1


async def test_unique_values_are_unique_per_tenant_only(uow: UnitOfWorkFactory) -> None:
    a, b = await clinic(uow), await clinic(uow, "Outra Clínica")
    for tenant_clinic in (a, b):
        async with uow(scope(tenant_clinic)) as tx:
            await tx.categories.add(a_category(tenant_clinic.tenant.id, "Corporal"))
            await tx.rooms.add(a_room(tenant_clinic.tenant.id, tenant_clinic.unit.id, "Sala Laser"))
            await tx.professionals.add(
                a_professional(
                    tenant_clinic.tenant.id,
                    tenant_clinic.owner.id,
                    registration=CouncilRegistration(Council.CRM, "99999", "RJ"),
                )
            )
            await tx.commit()
    cases: list[tuple[str, Callable[[Any], Awaitable[None]]]] = [
        ("uq_categories_tenant_id_slug", lambda tx: tx.categories.add(a_category(a.tenant.id, "Corporal"))),
        (
            "uq_rooms_tenant_id_unit_id_name",
            lambda tx: tx.rooms.add(a_room(a.tenant.id, a.unit.id, "Sala Laser")),
        ),
        (
            "uq_professionals_tenant_id_user_id",
            lambda tx: tx.professionals.add(a_professional(a.tenant.id, a.owner.id, "Outro")),
        ),
    ]
    for constraint, write in cases:
        async with uow(scope(a)) as tx:
            with pytest.raises(UniqueViolation) as caught:
                await write(tx)
        assert caught.value.constraint == constraint


async def test_two_professionals_cannot_share_a_registration(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    registration = CouncilRegistration(Council.CRBM, "4321", "MG")
    second_user = await _another_member_user(uow, a)
    async with uow(scope(a)) as tx:
        await tx.professionals.add(a_professional(a.tenant.id, a.owner.id, registration=registration))
        await tx.commit()
    async with uow(scope(a)) as tx:
        with pytest.raises(UniqueViolation) as caught:
            await tx.professionals.add(a_professional(a.tenant.id, second_user, registration=registration))
    assert caught.value.constraint == "uq_professionals_tenant_id_registration"
    # Same number in another state, or in another council, is another registration.
    async with uow(scope(a)) as tx:
        await tx.professionals.add(
            a_professional(
                a.tenant.id, second_user, registration=CouncilRegistration(Council.CRBM, "4321", "SP")
            )
        )
        await tx.commit()


async def _another_member_user(uow: UnitOfWorkFactory, a: SignedUp) -> UserId:
    """A second user (the owner of another clinic: a user row is all a professional row points at)."""
    other = await clinic(uow, "Clínica Vizinha")
    return other.owner.id


async def test_another_tenants_catalog_is_invisible(uow: UnitOfWorkFactory) -> None:
    a, b = await clinic(uow), await clinic(uow, "Clínica B")
    category = a_category(a.tenant.id, "Capilar")
    procedure = a_procedure(a.tenant.id, "Intradermoterapia", category_id=category.id)
    pro = a_professional(a.tenant.id, a.owner.id, unit_ids=frozenset({a.unit.id}))
    room = a_room(a.tenant.id, a.unit.id)
    async with uow(scope(a)) as tx:
        await tx.categories.add(category)
        await tx.procedures.add(procedure)
        await tx.professionals.add(pro)
        await tx.rooms.add(room)
        await tx.commit()
    async with uow(scope(b)) as tx:
        assert await tx.categories.get(category.id) is None
        assert await tx.categories.get_by_slug(category.slug) is None
        assert await tx.procedures.get(procedure.id) is None
        assert await tx.procedures.get_many([procedure.id]) == {}
        assert await tx.professionals.get(pro.id) is None
        assert await tx.professionals.get_by_user(a.owner.id) is None
        assert await tx.rooms.get(room.id) is None
        assert await tx.categories.list() == []
        assert await tx.rooms.list() == []
        assert await tx.procedures.list(ProcedureQuery()) == []
        assert await tx.procedures.ordered_ids() == []
        assert await tx.procedures.next_sort_order() == 0
        assert (await tx.professionals.list(ProfessionalQuery(), PageRequest())).items == []
        # Saving another tenant's row by its id changes nothing.
        procedure.name = "Sequestrado"
        await tx.procedures.save(procedure)
        await tx.procedures.set_sort_orders({procedure.id: 99})
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        mine = await tx.procedures.get(procedure.id)
    assert mine is not None
    assert mine.name == "Intradermoterapia"
    assert mine.sort_order == 0


async def test_procedure_filters_order_and_keyset_pages(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    tenant = a.tenant.id
    face, body = a_category(tenant, "Face"), a_category(tenant, "Body")
    procedures = [
        a_procedure(
            tenant, f"P{i}", sort_order=order, category_id=(face if i % 2 else body).id, active=i != 3
        )
        for i, order in enumerate([5, 1, 1, 3, 0, 9])
    ]
    async with uow(scope(a)) as tx:
        await tx.categories.add(face)
        await tx.categories.add(body)
        for procedure in procedures:
            await tx.procedures.add(procedure)
        await tx.commit()
    expected = sorted(procedures, key=lambda p: (p.sort_order, p.id))
    async with uow(scope(a), read_only=True) as tx:
        everything = await tx.procedures.list(ProcedureQuery())
        pages: list[ProcedureId] = []
        after: ProcedurePosition | None = None
        while True:
            page = await tx.procedures.list(ProcedureQuery(after=after, limit=2))
            pages.extend(p.id for p in page)
            if len(page) < 2:
                break
            after = ProcedurePosition(page[-1].sort_order, page[-1].id)
        active_face = await tx.procedures.list(ProcedureQuery(active=True, category_id=face.id))
        ordered = await tx.procedures.ordered_ids()
        of_body = await tx.procedures.ordered_ids(body.id)
        next_order = await tx.procedures.next_sort_order()
    assert [p.id for p in everything] == [p.id for p in expected] == pages == ordered
    assert [p.id for p in active_face] == [p.id for p in expected if p.category_id == face.id and p.active]
    assert of_body == [p.id for p in expected if p.category_id == body.id]
    assert next_order == 10


async def test_set_sort_orders_rewrites_only_the_order(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    first, second = (
        a_procedure(a.tenant.id, "Um", sort_order=0),
        a_procedure(a.tenant.id, "Dois", sort_order=1),
    )
    async with uow(scope(a)) as tx:
        await tx.procedures.add(first)
        await tx.procedures.add(second)
        await tx.commit()
    async with uow(scope(a)) as tx:
        await tx.procedures.set_sort_orders({second.id: 0, first.id: 1})
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        assert await tx.procedures.ordered_ids() == [second.id, first.id]
        got = await tx.procedures.get(first.id)
    assert got is not None
    assert got.name == "Um"
    assert got.sort_order == 1


async def test_professional_filters_by_unit_procedures_and_activity(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    tenant = a.tenant.id
    users = [a.owner.id, *[await _another_member_user(uow, a) for _ in range(3)]]
    botox, laser = a_procedure(tenant, "Botox"), a_procedure(tenant, "Laser")
    pros = [
        a_professional(tenant, users[0], "A", unit_ids=frozenset({a.unit.id})),
        a_professional(tenant, users[1], "B", unit_ids=frozenset({a.unit.id})),
        a_professional(tenant, users[2], "C", unit_ids=frozenset(), active=False),
        a_professional(tenant, users[3], "D", unit_ids=frozenset({a.unit.id})),
    ]
    async with uow(scope(a)) as tx:
        await tx.procedures.add(botox)
        await tx.procedures.add(laser)
        pros[0].procedure_ids = frozenset({botox.id, laser.id})
        pros[1].procedure_ids = frozenset({botox.id})
        pros[2].procedure_ids = frozenset({botox.id, laser.id})
        for pro in pros:
            await tx.professionals.add(pro)
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        both = await tx.professionals.list(
            ProfessionalQuery(procedure_ids=frozenset({botox.id, laser.id})), PageRequest()
        )
        here = await tx.professionals.list(ProfessionalQuery(unit_id=a.unit.id, active=True), PageRequest())
        first = await tx.professionals.list(ProfessionalQuery(), PageRequest(limit=3))
        rest = await tx.professionals.list(ProfessionalQuery(), PageRequest(after=first.next_after, limit=3))
        many = await tx.professionals.get_many([pros[0].id, pros[3].id, ProfessionalId(new_uuid())])
    assert {p.id for p in both.items} == {pros[0].id, pros[2].id}
    assert {p.id for p in here.items} == {pros[0].id, pros[1].id, pros[3].id}
    assert len(first.items) == 3
    assert first.next_after is not None
    assert rest.next_after is None
    assert [p.id for p in first.items + rest.items] == sorted(p.id for p in pros)
    assert set(many) == {pros[0].id, pros[3].id}


async def test_rooms_and_equipment_list_by_unit_type_and_activity(uow: UnitOfWorkFactory) -> None:
    a = await clinic(uow)
    tenant, unit = a.tenant.id, a.unit.id
    laser_room = a_room(tenant, unit, "Sala Laser", "laser_room")
    consult = a_room(tenant, unit, "Consultório 1")
    closed = a_room(tenant, unit, "Consultório 2")
    closed.active = False
    device = Equipment(
        tenant_id=tenant,
        id=EquipmentId(new_uuid()),
        unit_id=unit,
        name="Laser Nd:YAG",
        type="laser",
        created_at=T1,
        updated_at=T1,
    )
    async with uow(scope(a)) as tx:
        for room in (laser_room, consult, closed):
            await tx.rooms.add(room)
        await tx.equipment.add(device)
        await tx.commit()
    async with uow(scope(a)) as tx:
        assert [r.name for r in await tx.rooms.list(unit)] == ["Consultório 1", "Consultório 2", "Sala Laser"]
        assert [r.id for r in await tx.rooms.list(unit, type="laser_room")] == [laser_room.id]
        assert [r.id for r in await tx.rooms.list(active=True, type="consulting_room")] == [consult.id]
        assert await tx.rooms.list(UnitId(new_uuid())) == []
        got = await tx.equipment.get(device.id)
        assert got is not None
        assert (got.name, got.type, got.unit_id) == ("Laser Nd:YAG", "laser", unit)
        got.active = False
        await tx.equipment.save(got)
        closed.active = True
        closed.name = "Consultório 2B"
        await tx.rooms.save(closed)
        await tx.commit()
    async with uow(scope(a), read_only=True) as tx:
        assert await tx.equipment.list(unit, active=True) == []
        reopened = await tx.rooms.get(closed.id)
    assert reopened is not None
    assert reopened.active
    assert reopened.name == "Consultório 2B"


# --- what only the SQL schema enforces -------------------------------------------------------------------


@pytest.fixture(params=["postgres", "sqlite"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    engine: AsyncEngine = request.getfixturevalue(
        "pg_app_engine" if request.param == "postgres" else "sqlite_engine"
    )
    return engine


async def test_rows_cannot_point_into_another_tenant(engine: AsyncEngine) -> None:
    """Composite foreign keys: another tenant's unit, category or procedure cannot be referenced, even by a
    write that passes row-level security (it is in the writer's own tenant)."""
    uow = SqlUnitOfWorkFactory(engine)
    a, b = await clinic(uow), await clinic(uow, "Clínica B")
    theirs = a_category(b.tenant.id, "Deles")
    their_procedure = a_procedure(b.tenant.id, "Deles")
    async with uow(scope(b)) as tx:
        await tx.categories.add(theirs)
        await tx.procedures.add(their_procedure)
        await tx.commit()
    mine = a_professional(a.tenant.id, a.owner.id)
    async with uow(scope(a)) as tx:
        await tx.professionals.add(mine)
        await tx.commit()
    attempts: list[Callable[[Any], Awaitable[None]]] = [
        lambda tx: tx.rooms.add(a_room(a.tenant.id, b.unit.id)),
        lambda tx: tx.procedures.add(a_procedure(a.tenant.id, "X", category_id=theirs.id)),
        lambda tx: tx.professionals.add(
            a_professional(a.tenant.id, b.owner.id, unit_ids=frozenset({b.unit.id}))
        ),
    ]
    for attempt in attempts:
        async with uow(scope(a)) as tx:
            with pytest.raises(IntegrityError):
                await attempt(tx)
    # The association table directly: a's professional performing b's procedure.
    performs_theirs = insert(ct.professional_procedures).values(
        tenant_id=a.tenant.id, professional_id=mine.id, procedure_id=their_procedure.id
    )
    async with uow(scope(a)) as tx:
        with pytest.raises(IntegrityError):
            await tx._db.execute(performs_theirs)


@pytest.mark.parametrize(
    ("column", "value"),
    [("duration_minutes", 7), ("duration_minutes", 725), ("buffer_after_minutes", 241), ("price_minor", -1)],
)
async def test_the_schema_refuses_what_the_domain_refuses(
    engine: AsyncEngine, column: str, value: int
) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    a = await clinic(uow)
    row = {
        "tenant_id": a.tenant.id,
        "id": new_uuid(),
        "name": "Direto",
        "duration_minutes": 30,
        "price_minor": 100,
        "currency": "BRL",
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "sort_order": 0,
        "created_at": T1,
        "updated_at": T1,
        column: value,
    }
    async with uow(scope(a)) as tx:
        with pytest.raises(IntegrityError):
            await tx._db.execute(insert(ct.procedures).values(row))


async def test_row_level_security_hides_the_catalog_without_a_tenant(pg_app_engine: AsyncEngine) -> None:
    uow = SqlUnitOfWorkFactory(pg_app_engine)
    a = await clinic(uow)
    async with uow(scope(a)) as tx:
        await tx.procedures.add(a_procedure(a.tenant.id, "Visível só aqui"))
        await tx.commit()
    async with uow(Scope(tenant_id=TenantId(new_uuid()))) as tx:
        rows = (await tx._db.execute(select(ct.procedures.c.id))).all()
    assert rows == []
