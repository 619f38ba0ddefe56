"""The use cases over the SQL adapters: the same behaviour on PostgreSQL (as the app role) and SQLite."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.credentials import ChangePassword, ChangePasswordCommand
from clinic_core.identity.devices import ListMySessions, RevokeMyOtherSessions, RevokeMySession
from clinic_core.identity.me import GetMe
from clinic_core.identity.model import InvalidRefreshToken, RefreshTokenReused, TokenPair
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
from clinic_core.shared.clock import FixedClock, SystemClock
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import UnitId
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    GetMember,
    InviteMember,
    InviteMemberCommand,
    ListMembers,
    Member,
)
from clinic_core.tenancy.model import Membership, Plan
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Role
from clinic_core.tenancy.signup import EmailAlreadyRegistered, SignedUp, SignUp, SignUpCommand
from clinic_core.tenancy.units import CreateUnit, CreateUnitCommand, GetUnit, ListUnits
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher, tokens_only
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, sign_up, unique_email


def _actor_of(issuer: FakeAccessTokenIssuer, tokens: TokenPair) -> Actor:
    """The actor the HTTP host builds from the access token's claims."""
    claims = issuer.verify(tokens.access_token)
    assert claims is not None
    return Actor.from_claims(claims)


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
    login = tokens_only(LogIn(sql_uow, FakePasswordHasher(), issuer, SystemClock()))
    tokens = (
        await login(
            LogInCommand(
                clinic.owner.email.value,
                PASSWORD,
                context=RequestContext(ip="127.0.0.1", user_agent="pytest"),
            )
        )
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
        await tokens_only(LogIn(sql_uow, FakePasswordHasher(), issuer, SystemClock()))(
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
    joining = AcceptInvitationCommand(invited.token, password=PASSWORD, name="Rafael Costa")
    member = (await accept(joining)).unwrap()
    assert member.membership.unit_ids == frozenset({clinic.unit.id})
    assert isinstance(await accept(joining), Failure)

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
    late = AcceptInvitationCommand(expired.token, password=PASSWORD, name="Late Nurse")
    assert isinstance(await accept(late), Failure)


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
            AcceptInvitationCommand(invited.token, signed_in_as=clinic_a.owner.id)
        )
    ).unwrap()

    tokens = (
        await tokens_only(LogIn(sql_uow, FakePasswordHasher(), issuer, clock))(
            LogInCommand(clinic_a.owner.email.value, PASSWORD, tenant_slug=clinic_b.tenant.slug.value)
        )
    ).unwrap()
    claims = issuer.verify(tokens.access_token)
    assert claims is not None
    assert claims.tenant_id == clinic_b.tenant.id
    actor = Actor.from_claims(claims)
    me = (await GetMe(sql_uow)(actor)).unwrap()
    assert {t.slug for t, _ in me.memberships} == {clinic_a.tenant.slug, clinic_b.tenant.slug}

    switched = (
        await SwitchTenant(sql_uow, issuer, clock)(
            SwitchTenantCommand(actor=actor, refresh_token=tokens.refresh_token, tenant_id=clinic_a.tenant.id)
        )
    ).unwrap()
    assert issuer.decode(switched.access_token)["tid"] == str(clinic_a.tenant.id)
    check = CheckSession(sql_uow, clock)
    assert await check(actor) == SessionStanding(active=False)  # B's access token no longer stands
    assert await check(_actor_of(issuer, switched)) == SessionStanding(
        active=True,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
        permissions=ROLE_PERMISSIONS[Role.OWNER],
        withheld=PATIENT_DATA,
        plan=Plan.TRIAL,
    )
    refresh = RefreshSession(sql_uow, issuer, clock)
    assert isinstance((await refresh(RefreshCommand(tokens.refresh_token))).failure(), RefreshTokenReused)


async def test_a_logged_out_session_no_longer_stands(
    sql_uow: SqlUnitOfWorkFactory, issuer: FakeAccessTokenIssuer
) -> None:
    clinic = await sign_up(sql_uow)
    clock = SystemClock()
    log_in = tokens_only(LogIn(sql_uow, FakePasswordHasher(), issuer, clock))
    tokens = (await log_in(LogInCommand(clinic.owner.email.value, PASSWORD))).unwrap()
    other_device = (await log_in(LogInCommand(clinic.owner.email.value, PASSWORD))).unwrap()
    check = CheckSession(sql_uow, clock)
    assert await check(_actor_of(issuer, tokens)) == SessionStanding(
        active=True,
        roles=frozenset({Role.OWNER}),
        unit_ids=frozenset(),
        permissions=ROLE_PERMISSIONS[Role.OWNER],
        withheld=PATIENT_DATA,
        plan=Plan.TRIAL,
    )

    assert isinstance(await LogOut(sql_uow, clock)(RefreshCommand(tokens.refresh_token)), Success)

    assert await check(_actor_of(issuer, tokens)) == SessionStanding(active=False)
    assert (await check(_actor_of(issuer, other_device))).active


async def test_a_unit_restricted_manager_lists_only_the_members_who_reach_their_units(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    clinic = await sign_up(sql_uow)
    owner = _owner(clinic)
    clock = SystemClock()
    centre = clinic.unit.id
    north = (
        (await CreateUnit(sql_uow, clock)(CreateUnitCommand(owner, "Norte", "America/Manaus"))).unwrap().id
    )

    async def join(name: str, role: str, units: frozenset[UnitId]) -> Member:
        invited = (
            await InviteMember(sql_uow, clock)(
                InviteMemberCommand(owner, unique_email(role), frozenset({role}), units)
            )
        ).unwrap()
        accept = AcceptInvitation(sql_uow, FakePasswordHasher(), clock)
        return (await accept(AcceptInvitationCommand(invited.token, password=PASSWORD, name=name))).unwrap()

    manager = await join("Gil Rocha", "manager", frozenset({centre}))
    await join("Bia Lima", "nurse", frozenset({centre}))
    await join("Caio Lima", "nurse", frozenset({centre, north}))
    in_north = await join("Duda Reis", "nurse", frozenset({north}))
    restricted = Actor(manager.user.id, clinic.tenant.id, frozenset({Role.MANAGER}), frozenset({centre}))
    reaching_centre = {"Ana Souza", "Gil Rocha", "Bia Lima", "Caio Lima"}

    # The repository's filter, page by page: no member twice, none missing, in id order.
    seen: list[Membership] = []
    async with sql_uow(Scope(tenant_id=clinic.tenant.id, user_id=manager.user.id)) as uow:
        page = PageRequest(limit=1)
        while True:
            found = await uow.memberships.list(page, sharing=frozenset({centre}))
            seen += found.items
            if found.next_after is None:
                break
            page = PageRequest(limit=1, after=found.next_after)
        only_unrestricted = await uow.memberships.list(PageRequest(), sharing=frozenset())
        everyone = await uow.memberships.list(PageRequest())
    assert [m.id for m in seen] == sorted(m.id for m in seen)
    assert len(seen) == 4
    assert in_north.membership.id not in {m.id for m in seen}
    assert [m.id for m in only_unrestricted.items] == [clinic.membership.id]
    assert len(everyone.items) == 5

    listed = (await ListMembers(sql_uow)(restricted, PageRequest())).unwrap()
    assert {m.user.name.value for m in listed.items} == reaching_centre
    hidden = await GetMember(sql_uow)(restricted, in_north.membership.id)
    assert hidden.failure() == NotFound("member", str(in_north.membership.id))
    assert isinstance(await GetMember(sql_uow)(owner, in_north.membership.id), Success)


async def test_my_sessions_are_listed_newest_first_and_ended_one_by_one_or_all_but_this(
    sql_uow: SqlUnitOfWorkFactory, issuer: FakeAccessTokenIssuer
) -> None:
    clinic = await sign_up(sql_uow)
    clock = FixedClock(SystemClock().now())
    login = tokens_only(LogIn(sql_uow, FakePasswordHasher(), issuer, clock))
    pairs = []
    for _ in range(3):
        pairs.append((await login(LogInCommand(clinic.owner.email.value, PASSWORD))).unwrap())
        clock.advance(timedelta(minutes=1))
    claims = [issuer.verify(p.access_token) for p in pairs]
    actors = [Actor.from_claims(c) for c in claims if c]
    listed = (await ListMySessions(sql_uow, clock)(actors[-1])).unwrap()
    assert [d.session.id for d in listed] == [a.session_id for a in reversed(actors)]
    assert [d.current for d in listed] == [True, False, False]

    assert isinstance(await RevokeMySession(sql_uow, clock)(actors[-1], listed[2].session.id), Success)
    assert (await RevokeMyOtherSessions(sql_uow, clock)(actors[-1])).unwrap() == 1
    remaining = (await ListMySessions(sql_uow, clock)(actors[-1])).unwrap()
    assert [d.session.id for d in remaining] == [actors[-1].session_id]


async def test_a_changed_password_is_stored_and_other_sessions_end(
    sql_uow: SqlUnitOfWorkFactory, issuer: FakeAccessTokenIssuer
) -> None:
    clinic = await sign_up(sql_uow)
    hasher, clock = FakePasswordHasher(), SystemClock()
    login = tokens_only(LogIn(sql_uow, hasher, issuer, clock))
    other = _actor_of(issuer, (await login(LogInCommand(clinic.owner.email.value, PASSWORD))).unwrap())
    here = _actor_of(issuer, (await login(LogInCommand(clinic.owner.email.value, PASSWORD))).unwrap())
    new = "tres pratos de trigo para tres tigres"
    assert (
        await ChangePassword(sql_uow, hasher, clock)(ChangePasswordCommand(here, PASSWORD, new))
    ).unwrap() == 1
    assert not (await CheckSession(sql_uow, clock)(other)).active
    assert (await CheckSession(sql_uow, clock)(here)).active
    assert isinstance(await login(LogInCommand(clinic.owner.email.value, PASSWORD)), Failure)
    assert isinstance(await login(LogInCommand(clinic.owner.email.value, new)), Success)
