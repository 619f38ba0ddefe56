"""Catalog use cases on the in-memory fakes: permissions, validation, professionals who must be members
with the professional role, uniqueness as 409, reordering (404 for strangers, 422 for incomplete lists),
keyset pages, audit events, and the public catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction
from clinic_core.catalog.model import CategoryId, EquipmentId, Procedure, ProcedureId
from clinic_core.catalog.public import GetPublicCatalog
from clinic_core.catalog.use_cases import (
    CategoryFields,
    CreateCategory,
    CreateEquipment,
    CreateProcedure,
    CreateProfessional,
    CreateRoom,
    DuplicateCatalogEntry,
    EquipmentFields,
    GetEquipment,
    ListEquipment,
    ListProcedures,
    PriceInput,
    ProcedureFields,
    ProcedureListing,
    ProfessionalFields,
    RegistrationInput,
    ReorderProcedures,
    RoomFields,
    UpdateCategory,
    UpdateEquipment,
    UpdateProcedure,
    UpdateProfessional,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import MembershipId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Money
from clinic_core.tenancy.model import Membership
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher, InMemoryUnitOfWorkFactory

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    clinic: SignedUp

    @property
    def owner(self) -> Actor:
        return Actor(
            user_id=self.clinic.owner.id,
            tenant_id=self.clinic.tenant.id,
            roles=frozenset({Role.OWNER}),
            unit_ids=frozenset(),
        )

    def as_role(self, role: Role) -> Actor:
        return Actor(
            user_id=UserId(new_uuid()),
            tenant_id=self.clinic.tenant.id,
            roles=frozenset({role}),
            unit_ids=frozenset(),
        )

    async def member(self, *roles: Role) -> UserId:
        user_id = UserId(new_uuid())
        async with self.uow(Scope(tenant_id=self.clinic.tenant.id)) as tx:
            await tx.memberships.add(
                Membership(
                    tenant_id=self.clinic.tenant.id,
                    id=MembershipId(new_uuid()),
                    user_id=user_id,
                    roles=frozenset(roles),
                    unit_ids=frozenset(),
                    created_at=T0,
                )
            )
            await tx.commit()
        return user_id

    async def procedure(self, **fields: Any) -> Procedure:
        given = {"name": "Limpeza de pele", "duration_minutes": 60, "price": PriceInput("150"), **fields}
        result = await CreateProcedure(self.uow, self.clock)(self.owner, ProcedureFields(**given))
        assert isinstance(result, Success), result
        procedure: Procedure = result.unwrap()
        return procedure

    async def audit(self, action: AuditAction) -> int:
        events = self.uow.store.tables.audit_events.values()
        return sum(1 for e in events if e.action is action and e.tenant_id == self.clinic.tenant.id)


async def world(name: str = "Clínica Bela", uow: InMemoryUnitOfWorkFactory | None = None) -> World:
    uow = uow or InMemoryUnitOfWorkFactory()
    clock = FixedClock(T0)
    command = SignUpCommand(
        name,
        "Centro",
        "America/Sao_Paulo",
        "Ana Souza",
        f"{new_uuid().hex}@x.com",
        "correct horse battery staple",
    )
    clinic = (await SignUp(uow, FakePasswordHasher(), clock)(command)).unwrap()
    return World(uow, clock, clinic)


def _field_codes(result: object) -> set[tuple[str, str]]:
    assert isinstance(result, Failure), result
    failure = result.failure()
    assert isinstance(failure, InvalidInput), failure
    return {(e.field, e.code) for e in failure.errors}


async def test_a_procedure_is_created_with_exact_money_and_placed_last() -> None:
    w = await world()
    first = await w.procedure(name="Um")
    second = await w.procedure(name="Dois", price=PriceInput("19.905", "BRL"), buffer_after_minutes=15)
    assert second.price == Money(Decimal("19.90"))  # half-even to the cent
    assert (first.sort_order, second.sort_order) == (0, 1)
    assert second.blocked_minutes == 75
    assert await w.audit(AuditAction.PROCEDURE_CREATED) == 2


async def test_every_bad_procedure_field_is_reported_at_once() -> None:
    w = await world()
    result = await CreateProcedure(w.uow, w.clock)(
        w.owner,
        ProcedureFields(
            name=" ",
            duration_minutes=7,
            price=PriceInput("-1"),
            buffer_before_minutes=300,
            room_type="Sala Laser",
            category_id=new_uuid(),
            professional_ids=[new_uuid()],
        ),
    )
    assert _field_codes(result) == {
        ("name", "required"),
        ("duration_minutes", "invalid_duration"),
        ("price.amount", "negative_price"),
        ("buffer_before_minutes", "invalid_buffer"),
        ("room_type", "invalid_type"),
        ("category_id", "unknown_category"),
        ("professional_ids", "unknown_professional"),
    }
    missing = await CreateProcedure(w.uow, w.clock)(w.owner, ProcedureFields(name="X"))
    assert _field_codes(missing) == {("duration_minutes", "required"), ("price", "required")}


async def test_only_catalog_writers_change_it_and_every_staff_role_reads_it() -> None:
    w = await world()
    for role in (Role.RECEPTIONIST, Role.PROFESSIONAL, Role.NURSE, Role.CLIENT):
        refused = await CreateCategory(w.uow, w.clock)(w.as_role(role), CategoryFields(name="Facial"))
        assert isinstance(refused, Failure)
        assert isinstance(refused.failure(), Forbidden)
        listed = await ListProcedures(w.uow)(w.as_role(role), ProcedureListing())
        assert isinstance(listed, Success)
    made = await CreateCategory(w.uow, w.clock)(w.as_role(Role.MANAGER), CategoryFields(name="Facial"))
    assert isinstance(made, Success)


async def test_a_category_slug_is_unique_in_the_clinic_only() -> None:
    w = await world()
    other = await world("Outra", w.uow)
    made = await CreateCategory(w.uow, w.clock)(
        w.owner, CategoryFields(name="Estética Facial", colour="#ff0000")
    )
    assert made.unwrap().slug.value == "estetica-facial"
    assert made.unwrap().colour == "#FF0000"
    again = await CreateCategory(w.uow, w.clock)(
        w.owner, CategoryFields(name="Outra", slug="estetica-facial")
    )
    assert isinstance(again, Failure)
    duplicate = again.failure()
    assert isinstance(duplicate, DuplicateCatalogEntry)
    assert duplicate.field == "slug"
    elsewhere = await CreateCategory(other.uow, other.clock)(
        other.owner, CategoryFields(name="Estética Facial")
    )
    assert isinstance(elsewhere, Success)
    # Renaming with slug null makes a new slug from the new name.
    renamed = await UpdateCategory(w.uow, w.clock)(
        w.owner, made.unwrap().id, CategoryFields(name="Corporal", slug=None, colour=None)
    )
    assert (renamed.unwrap().slug.value, renamed.unwrap().colour) == ("corporal", None)


async def test_a_professional_must_be_a_member_holding_the_professional_role() -> None:
    w = await world()
    receptionist = await w.member(Role.RECEPTIONIST)
    stranger = UserId(new_uuid())
    create = CreateProfessional(w.uow, w.clock)
    assert _field_codes(await create(w.owner, ProfessionalFields(user_id=stranger))) == {
        ("user_id", "not_a_member")
    }
    assert _field_codes(await create(w.owner, ProfessionalFields(user_id=receptionist))) == {
        ("user_id", "not_a_professional")
    }
    doctor = await w.member(Role.PROFESSIONAL, Role.MANAGER)
    procedure = await w.procedure()
    made = await create(
        w.owner,
        ProfessionalFields(
            user_id=doctor,
            display_name="Dra. Helena",
            registration=RegistrationInput("crm", "123456", "sp"),
            specialties=["Dermatologia"],
            procedure_ids=[procedure.id],
            unit_ids=[w.clinic.unit.id],
        ),
    )
    professional = made.unwrap()
    assert str(professional.registration) == "CRM 123456/SP"
    twice = await create(w.owner, ProfessionalFields(user_id=doctor))
    assert isinstance(twice, Failure)
    assert isinstance(twice.failure(), DuplicateCatalogEntry)
    # The procedure's side sees the same relation.
    async with w.uow(Scope(tenant_id=w.clinic.tenant.id), read_only=True) as tx:
        stored = await tx.procedures.get(procedure.id)
    assert stored is not None
    assert stored.professional_ids == {professional.id}


async def test_a_professionals_units_must_be_the_clinics() -> None:
    w = await world()
    other = await world("Outra", w.uow)
    doctor = await w.member(Role.PROFESSIONAL)
    result = await CreateProfessional(w.uow, w.clock)(
        w.owner, ProfessionalFields(user_id=doctor, unit_ids=[other.clinic.unit.id])
    )
    assert _field_codes(result) == {("unit_ids", "unknown_unit")}
    made = await CreateProfessional(w.uow, w.clock)(w.owner, ProfessionalFields(user_id=doctor))
    assert made.unwrap().display_name  # the member's name by default
    changed = await UpdateProfessional(w.uow, w.clock)(
        w.owner, made.unwrap().id, ProfessionalFields(user_id=doctor)
    )
    assert _field_codes(changed) == {("user_id", "read_only")}
    from_elsewhere = await UpdateProfessional(other.uow, other.clock)(
        other.owner, made.unwrap().id, ProfessionalFields(active=False)
    )
    assert isinstance(from_elsewhere, Failure)
    assert isinstance(from_elsewhere.failure(), NotFound)


async def _order(w: World, category_id: CategoryId | None = None) -> list[ProcedureId]:
    async with w.uow(Scope(tenant_id=w.clinic.tenant.id), read_only=True) as tx:
        return await tx.procedures.ordered_ids(category_id)


async def test_reordering_takes_the_full_list_and_refuses_strangers_and_gaps() -> None:
    w = await world()
    other = await world("Outra", w.uow)
    made = [await w.procedure(name=n) for n in ("A", "B", "C")]
    theirs = await other.procedure(name="Deles")
    reorder = ReorderProcedures(w.uow, w.clock)
    wanted = [made[2].id, made[0].id, made[1].id]
    assert (await reorder(w.owner, wanted)).unwrap() == wanted
    assert await _order(w) == wanted
    stranger = await reorder(w.owner, [*wanted, theirs.id])
    assert isinstance(stranger, Failure)
    assert isinstance(stranger.failure(), NotFound)
    assert _field_codes(await reorder(w.owner, wanted[:2])) == {("procedure_ids", "incomplete_order")}
    assert _field_codes(await reorder(w.owner, [*wanted, wanted[0]])) == {("procedure_ids", "duplicate_id")}
    assert await _order(w) == wanted  # nothing changed by the refusals
    assert await w.audit(AuditAction.PROCEDURES_REORDERED) == 1


async def test_reordering_one_category_keeps_the_others_in_place() -> None:
    w = await world()
    face = (await CreateCategory(w.uow, w.clock)(w.owner, CategoryFields(name="Face"))).unwrap()
    body = (await CreateCategory(w.uow, w.clock)(w.owner, CategoryFields(name="Body"))).unwrap()
    f1 = await w.procedure(name="F1", category_id=face.id)
    b1 = await w.procedure(name="B1", category_id=body.id)
    f2 = await w.procedure(name="F2", category_id=face.id)
    b2 = await w.procedure(name="B2", category_id=body.id)
    result = await ReorderProcedures(w.uow, w.clock)(w.owner, [f2.id, f1.id], face.id)
    assert isinstance(result, Success)
    assert await _order(w) == [f2.id, b1.id, f1.id, b2.id]
    other_category = await ReorderProcedures(w.uow, w.clock)(w.owner, [f2.id, f1.id, b1.id], face.id)
    assert _field_codes(other_category) == {("procedure_ids", "incomplete_order")}
    unknown = await ReorderProcedures(w.uow, w.clock)(w.owner, [], CategoryId(new_uuid()))
    assert isinstance(unknown, Failure)
    assert isinstance(unknown.failure(), NotFound)


async def test_procedures_page_by_a_cursor_in_display_order() -> None:
    w = await world()
    made = [await w.procedure(name=f"P{i}", sort_order=s) for i, s in enumerate([3, 1, 1, 0, 2])]
    await UpdateProcedure(w.uow, w.clock)(w.owner, made[0].id, ProcedureFields(active=False))
    seen: list[UUID] = []
    cursor: str | None = None
    while True:
        page = (await ListProcedures(w.uow)(w.owner, ProcedureListing(cursor=cursor, limit=2))).unwrap()
        seen.extend(p.id for p in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [p.id for p in sorted(made, key=lambda p: (p.sort_order, p.id))]
    active = (await ListProcedures(w.uow)(w.owner, ProcedureListing(active=True))).unwrap()
    assert made[0].id not in {p.id for p in active.items}
    bad = await ListProcedures(w.uow)(w.owner, ProcedureListing(cursor="!!"))
    assert _field_codes(bad) == {("cursor", "invalid_cursor")}


async def test_rooms_belong_to_a_unit_of_the_clinic_with_unique_names() -> None:
    w = await world()
    other = await world("Outra", w.uow)
    create = CreateRoom(w.uow, w.clock)
    made = await create(w.owner, w.clinic.unit.id, RoomFields(name="Sala Laser", type="laser_room"))
    assert made.unwrap().type == "laser_room"
    twice = await create(w.owner, w.clinic.unit.id, RoomFields(name="Sala Laser", type="surgery"))
    assert isinstance(twice, Failure)
    assert isinstance(twice.failure(), DuplicateCatalogEntry)
    theirs = await create(w.owner, other.clinic.unit.id, RoomFields(name="Sala", type="kennel"))
    assert isinstance(theirs, Failure)
    assert isinstance(theirs.failure(), NotFound)
    restricted = Actor(
        user_id=w.clinic.owner.id,
        tenant_id=w.clinic.tenant.id,
        roles=frozenset({Role.MANAGER}),
        unit_ids=frozenset({UnitId(new_uuid())}),
    )
    outside = await create(restricted, w.clinic.unit.id, RoomFields(name="Sala 2", type="kennel"))
    assert isinstance(outside, Failure)
    assert isinstance(outside.failure(), NotFound)


async def test_equipment_belongs_to_a_unit_of_the_clinic_with_unique_names_and_is_audited() -> None:
    w = await world()
    other = await world("Outra", w.uow)
    create, update = CreateEquipment(w.uow, w.clock), UpdateEquipment(w.uow, w.clock)
    unit = w.clinic.unit.id
    laser = (await create(w.owner, unit, EquipmentFields(name="Laser Alexandrita", type="laser"))).unwrap()
    assert (laser.unit_id, laser.type, laser.active) == (unit, "laser", True)
    ultrasound = (await create(w.owner, unit, EquipmentFields(name="Ultrassom", type="ultrasound"))).unwrap()
    twice = await create(w.owner, unit, EquipmentFields(name="Laser Alexandrita", type="laser"))
    assert isinstance(twice, Failure)
    duplicate = twice.failure()
    assert isinstance(duplicate, DuplicateCatalogEntry)
    assert duplicate.field == "name"
    renamed = await update(w.owner, ultrasound.id, EquipmentFields(name="Laser Alexandrita"))
    assert isinstance(renamed.failure(), DuplicateCatalogEntry)
    assert _field_codes(await create(w.owner, unit, EquipmentFields(name="X"))) == {("type", "required")}
    assert _field_codes(await create(w.owner, unit, EquipmentFields(name="X", type="Laser!"))) == {
        ("type", "invalid_type")
    }
    refused = await create(w.as_role(Role.RECEPTIONIST), unit, EquipmentFields(name="Y", type="laser"))
    assert isinstance(refused.failure(), Forbidden)
    theirs = await create(w.owner, other.clinic.unit.id, EquipmentFields(name="Z", type="laser"))
    assert isinstance(theirs.failure(), NotFound)
    # Another clinic's owner sees none of it: get, update and list answer 404 / nothing.
    assert isinstance((await GetEquipment(w.uow)(other.owner, laser.id)).failure(), NotFound)
    stolen = await update(other.owner, laser.id, EquipmentFields(active=False))
    assert isinstance(stolen.failure(), NotFound)
    assert isinstance((await ListEquipment(w.uow)(other.owner, unit)).failure(), NotFound)
    missing = await GetEquipment(w.uow)(w.owner, EquipmentId(new_uuid()))
    assert isinstance(missing.failure(), NotFound)

    off = (await update(w.owner, laser.id, EquipmentFields(active=False))).unwrap()
    assert off.active is False
    assert (await GetEquipment(w.uow)(w.owner, laser.id)).unwrap().active is False
    listed = (await ListEquipment(w.uow)(w.owner, unit)).unwrap()
    assert [e.name for e in listed] == ["Laser Alexandrita", "Ultrassom"]
    assert [e.id for e in (await ListEquipment(w.uow)(w.owner, unit, active=True)).unwrap()] == [
        ultrasound.id
    ]
    assert [e.id for e in (await ListEquipment(w.uow)(w.owner, unit, type="laser")).unwrap()] == [laser.id]
    assert await w.audit(AuditAction.EQUIPMENT_CREATED) == 2
    assert await w.audit(AuditAction.EQUIPMENT_UPDATED) == 1
    assert await w.audit(AuditAction.ROOM_CREATED) == 0


async def test_the_public_catalog_shows_only_active_entries_and_no_internal_fields() -> None:
    w = await world()
    face = (await CreateCategory(w.uow, w.clock)(w.owner, CategoryFields(name="Face"))).unwrap()
    hidden = (
        await CreateCategory(w.uow, w.clock)(w.owner, CategoryFields(name="Oculta", active=False))
    ).unwrap()
    shown = await w.procedure(
        name="Peeling", category_id=face.id, buffer_after_minutes=10, room_type="laser_room"
    )
    under_hidden = await w.procedure(name="Sob oculta", category_id=hidden.id)
    await w.procedure(name="Inativo", active=False)
    catalog = (await GetPublicCatalog(w.uow)(w.clinic.tenant.slug.value)).unwrap()
    assert catalog.name == w.clinic.tenant.name
    assert [u.id for u in catalog.units] == [w.clinic.unit.id]
    assert [c.id for c in catalog.categories] == [face.id]
    assert [p.id for p in catalog.procedures] == [shown.id, under_hidden.id]
    assert catalog.procedures[1].category_id is None
    assert not hasattr(catalog.procedures[0], "buffer_after_minutes")
    assert not hasattr(catalog.procedures[0], "room_type")
    for slug in ("no-such-clinic", "NOT A SLUG", ""):
        missing = await GetPublicCatalog(w.uow)(slug)
        assert isinstance(missing, Failure)
        assert isinstance(missing.failure(), NotFound)
