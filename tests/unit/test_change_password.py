"""Changing one's password while signed in."""

from __future__ import annotations

from datetime import UTC, datetime

from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.identity.credentials import ChangePassword, ChangePasswordCommand
from clinic_core.identity.sessions import CheckSession, LogIn, LogInCommand
from clinic_core.shared.errors import InvalidInput
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    FixedClock,
    InMemoryUnitOfWorkFactory,
    tokens_only,
)

OLD = "correct horse battery staple"
NEW = "tres pratos de trigo para tres tigres"


async def _world() -> tuple[InMemoryUnitOfWorkFactory, FakeAccessTokenIssuer, FixedClock, list[Actor]]:
    clock = FixedClock(datetime(2026, 5, 1, tzinfo=UTC))
    uow, issuer = InMemoryUnitOfWorkFactory(), FakeAccessTokenIssuer(clock)
    hasher = FakePasswordHasher()
    await SignUp(uow, hasher, clock)(
        SignUpCommand("Clínica A", "Centro", "America/Sao_Paulo", "Ana Souza", "ana@example.com", OLD)
    )
    login = tokens_only(LogIn(uow, hasher, issuer, clock))
    actors = []
    for _ in range(3):
        claims = issuer.verify((await login(LogInCommand("ana@example.com", OLD))).unwrap().access_token)
        assert claims is not None
        actors.append(Actor.from_claims(claims))
    return uow, issuer, clock, actors


def _codes(result: object) -> list[tuple[str, str]]:
    assert isinstance(result, Failure)
    error = result.failure()
    assert isinstance(error, InvalidInput)
    return [(e.field, e.code) for e in error.errors]


async def test_the_new_password_signs_in_and_the_other_sessions_end() -> None:
    uow, issuer, clock, (laptop, phone, here) = await _world()
    change = ChangePassword(uow, FakePasswordHasher(), clock)
    assert (await change(ChangePasswordCommand(here, OLD, NEW))).unwrap() == 2
    check = CheckSession(uow, clock)
    assert [(await check(a)).active for a in (laptop, phone, here)] == [False, False, True]
    login = tokens_only(LogIn(uow, FakePasswordHasher(), issuer, clock))
    assert isinstance(await login(LogInCommand("ana@example.com", OLD)), Failure)
    assert (await login(LogInCommand("ana@example.com", NEW))).unwrap().access_token


async def test_other_sessions_may_stay() -> None:
    uow, _, clock, (laptop, _, here) = await _world()
    result = await ChangePassword(uow, FakePasswordHasher(), clock)(
        ChangePasswordCommand(here, OLD, NEW, end_other_sessions=False)
    )
    assert result.unwrap() == 0
    assert (await CheckSession(uow, clock)(laptop)).active


async def test_a_wrong_current_password_changes_nothing() -> None:
    uow, issuer, clock, (_, _, here) = await _world()
    result = await ChangePassword(uow, FakePasswordHasher(), clock)(
        ChangePasswordCommand(here, "not it at all!", NEW)
    )
    assert _codes(result) == [("current_password", "wrong_password")]
    assert (
        await tokens_only(LogIn(uow, FakePasswordHasher(), issuer, clock))(
            LogInCommand("ana@example.com", OLD)
        )
    ).unwrap()


async def test_the_new_password_meets_the_policy_and_differs_from_the_old() -> None:
    uow, _, clock, (_, _, here) = await _world()
    change = ChangePassword(uow, FakePasswordHasher(), clock)
    assert _codes(await change(ChangePasswordCommand(here, OLD, "short"))) == [("new_password", "too_short")]
    assert _codes(await change(ChangePasswordCommand(here, OLD, "ana souza 2026!!"))) == [
        ("new_password", "too_close_to_personal_info")
    ]
    assert _codes(await change(ChangePasswordCommand(here, OLD, OLD))) == [("new_password", "unchanged")]


async def test_the_new_password_is_not_built_on_the_clinics_name() -> None:
    uow, _, clock, (_, _, here) = await _world()
    change = ChangePassword(uow, FakePasswordHasher(), clock)
    (tenant,) = uow.store.tables.tenants.values()
    tenant.name = "Bela Vista Estética Recife"
    assert _codes(await change(ChangePasswordCommand(here, OLD, "bela vista estetica recife"))) == [
        ("new_password", "too_close_to_personal_info")
    ]
    tenant.name = "Clínica A"  # the same passphrase is fine for a person of another clinic
    assert isinstance(await change(ChangePasswordCommand(here, OLD, "bela vista estetica recife")), Success)
