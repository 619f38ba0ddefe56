"""The use cases over the SQL adapters: the same behaviour on PostgreSQL (as the app role) and SQLite."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.me import GetMe
from clinic_core.identity.model import InvalidRefreshToken, RefreshTokenReused
from clinic_core.identity.sessions import (
    LogIn,
    LogInCommand,
    RefreshCommand,
    RefreshSession,
    SwitchTenant,
    SwitchTenantCommand,
)
from clinic_core.shared.clock import FixedClock, SystemClock
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import UnitId
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    InviteMember,
    InviteMemberCommand,
    ListMembers,
)
from clinic_core.tenancy.signup import EmailAlreadyRegistered, SignedUp, SignUp, SignUpCommand
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand, GetUnit, ListUnits
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, sign_up, unique_email


def _owner(signed: SignedUp) -> Actor:
    return Actor(
        user_id=signed.owner.id,
        tenant_id=signed.tenant.id,
        roles=signed.membership.roles,
        unit_ids=frozenset(),
    )


async def test_login_refresh_rotation_and_reuse_detection(
    sql_uow: SqlUnitOfWorkFactory, issuer: FakeAccessTokenIssuer
) -> None:
    clinic = await sign_up(sql_uow)
    login = LogIn(sql_uow, FakePasswordHasher(), issuer, SystemClock())
    tokens = (
        await login(LogInCommand(clinic.owner.email.value, PASSWORD, user_agent="pytest", ip="127.0.0.1"))
    ).unwrap()
    assert issuer.decode(tokens.access_token)["tid"] == str(clinic.tenant.id)

    refresh = RefreshSession(sql_uow, issuer, SystemClock())
    second = (await refresh(RefreshCommand(tokens.refresh_token))).unwrap()
    third = (await refresh(RefreshCommand(second.refresh_token))).unwrap()
    assert len({tokens.refresh_token, second.refresh_token, third.refresh_token}) == 3

    assert isinstance((await refresh(RefreshCommand(second.refresh_token))).failure(), RefreshTokenReused)
    # The session is gone: even the newest token no longer works.
    assert isinstance((await refresh(RefreshCommand(third.refresh_token))).failure(), InvalidRefreshToken)


async def test_two_refreshes_racing_with_one_token_cannot_both_win(
    sql_uow: SqlUnitOfWorkFactory, issuer: FakeAccessTokenIssuer
) -> None:
    clinic = await sign_up(sql_uow)
    tokens = (
        await LogIn(sql_uow, FakePasswordHasher(), issuer, SystemClock())(
            LogInCommand(clinic.owner.email.value, PASSWORD)
        )
    ).unwrap()
    refresh = RefreshSession(sql_uow, issuer, SystemClock())
    results = await asyncio.gather(*(refresh(RefreshCommand(tokens.refresh_token)) for _ in range(6)))
    winners = [r for r in results if isinstance(r, Success)]
    assert len(winners) <= 1
    assert all(
        isinstance(r.failure(), RefreshTokenReused | InvalidRefreshToken)
        for r in results
        if isinstance(r, Failure)
    )
    for winner in winners:  # the replay revoked the session, so the winner's token is dead too
        assert isinstance(await refresh(RefreshCommand(winner.unwrap().refresh_token)), Failure)


async def test_concurrent_signups_with_one_email_create_one_account(sql_uow: SqlUnitOfWorkFactory) -> None:
    email = unique_email("race")
    signup = SignUp(sql_uow, FakePasswordHasher(), SystemClock())
    commands = [
        SignUpCommand(
            tenant_name=f"Clínica Corrida {i}",
            unit_name="Centro",
            timezone="America/Sao_Paulo",
            owner_name="Ana Souza",
            email=email,
            password=PASSWORD,
        )
        for i in range(5)
    ]
    results = await asyncio.gather(*(signup(c) for c in commands))
    assert sum(isinstance(r, Success) for r in results) == 1
    assert all(isinstance(r.failure(), EmailAlreadyRegistered) for r in results if isinstance(r, Failure))


async def test_tenants_with_one_name_get_distinct_slugs(sql_uow: SqlUnitOfWorkFactory) -> None:
    name = f"Clínica Homônima {unique_email()[:12]}"
    first, second = await sign_up(sql_uow, name), await sign_up(sql_uow, name)
    assert second.tenant.slug.value == first.tenant.slug.value + "-2"


async def test_another_tenants_unit_is_not_found(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic_a, clinic_b = await sign_up(sql_uow, "Clínica A"), await sign_up(sql_uow, "Clínica B")
    result = await GetUnit(sql_uow)(_owner(clinic_a), clinic_b.unit.id)
    assert result.failure() == NotFound("unit", str(clinic_b.unit.id))
    assert (await GetUnit(sql_uow)(_owner(clinic_a), clinic_a.unit.id)).unwrap().name == "Centro"


async def test_units_paginate_in_order_without_gaps(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    owner = _owner(clinic)
    create = CreateUnit(sql_uow, SystemClock())
    for n in range(6):
        (
            await create(CreateUnitCommand(actor=owner, name=f"Unidade {n}", timezone="America/Manaus"))
        ).unwrap()
    seen: list[UnitId] = []
    page = PageRequest(limit=3)
    while True:
        result = (await ListUnits(sql_uow)(owner, page)).unwrap()
        seen += [u.id for u in result.items]
        if result.next_cursor is None:
            break
        page = PageRequest.parse(result.next_cursor, 3).unwrap()
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen)


async def test_invitation_accepted_once_restricts_to_its_unit(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    clock = FixedClock(SystemClock().now())
    invited = (
        await InviteMember(sql_uow, clock)(
            InviteMemberCommand(
                actor=_owner(clinic),
                email=unique_email("recep"),
                roles=frozenset({"receptionist"}),
                unit_ids=frozenset({clinic.unit.id}),
            )
        )
    ).unwrap()
    accept = AcceptInvitation(sql_uow, FakePasswordHasher(), clock)
    member = (await accept(AcceptInvitationCommand(invited.token, PASSWORD, "Rafael Costa"))).unwrap()
    assert member.membership.unit_ids == frozenset({clinic.unit.id})
    assert isinstance(await accept(AcceptInvitationCommand(invited.token, PASSWORD, "Rafael Costa")), Failure)

    members = (await ListMembers(sql_uow)(_owner(clinic), PageRequest())).unwrap()
    assert {m.user.name.value for m in members.items} == {"Ana Souza", "Rafael Costa"}
    async with sql_uow(Scope()) as uow:
        assert (await uow.users.get(member.user.id)) is not None

    expired = (
        await InviteMember(sql_uow, clock)(
            InviteMemberCommand(actor=_owner(clinic), email=unique_email("late"), roles=frozenset({"nurse"}))
        )
    ).unwrap()
    clock.advance(timedelta(days=8))
    assert isinstance(await accept(AcceptInvitationCommand(expired.token, PASSWORD, "Late Nurse")), Failure)


async def test_a_user_of_two_tenants_switches_between_them(
    sql_uow: SqlUnitOfWorkFactory, issuer: FakeAccessTokenIssuer
) -> None:
    clinic_a, clinic_b = await sign_up(sql_uow, "Clínica A"), await sign_up(sql_uow, "Clínica B")
    clock = SystemClock()
    invited = (
        await InviteMember(sql_uow, clock)(
            InviteMemberCommand(
                actor=_owner(clinic_b), email=clinic_a.owner.email.value, roles=frozenset({"admin"})
            )
        )
    ).unwrap()
    (
        await AcceptInvitation(sql_uow, FakePasswordHasher(), clock)(
            AcceptInvitationCommand(invited.token, PASSWORD)
        )
    ).unwrap()

    tokens = (
        await LogIn(sql_uow, FakePasswordHasher(), issuer, clock)(
            LogInCommand(clinic_a.owner.email.value, PASSWORD, tenant_slug=clinic_b.tenant.slug.value)
        )
    ).unwrap()
    claims = issuer.verify(tokens.access_token)
    assert claims is not None
    assert claims.tenant_id == clinic_b.tenant.id
    actor = Actor(
        user_id=claims.user_id,
        tenant_id=claims.tenant_id,
        roles=claims.roles,
        unit_ids=frozenset(),
        session_id=claims.session_id,
    )
    me = (await GetMe(sql_uow)(actor)).unwrap()
    assert {t.slug for t, _ in me.memberships} == {clinic_a.tenant.slug, clinic_b.tenant.slug}

    switched = (
        await SwitchTenant(sql_uow, issuer, clock)(
            SwitchTenantCommand(actor=actor, tenant_id=clinic_a.tenant.id)
        )
    ).unwrap()
    assert issuer.decode(switched.access_token)["tid"] == str(clinic_a.tenant.id)
    refresh = RefreshSession(sql_uow, issuer, clock)
    assert isinstance((await refresh(RefreshCommand(tokens.refresh_token))).failure(), RefreshTokenReused)
