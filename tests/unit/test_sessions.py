"""Sign-up, login, refresh rotation and reuse detection, on the in-memory adapters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Success

from clinic_core.application.unit_of_work import Scope, UniqueViolation
from clinic_core.identity.model import InvalidCredentials, RefreshTokenReused
from clinic_core.identity.sessions import LogIn, LogInCommand, LogOut, RefreshCommand, RefreshSession
from clinic_core.shared.clock import FixedClock
from clinic_core.tenancy.model import SlugTaken
from clinic_core.tenancy.signup import EmailAlreadyRegistered, SignUp, SignUpCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    InMemoryUnitOfWork,
    InMemoryUnitOfWorkFactory,
    tokens_only,
)

PASSWORD = "correct horse battery staple"


def _signup_cmd(email: str = "ana@example.com", tenant: str = "Clínica Bela") -> SignUpCommand:
    return SignUpCommand(
        tenant_name=tenant,
        unit_name="Centro",
        timezone="America/Sao_Paulo",
        owner_name="Ana Souza",
        email=email,
        password=PASSWORD,
    )


async def test_signup_then_login_refresh_and_reuse_detection() -> None:
    uow, hasher, issuer = InMemoryUnitOfWorkFactory(), FakePasswordHasher(), FakeAccessTokenIssuer()
    clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    signed = (await SignUp(uow, hasher, clock)(_signup_cmd())).unwrap()
    assert signed.tenant.slug.value == "clinica-bela"
    assert [r.topic for r in uow.store.outbox] == [
        "tenancy.tenant_created",
        "tenancy.unit_created",
        "identity.email_verification_requested",
    ]

    tokens = (
        await tokens_only(LogIn(uow, hasher, issuer, clock))(LogInCommand("ANA@example.com", PASSWORD))
    ).unwrap()
    claims = issuer.decode(tokens.access_token)
    assert claims["tid"] == str(signed.tenant.id)
    assert claims["roles"] == ["owner"]

    refresh = RefreshSession(uow, issuer, clock)
    clock.advance(timedelta(minutes=20))
    rotated = (await refresh(RefreshCommand(tokens.refresh_token))).unwrap()
    assert rotated.refresh_token != tokens.refresh_token

    # The first token again: someone copied it. The whole session dies, the new token included.
    assert isinstance((await refresh(RefreshCommand(tokens.refresh_token))).failure(), RefreshTokenReused)
    assert isinstance(await refresh(RefreshCommand(rotated.refresh_token)), Failure)


async def test_wrong_password_and_unknown_email_fail_alike() -> None:
    uow, hasher, issuer = InMemoryUnitOfWorkFactory(), FakePasswordHasher(), FakeAccessTokenIssuer()
    clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    await SignUp(uow, hasher, clock)(_signup_cmd())
    login = tokens_only(LogIn(uow, hasher, issuer, clock))
    wrong = await login(LogInCommand("ana@example.com", "not the password at all"))
    unknown = await login(LogInCommand("nobody@example.com", PASSWORD))
    assert wrong.failure() == unknown.failure() == InvalidCredentials()


async def test_signup_reports_every_bad_field_and_duplicate_email() -> None:
    uow, hasher = InMemoryUnitOfWorkFactory(), FakePasswordHasher()
    clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    signup = SignUp(uow, hasher, clock)
    bad = await signup(
        SignUpCommand(
            tenant_name="X",
            unit_name="Centro",
            timezone="-03:00",
            owner_name="",
            email="not-an-email",
            password="short",
        )
    )
    fields = {e.field for e in bad.failure().errors}  # type: ignore[union-attr]
    assert fields == {"tenant_name", "timezone", "owner_name", "email", "password"}
    assert isinstance(await signup(_signup_cmd()), Success)
    again = await signup(_signup_cmd(tenant="Outra Clínica"))
    assert isinstance(again.failure(), EmailAlreadyRegistered)
    assert len(uow.store.tables.tenants) == 1


async def test_logout_ends_the_session() -> None:
    uow, hasher, issuer = InMemoryUnitOfWorkFactory(), FakePasswordHasher(), FakeAccessTokenIssuer()
    clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    await SignUp(uow, hasher, clock)(_signup_cmd())
    tokens = (
        await tokens_only(LogIn(uow, hasher, issuer, clock))(LogInCommand("ana@example.com", PASSWORD))
    ).unwrap()
    assert isinstance(await LogOut(uow, clock)(RefreshCommand(tokens.refresh_token)), Success)
    assert isinstance(await RefreshSession(uow, issuer, clock)(RefreshCommand(tokens.refresh_token)), Failure)


class _SlugAlwaysTaken(InMemoryUnitOfWorkFactory):
    """Every commit loses a slug race, as if another sign-up took each candidate first."""

    def __call__(self, scope: Scope, *, read_only: bool = False) -> InMemoryUnitOfWork:
        uow = super().__call__(scope, read_only=read_only)

        async def lose() -> None:
            raise UniqueViolation("uq_tenants_slug")

        uow.commit = lose  # type: ignore[method-assign]
        return uow


async def test_sign_up_that_keeps_losing_slug_races_is_a_conflict_not_a_crash() -> None:
    uow = _SlugAlwaysTaken()
    result = await SignUp(uow, FakePasswordHasher(), FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC)))(
        _signup_cmd()
    )
    assert isinstance(result.failure(), SlugTaken)
    assert uow.store.tables.tenants == {}


async def test_the_in_memory_unit_of_work_refuses_to_nest_instead_of_hanging() -> None:
    uow = InMemoryUnitOfWorkFactory()
    async with uow(Scope()):
        with pytest.raises(RuntimeError, match="inside another"):
            async with uow(Scope()):
                pass
    async with uow(Scope()):  # and the store is usable afterwards
        pass
