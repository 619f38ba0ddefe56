"""The demo data of the quickstart: two clinics, a franchise-like one with two units and a vet hospital.

Seeding goes through the same use cases as the API (sign-up, invitation, acceptance), so the demo data
obeys every rule real data does. It is idempotent: a second run finds the demo owner and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
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
