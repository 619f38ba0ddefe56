"""CheckSession: whether the session behind an access token still stands, and with which roles and units.

An access token is self-contained for its fifteen minutes; these are the events that must stop it earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.model import DEFAULT_SESSION_POLICY, RefreshTokenReused, TokenPair
from clinic_core.identity.sessions import (
    CheckSession,
    LogIn,
    LogInCommand,
    LogOut,
    RefreshCommand,
    RefreshSession,
    SessionStanding,
    SwitchTenant,
    SwitchTenantCommand,
)
from clinic_core.identity.verification import PATIENT_DATA
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import SessionId, TenantId, new_uuid
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    InviteMember,
    InviteMemberCommand,
)
from clinic_core.tenancy.model import Membership, Plan
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    InMemoryUnitOfWorkFactory,
    tokens_only,
)

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass
class Clinics:
    """Ana owns clinic A and is a professional in clinic B, which Bia owns."""

    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    issuer: FakeAccessTokenIssuer
    a: SignedUp
    b: SignedUp

    async def log_in(self, email: str = "ana@example.com", tenant: SignedUp | None = None) -> TokenPair:
        slug = tenant.tenant.slug.value if tenant else None
        login = tokens_only(LogIn(self.uow, FakePasswordHasher(), self.issuer, self.clock))
        return (await login(LogInCommand(email, PASSWORD, tenant_slug=slug))).unwrap()

    def actor_of(self, tokens: TokenPair) -> Actor:
        """The actor the HTTP host builds from the access token's claims."""
        claims = self.issuer.verify(tokens.access_token)
        assert claims is not None
        return Actor.from_claims(claims)

    def anas_membership_in(self, clinic: SignedUp) -> Membership:
        """The committed membership, edited in place where no use case changes it yet."""
        (found,) = (
            m
            for m in self.uow.store.tables.memberships.values()
            if (m.tenant_id, m.user_id) == (clinic.tenant.id, self.a.owner.id)
        )
        return found

    async def standing(self, tokens: TokenPair) -> SessionStanding:
        return await CheckSession(self.uow, self.clock)(self.actor_of(tokens))

    async def set_tenant_suspended(self, tenant_id: TenantId, suspended: bool) -> None:
        async with self.uow(Scope(tenant_id=tenant_id)) as uow:
            tenant = await uow.tenants.get(tenant_id)
            assert tenant is not None
            if suspended:
                tenant.suspend()
            else:
                tenant.reactivate()
            await uow.tenants.save(tenant)
            await uow.commit()


@pytest.fixture
async def clinics() -> Clinics:
    uow, clock, hasher = InMemoryUnitOfWorkFactory(), FixedClock(T0), FakePasswordHasher()
    sign_up = SignUp(uow, hasher, clock)
    a = (
        await sign_up(SignUpCommand("Clínica A", "Centro", "UTC", "Ana Souza", "ana@example.com", PASSWORD))
    ).unwrap()
    b = (
        await sign_up(SignUpCommand("Clínica B", "Centro", "UTC", "Bia Lima", "bia@example.com", PASSWORD))
    ).unwrap()
    bia = Actor(b.owner.id, b.tenant.id, frozenset({Role.OWNER}), frozenset())
    issued = (
        await InviteMember(uow, clock)(
            InviteMemberCommand(bia, "ana@example.com", frozenset({"professional"}), frozenset({b.unit.id}))
        )
    ).unwrap()
    accept = AcceptInvitation(uow, hasher, clock)
    (await accept(AcceptInvitationCommand(issued.token, signed_in_as=a.owner.id))).unwrap()
    return Clinics(uow, clock, FakeAccessTokenIssuer(clock), a, b)


async def test_a_fresh_session_stands_with_the_memberships_roles_and_units(clinics: Clinics) -> None:
    in_a = await clinics.standing(await clinics.log_in())
    # Ana has not verified her email: by default, clinics withhold patient data until she does.
    assert in_a == SessionStanding(
        active=True,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
        permissions=ROLE_PERMISSIONS[Role.OWNER],
        withheld=PATIENT_DATA,
        plan=Plan.TRIAL,
    )
    in_b = await clinics.standing(await clinics.log_in(tenant=clinics.b))
    assert in_b == SessionStanding(
        active=True,
        roles=frozenset({Role.PROFESSIONAL}),
        unit_ids=frozenset({clinics.b.unit.id}),
        permissions=ROLE_PERMISSIONS[Role.PROFESSIONAL],
        withheld=PATIENT_DATA,
        plan=Plan.TRIAL,
    )


async def test_a_refreshed_session_still_stands(clinics: Clinics) -> None:
    tokens = await clinics.log_in()
    clinics.clock.advance(timedelta(minutes=10))
    refreshed = (
        await RefreshSession(clinics.uow, clinics.issuer, clinics.clock)(RefreshCommand(tokens.refresh_token))
    ).unwrap()
    assert (await clinics.standing(tokens)).active
    assert (await clinics.standing(refreshed)).active


async def test_the_standing_carries_the_roles_and_units_as_they_are_now(clinics: Clinics) -> None:
    tokens = await clinics.log_in(tenant=clinics.b)
    membership = clinics.anas_membership_in(clinics.b)
    membership.roles, membership.unit_ids = frozenset({Role.MANAGER}), frozenset()

    standing = await clinics.standing(tokens)

    assert standing == SessionStanding(
        active=True,
        roles=frozenset({Role.MANAGER}),
        unit_ids=frozenset(),
        permissions=ROLE_PERMISSIONS[Role.MANAGER],
        withheld=PATIENT_DATA,
        plan=Plan.TRIAL,
    )
    assert clinics.actor_of(tokens).roles == {Role.PROFESSIONAL}  # what the token still claims


async def test_a_logged_out_session_does_not_stand(clinics: Clinics) -> None:
    tokens, other_device = await clinics.log_in(), await clinics.log_in()
    await LogOut(clinics.uow, clinics.clock)(RefreshCommand(tokens.refresh_token))
    assert await clinics.standing(tokens) == SessionStanding(active=False)
    assert (await clinics.standing(other_device)).active  # only that session ended


async def test_a_session_revoked_for_a_replayed_refresh_token_does_not_stand(clinics: Clinics) -> None:
    tokens = await clinics.log_in()
    refresh = RefreshSession(clinics.uow, clinics.issuer, clinics.clock)
    rotated = (await refresh(RefreshCommand(tokens.refresh_token))).unwrap()
    assert await refresh(RefreshCommand(tokens.refresh_token)) == Failure(RefreshTokenReused())
    assert await clinics.standing(tokens) == SessionStanding(active=False)
    assert await clinics.standing(rotated) == SessionStanding(active=False)


async def test_after_a_switch_only_the_new_tenants_tokens_stand(clinics: Clinics) -> None:
    in_a = await clinics.log_in()
    switch = SwitchTenant(clinics.uow, clinics.issuer, clinics.clock)
    in_b = (
        await switch(
            SwitchTenantCommand(clinics.actor_of(in_a), in_a.refresh_token, tenant_id=clinics.b.tenant.id)
        )
    ).unwrap()
    assert await clinics.standing(in_a) == SessionStanding(active=False)
    assert (await clinics.standing(in_b)).roles == {Role.PROFESSIONAL}


async def test_a_session_in_a_suspended_tenant_does_not_stand(clinics: Clinics) -> None:
    tokens = await clinics.log_in()
    await clinics.set_tenant_suspended(clinics.a.tenant.id, True)
    assert await clinics.standing(tokens) == SessionStanding(active=False)
    await clinics.set_tenant_suspended(clinics.a.tenant.id, False)
    assert (await clinics.standing(tokens)).active


async def test_a_session_whose_membership_is_gone_does_not_stand(clinics: Clinics) -> None:
    tokens = await clinics.log_in(tenant=clinics.b)
    del clinics.uow.store.tables.memberships[clinics.anas_membership_in(clinics.b).id]
    assert await clinics.standing(tokens) == SessionStanding(active=False)
    assert (await clinics.standing(await clinics.log_in(tenant=clinics.a))).active


async def test_a_session_past_its_absolute_lifetime_does_not_stand(clinics: Clinics) -> None:
    tokens = await clinics.log_in()
    actor = clinics.actor_of(tokens)  # read the claims before the access token itself expires
    clinics.clock.advance(DEFAULT_SESSION_POLICY.absolute_lifetime)
    assert await CheckSession(clinics.uow, clinics.clock)(actor) == SessionStanding(active=False)


async def test_claims_that_do_not_match_the_session_do_not_stand(clinics: Clinics) -> None:
    ana, bia = (
        clinics.actor_of(await clinics.log_in()),
        clinics.actor_of(await clinics.log_in("bia@example.com")),
    )
    check = CheckSession(clinics.uow, clinics.clock)
    forged = [
        Actor(ana.user_id, ana.tenant_id, ana.roles, ana.unit_ids, bia.session_id),  # another user's session
        Actor(ana.user_id, clinics.b.tenant.id, ana.roles, ana.unit_ids, ana.session_id),  # another tenant
        Actor(ana.user_id, ana.tenant_id, ana.roles, ana.unit_ids, SessionId(new_uuid())),  # no such session
        Actor(ana.user_id, ana.tenant_id, ana.roles, ana.unit_ids, None),  # no session at all
    ]
    for actor in forged:
        assert await check(actor) == SessionStanding(active=False), actor
