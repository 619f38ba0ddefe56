"""Roles and permissions, units (create, get, list) and their tenant isolation, on the in-memory adapters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import MAX_LIMIT, Page, PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import TimeZone
from clinic_core.tenancy.model import Unit, UnitCreated
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Permission, Role, permissions_of
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.tenancy.units import AddressInput, CreateUnit, CreateUnitCommand, GetUnit, ListUnits
from clinic_core.testing import FakePasswordHasher, InMemoryUnitOfWorkFactory

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture
def uow() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


async def _sign_up(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock, email: str, tenant: str = "Clínica Bela"
) -> SignedUp:
    cmd = SignUpCommand(tenant, "Centro", "America/Sao_Paulo", "Ana Souza", email, PASSWORD)
    return (await SignUp(uow, FakePasswordHasher(), clock)(cmd)).unwrap()


def _actor(
    signed: SignedUp, *roles: Role, units: frozenset[UnitId] = frozenset(), user_id: UserId | None = None
) -> Actor:
    return Actor(
        user_id=user_id or signed.owner.id,
        tenant_id=signed.tenant.id,
        roles=frozenset(roles or {Role.OWNER}),
        unit_ids=units,
    )


async def _create_unit(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock, actor: Actor, name: str = "Filial"
) -> Unit:
    return (await CreateUnit(uow, clock)(CreateUnitCommand(actor, name, "America/Sao_Paulo"))).unwrap()


# --- permissions -----------------------------------------------------------------------------------------


def test_owner_has_every_permission_and_admin_all_but_tenant_write() -> None:
    assert permissions_of(frozenset({Role.OWNER})) == frozenset(Permission)
    assert permissions_of(frozenset({Role.ADMIN})) == frozenset(Permission) - {Permission.TENANT_WRITE}


def test_every_role_has_permissions() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert all(ROLE_PERMISSIONS[role] for role in Role)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.RECEPTIONIST, Permission.UNITS_READ, True),
        (Role.RECEPTIONIST, Permission.UNITS_WRITE, False),
        (Role.RECEPTIONIST, Permission.PATIENTS_WRITE, True),
        (Role.RECEPTIONIST, Permission.CLINICAL_READ, False),
        (Role.RECEPTIONIST, Permission.MEMBERS_WRITE, False),
        (Role.CLIENT, Permission.PATIENTS_READ, False),
        (Role.CLIENT, Permission.CLINICAL_READ, False),
        (Role.CLIENT, Permission.MEMBERS_READ, False),
        (Role.CLIENT, Permission.BILLING_READ, False),
        (Role.CLIENT, Permission.APPOINTMENTS_WRITE, True),
        (Role.PROFESSIONAL, Permission.CLINICAL_WRITE, True),
        (Role.PROFESSIONAL, Permission.UNITS_WRITE, False),
        (Role.MANAGER, Permission.MEMBERS_READ, True),
        (Role.MANAGER, Permission.MEMBERS_WRITE, False),
        (Role.MANAGER, Permission.CLINICAL_READ, False),
        (Role.ADMIN, Permission.TENANT_WRITE, False),
        (Role.ADMIN, Permission.MEMBERS_WRITE, True),
    ],
)
def test_role_permissions(role: Role, permission: Permission, allowed: bool) -> None:
    actor = Actor(UserId(new_uuid()), TenantId(new_uuid()), frozenset({role}), frozenset())
    assert (permission in actor.permissions) is allowed
    expected = Success(None) if allowed else Failure(Forbidden(permission=permission.value))
    assert actor.authorize(permission) == expected


def test_roles_combine_as_the_union_of_their_permissions() -> None:
    both = permissions_of(frozenset({Role.RECEPTIONIST, Role.NURSE}))
    assert both == ROLE_PERMISSIONS[Role.RECEPTIONIST] | ROLE_PERMISSIONS[Role.NURSE]
    assert permissions_of(frozenset()) == frozenset()


# --- CreateUnit ------------------------------------------------------------------------------------------


async def test_owner_creates_a_unit_with_normalised_fields(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    address = AddressInput(
        line1=" Rua Augusta, 1500 ",
        city=" São Paulo ",
        state="SP",
        postal_code=" 01304-001 ",
        country=" br ",
        line2="  ",
        district=" Consolação ",
    )
    cmd = CreateUnitCommand(
        _actor(signed), "  Unidade   Jardins ", "America/Sao_Paulo", "(11) 3456-7890", address
    )
    unit = (await CreateUnit(uow, clock)(cmd)).unwrap()

    assert unit.tenant_id == signed.tenant.id
    assert unit.name == "Unidade Jardins"
    assert unit.timezone == TimeZone("America/Sao_Paulo")
    assert unit.phone is not None
    assert unit.phone.value == "+551134567890"
    assert unit.address is not None
    assert (unit.address.line1, unit.address.city, unit.address.postal_code) == (
        "Rua Augusta, 1500",
        "São Paulo",
        "01304-001",
    )
    assert (unit.address.country, unit.address.line2, unit.address.district) == ("BR", None, "Consolação")
    assert unit.created_at == T0
    assert (await GetUnit(uow)(_actor(signed), unit.id)).unwrap().name == "Unidade Jardins"


async def test_an_empty_phone_is_no_phone(uow: InMemoryUnitOfWorkFactory, clock: FixedClock) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    cmd = CreateUnitCommand(_actor(signed), "Centro 2", "America/Sao_Paulo", phone="")
    assert (await CreateUnit(uow, clock)(cmd)).unwrap().phone is None


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.MANAGER, Role.PROFESSIONAL, Role.CLIENT])
async def test_only_unit_writers_create_units(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock, role: Role
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    outbox_before = len(uow.store.outbox)
    result = await CreateUnit(uow, clock)(
        CreateUnitCommand(_actor(signed, role), "Filial", "America/Sao_Paulo")
    )
    assert result == Failure(Forbidden(permission="units:write"))
    assert len(uow.store.tables.units) == 1
    assert len(uow.store.outbox) == outbox_before


async def test_a_unit_restricted_admin_cannot_add_units(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    admin = _actor(signed, Role.ADMIN, units=frozenset({signed.unit.id}))
    result = await CreateUnit(uow, clock)(CreateUnitCommand(admin, "Filial", "America/Sao_Paulo"))
    assert result == Failure(Forbidden(permission="units:write"))
    assert len(uow.store.tables.units) == 1


async def test_create_unit_reports_every_bad_field_and_writes_nothing(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    outbox_before = list(uow.store.outbox)
    cmd = CreateUnitCommand(
        _actor(signed),
        name=" X ",
        timezone="-03:00",
        phone="123",
        address=AddressInput(line1=" ", city="", state="  ", postal_code="", country="Brasil"),
    )
    result = await CreateUnit(uow, clock)(cmd)

    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    assert {(e.field, e.code) for e in error.errors} == {
        ("name", "invalid_length"),
        ("timezone", "invalid_timezone"),
        ("phone", "invalid_phone"),
        ("address.line1", "required"),
        ("address.city", "required"),
        ("address.state", "required"),
        ("address.postal_code", "required"),
        ("address.country", "invalid_country"),
    }
    assert len(uow.store.tables.units) == 1
    assert uow.store.outbox == outbox_before


@pytest.mark.parametrize("name", ["", "   ", "A", "A" * 121])
async def test_unit_name_length(uow: InMemoryUnitOfWorkFactory, clock: FixedClock, name: str) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    result = await CreateUnit(uow, clock)(CreateUnitCommand(_actor(signed), name, "America/Sao_Paulo"))
    assert result == Failure(InvalidInput.of("name", "invalid_length", "use 2 to 120 characters"))


# --- the outbox ------------------------------------------------------------------------------------------


async def test_unit_created_lands_in_the_outbox_with_the_commit(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    before = len(uow.store.outbox)
    unit = await _create_unit(uow, clock, _actor(signed))

    new = uow.store.outbox[before:]
    assert [(r.tenant_id, r.topic) for r in new] == [(signed.tenant.id, UnitCreated.topic)]
    assert new[0].payload == {
        "tenant_id": str(signed.tenant.id),
        "occurred_at": T0.isoformat(),
        "unit_id": str(unit.id),
    }
    # Published once: a later unit of work that reads the unit does not publish it again.
    assert isinstance(await GetUnit(uow)(_actor(signed), unit.id), Success)
    await _create_unit(uow, clock, _actor(signed), "Outra")
    assert len(uow.store.outbox) == before + 2


async def test_an_uncommitted_unit_of_work_writes_neither_rows_nor_events(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    before = list(uow.store.outbox)
    unit = Unit(
        tenant_id=signed.tenant.id,
        id=UnitId(new_uuid()),
        name="Fantasma",
        timezone=TimeZone("America/Sao_Paulo"),
        created_at=T0,
    )
    unit.events.append(UnitCreated(tenant_id=unit.tenant_id, occurred_at=T0, unit_id=unit.id))
    async with uow(Scope(tenant_id=signed.tenant.id)) as work:
        await work.units.add(unit)
        assert await work.units.get(unit.id) is unit  # visible inside its own transaction
    assert unit.id not in uow.store.tables.units
    assert uow.store.outbox == before
    assert await GetUnit(uow)(_actor(signed), unit.id) == Failure(NotFound("unit", str(unit.id)))


# --- GetUnit and ListUnits: isolation --------------------------------------------------------------------


async def test_another_tenants_unit_is_not_found(uow: InMemoryUnitOfWorkFactory, clock: FixedClock) -> None:
    a = await _sign_up(uow, clock, "ana@example.com", "Clínica A")
    b = await _sign_up(uow, clock, "bia@example.com", "Clínica B")

    result = await GetUnit(uow)(_actor(b), a.unit.id)
    assert result == Failure(NotFound("unit", str(a.unit.id)))
    assert a.unit.name not in result.failure().detail
    listed = (await ListUnits(uow)(_actor(b), PageRequest())).unwrap()
    assert [u.id for u in listed.items] == [b.unit.id]


async def test_an_unknown_unit_is_not_found(uow: InMemoryUnitOfWorkFactory, clock: FixedClock) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    unknown = UnitId(new_uuid())
    assert await GetUnit(uow)(_actor(signed), unknown) == Failure(NotFound("unit", str(unknown)))


async def test_a_unit_restricted_member_sees_only_their_units(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    unit_a = signed.unit
    unit_b = await _create_unit(uow, clock, _actor(signed), "Unidade B")
    member = _actor(signed, Role.RECEPTIONIST, units=frozenset({unit_a.id}), user_id=UserId(new_uuid()))

    assert (await GetUnit(uow)(member, unit_a.id)).unwrap().id == unit_a.id
    assert await GetUnit(uow)(member, unit_b.id) == Failure(NotFound("unit", str(unit_b.id)))
    page = (await ListUnits(uow)(member, PageRequest())).unwrap()
    assert [u.id for u in page.items] == [unit_a.id]
    assert page.next_cursor is None
    # The owner, unrestricted, sees both.
    everything = (await ListUnits(uow)(_actor(signed), PageRequest())).unwrap()
    assert {u.id for u in everything.items} == {unit_a.id, unit_b.id}


async def test_reading_units_needs_a_role(uow: InMemoryUnitOfWorkFactory, clock: FixedClock) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    nobody = Actor(UserId(new_uuid()), signed.tenant.id, frozenset(), frozenset())
    assert await GetUnit(uow)(nobody, signed.unit.id) == Failure(Forbidden(permission="units:read"))
    assert await ListUnits(uow)(nobody, PageRequest()) == Failure(Forbidden(permission="units:read"))
    client = _actor(signed, Role.CLIENT, user_id=UserId(new_uuid()))
    assert isinstance(await GetUnit(uow)(client, signed.unit.id), Success)


# --- ListUnits: pagination -------------------------------------------------------------------------------


async def _walk(uow: InMemoryUnitOfWorkFactory, actor: Actor, limit: int) -> list[Page[Unit]]:
    pages: list[Page[Unit]] = []
    cursor: str | None = None
    while True:
        request = PageRequest.parse(cursor, limit).unwrap()
        page = (await ListUnits(uow)(actor, request)).unwrap()
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor does not move"


async def test_cursor_pagination_walks_every_unit_once(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    await _sign_up(uow, clock, "bia@example.com", "Outra Clínica")  # its unit must never show up
    created = [signed.unit.id] + [
        (await _create_unit(uow, clock, _actor(signed), f"U{i}")).id for i in range(6)
    ]

    pages = await _walk(uow, _actor(signed), limit=3)

    assert [len(p.items) for p in pages] == [3, 3, 1]
    walked = [u.id for p in pages for u in p.items]
    assert walked == sorted(created)  # id order, each exactly once: no duplicates, no gaps
    assert all(u.tenant_id == signed.tenant.id for p in pages for u in p.items)


async def test_a_full_last_page_has_no_next_cursor(uow: InMemoryUnitOfWorkFactory, clock: FixedClock) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    for i in range(5):
        await _create_unit(uow, clock, _actor(signed), f"U{i}")
    pages = await _walk(uow, _actor(signed), limit=3)
    assert [len(p.items) for p in pages] == [3, 3]


async def test_units_created_during_a_walk_appear_at_its_end(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    for i in range(3):
        await _create_unit(uow, clock, _actor(signed), f"U{i}")
    first = (await ListUnits(uow)(_actor(signed), PageRequest(limit=2))).unwrap()
    late = await _create_unit(uow, clock, _actor(signed), "Late")
    rest = await ListUnits(uow)(_actor(signed), PageRequest.parse(first.next_cursor, 10).unwrap())
    seen = [u.id for u in first.items] + [u.id for u in rest.unwrap().items]
    assert len(seen) == len(set(seen)) == 5
    assert seen[-1] == late.id


async def test_pagination_of_a_restricted_member(uow: InMemoryUnitOfWorkFactory, clock: FixedClock) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    units = [(await _create_unit(uow, clock, _actor(signed), f"U{i}")).id for i in range(6)]
    mine = frozenset(units[::2])
    member = _actor(signed, Role.RECEPTIONIST, units=mine, user_id=UserId(new_uuid()))
    pages = await _walk(uow, member, limit=2)
    assert [u.id for p in pages for u in p.items] == sorted(mine)


@pytest.mark.parametrize("cursor", ["garbage", "%%%%", "é", "AAAA", "not-a-cursor-at-all!"])
def test_a_garbage_cursor_is_invalid_input(cursor: str) -> None:
    result = PageRequest.parse(cursor, 3)
    assert isinstance(result, Failure)
    assert [(e.field, e.code) for e in result.failure().errors] == [("cursor", "invalid_cursor")]


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_a_page_size_out_of_range_is_invalid_input(limit: int) -> None:
    result = PageRequest.parse(None, limit)
    assert isinstance(result, Failure)
    assert [(e.field, e.code) for e in result.failure().errors] == [("limit", "out_of_range")]


def test_a_cursor_round_trips() -> None:
    after = new_uuid()
    # Not Page[Unit](...): on Python 3.11 a subscripted frozen slots dataclass raises TypeError.
    page: Page[Unit] = Page([], after)
    cursor = page.next_cursor
    assert cursor is not None
    assert "=" not in cursor
    assert PageRequest.parse(cursor, 5) == Success(PageRequest(after, 5))
    assert PageRequest.parse("", None) == Success(PageRequest())


# --- sign-up slugs ---------------------------------------------------------------------------------------


async def test_clinics_with_the_same_name_get_numbered_slugs(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    slugs = [
        (await _sign_up(uow, clock, f"u{i}@example.com", "Clínica Bela")).tenant.slug.value for i in range(4)
    ]
    assert slugs == ["clinica-bela", "clinica-bela-2", "clinica-bela-3", "clinica-bela-4"]


async def test_clinics_with_the_same_long_name_get_distinct_slugs(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    # Long enough that the slug is cut at 63 characters and again to make room for the suffix.
    name = "Clínica de Estética Avançada e Dermatologia Integrada Doutora Maria Fernanda"
    slugs = [(await _sign_up(uow, clock, f"u{i}@example.com", name)).tenant.slug.value for i in range(4)]
    assert len(set(slugs)) == 4
    assert all(len(s) <= 63 for s in slugs)
    assert [s.rsplit("-", 1)[1] for s in slugs[1:]] == ["2", "3", "4"]


async def test_a_returned_entity_is_detached_from_the_store(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    # As with a database: changing an object after its transaction committed saves nothing.
    signed = await _sign_up(uow, clock, "ana@example.com")
    unit = await _create_unit(uow, clock, _actor(signed), "Original")
    unit.name = "Changed outside any unit of work"
    signed.tenant.suspend()

    assert (await GetUnit(uow)(_actor(signed), unit.id)).unwrap().name == "Original"
    assert uow.store.tables.tenants[signed.tenant.id].is_active


# --- control characters never reach storage (PostgreSQL refuses NUL in text and in jsonb) ----------------


@pytest.mark.parametrize("bad", ["Centro\x00", "Centro\x08Sul", "Centro\x1b[31m", "Centro\x9b"])
async def test_create_unit_refuses_control_characters(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock, bad: str
) -> None:
    signed = await _sign_up(uow, clock, "ana@example.com")
    address = AddressInput(line1=bad, city="São Paulo", state="SP", postal_code="01304-001", district=bad)
    result = await CreateUnit(uow, clock)(
        CreateUnitCommand(_actor(signed), bad, "America/Sao_Paulo", address=address)
    )
    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    assert {(e.field, e.code) for e in error.errors} == {
        ("name", "invalid_characters"),
        ("address.line1", "invalid_characters"),
        ("address.district", "invalid_characters"),
    }
    assert len(uow.store.tables.units) == 1


async def test_sign_up_refuses_control_characters_in_business_names(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    cmd = SignUpCommand(
        "Clínica\x00Bela", "Centro\x7f", "America/Sao_Paulo", "Ana Souza", "ana@example.com", PASSWORD
    )
    result = await SignUp(uow, FakePasswordHasher(), clock)(cmd)
    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    assert {(e.field, e.code) for e in error.errors} == {
        ("tenant_name", "invalid_characters"),
        ("unit_name", "invalid_characters"),
    }
    assert not uow.store.tables.tenants
