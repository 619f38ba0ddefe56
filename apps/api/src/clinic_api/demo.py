"""The demo data of the quickstart: two clinics, a franchise-like one with two units and a vet hospital.

Seeding goes through the same use cases as the API (sign-up, invitation, acceptance), so the demo data
obeys every rule real data does. It is idempotent: a second run finds the demo owner and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.access.roles import SetMemberRoles, SetMemberRolesCommand
from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.catalog.use_cases import (
    CategoryFields,
    CreateCategory,
    CreateProcedure,
    CreateProfessional,
    CreateRoom,
    PriceInput,
    ProcedureFields,
    ProfessionalFields,
    RegistrationInput,
    RoomFields,
)
from clinic_core.identity.ports import PasswordHasher
from clinic_core.shared.clock import Clock
from clinic_core.shared.values import Email
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    InviteMember,
    InviteMemberCommand,
)
from clinic_core.tenancy.model import Membership, Tenant
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    what: str


DEMO_LOGINS = (
    DemoLogin(
        "owner@demo.example.com",
        "demo-owner-password",
        "owner of Clínica Bella Pele; admin at the vet hospital",
    ),
    DemoLogin("reception@demo.example.com", "demo-reception-password", "receptionist, Centro unit only"),
    DemoLogin("vet@demo.example.com", "demo-vet-password", "owner of Hospital Veterinário Demo"),
)
OWNER, RECEPTION, VET = DEMO_LOGINS


def _actor(signed: SignedUp) -> Actor:
    return _actor_of(signed.tenant, signed.membership)


def _actor_of(tenant: Tenant, membership: Membership) -> Actor:
    return Actor(
        user_id=membership.user_id, tenant_id=tenant.id, roles=membership.roles, unit_ids=membership.unit_ids
    )


async def seed_demo(uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> bool:
    """Create the demo clinics unless they exist. True when it created them."""
    async with uow(Scope()) as probe:
        if await probe.users.get_by_email(Email(OWNER.email)) is not None:
            return False

    sign_up, invite, accept = (
        SignUp(uow, hasher, clock),
        InviteMember(uow, clock),
        AcceptInvitation(uow, hasher, clock),
    )
    bella = (
        await sign_up(
            SignUpCommand(
                tenant_name="Clínica Bella Pele",
                unit_name="Centro",
                timezone="America/Sao_Paulo",
                owner_name="Beatriz Almeida",
                email=OWNER.email,
                password=OWNER.password,
            )
        )
    ).unwrap()
    await CreateUnit(uow, clock)(
        CreateUnitCommand(
            actor=_actor(bella), name="Boa Viagem", timezone="America/Recife", phone="+55 81 3222-1000"
        )
    )
    reception = (
        await invite(
            InviteMemberCommand(
                actor=_actor(bella),
                email=RECEPTION.email,
                roles=frozenset({"receptionist"}),
                unit_ids=frozenset({bella.unit.id}),
            )
        )
    ).unwrap()
    (
        await accept(
            AcceptInvitationCommand(token=reception.token, password=RECEPTION.password, name="Rafael Costa")
        )
    ).unwrap()

    vet = (
        await sign_up(
            SignUpCommand(
                tenant_name="Hospital Veterinário Demo",
                unit_name="Pinheiros",
                timezone="America/Sao_Paulo",
                owner_name="Dra. Helena Prado",
                email=VET.email,
                password=VET.password,
            )
        )
    ).unwrap()
    owner_at_vet = (
        await invite(InviteMemberCommand(actor=_actor(vet), email=OWNER.email, roles=frozenset({"admin"})))
    ).unwrap()
    (await accept(AcceptInvitationCommand(token=owner_at_vet.token, signed_in_as=bella.owner.id))).unwrap()
    await _seed_bella_catalog(uow, clock, bella)
    # Demo addresses receive no mail: their accounts count as verified, or the demo clinics would hold
    # back patient data from them (clinics withhold it from unverified emails by default).
    async with uow(Scope()) as verifying:
        for login in DEMO_LOGINS:
            user = await verifying.users.get_by_email(Email(login.email))
            if user is not None and user.email_verified_at is None:
                user.email_verified_at = clock.now()
                await verifying.users.save(user)
        await verifying.commit()
    return True


async def _seed_bella_catalog(uow: UnitOfWorkFactory, clock: Clock, bella: SignedUp) -> None:
    """Bella Pele's catalog: two categories, four procedures, two rooms at Centro, and its owner (who is
    also the clinic's dermatologist) as a professional who performs them all."""
    owner = _actor(bella)
    (
        await SetMemberRoles(uow, clock)(
            SetMemberRolesCommand(
                actor=owner, membership_id=bella.membership.id, roles=frozenset({"owner", "professional"})
            )
        )
    ).unwrap()
    facial = (
        await CreateCategory(uow, clock)(
            owner, CategoryFields(name="Estética facial", icon="spa", colour="#E91E63")
        )
    ).unwrap()
    body = (
        await CreateCategory(uow, clock)(
            owner, CategoryFields(name="Corporal", icon="body", colour="#3F51B5")
        )
    ).unwrap()
    procedures = [
        ProcedureFields(
            name="Limpeza de pele",
            description="Higienização profunda, extração e máscara calmante.",
            category_id=facial.id,
            duration_minutes=60,
            price=PriceInput("180.00"),
            buffer_after_minutes=15,
            room_type="consulting_room",
        ),
        ProcedureFields(
            name="Toxina botulínica",
            category_id=facial.id,
            duration_minutes=30,
            price=PriceInput("1200.00"),
            buffer_before_minutes=10,
        ),
        ProcedureFields(
            name="Drenagem linfática",
            category_id=body.id,
            duration_minutes=50,
            price=PriceInput("150.00"),
            buffer_after_minutes=10,
        ),
        ProcedureFields(
            name="Depilação a laser",
            category_id=body.id,
            duration_minutes=30,
            price=PriceInput("220.00"),
            buffer_after_minutes=10,
            room_type="laser_room",
        ),
    ]
    ids = [(await CreateProcedure(uow, clock)(owner, fields)).unwrap().id for fields in procedures]
    for name, kind in (("Sala 1", "consulting_room"), ("Sala Laser", "laser_room")):
        (await CreateRoom(uow, clock)(owner, bella.unit.id, RoomFields(name=name, type=kind))).unwrap()
    (
        await CreateProfessional(uow, clock)(
            owner,
            ProfessionalFields(
                user_id=bella.owner.id,
                display_name="Dra. Beatriz Almeida",
                registration=RegistrationInput("CRM", "123456", "SP"),
                specialties=["Dermatologia"],
                procedure_ids=ids,
                unit_ids=[bella.unit.id],
            ),
        )
    ).unwrap()
