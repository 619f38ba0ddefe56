"""Account tokens, reset requests and sign-in failure counters on PostgreSQL (as the app role) and SQLite:
round trips, and the races that must have exactly one winner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Success
from sqlalchemy import select

from clinic_core.application.unit_of_work import Scope, UniqueViolation
from clinic_core.identity.account_security import (
    AccountToken,
    InvalidAccountToken,
    SignInFailures,
    TokenPurpose,
    address_key,
)
from clinic_core.identity.model import InvalidCredentials
from clinic_core.identity.recovery import (
    ForgotPassword,
    ForgotPasswordCommand,
    ResetPassword,
    ResetPasswordCommand,
)
from clinic_core.identity.sessions import LogIn, LogInCommand
from clinic_core.identity.throttling import SignInThrottled, SignInThrottlePolicy
from clinic_core.identity.verification import VerifyEmail, VerifyEmailCommand
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import TenantId
from clinic_core.shared.tokens import digest
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher
from clinic_infra.db import tables
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, sign_up, unique_email

NEW_PASSWORD = "a brand new long passphrase"


async def _token(sql_uow: SqlUnitOfWorkFactory, purpose: TokenPurpose) -> tuple[AccountToken, str]:
    clinic = await sign_up(sql_uow)
    token, secret = AccountToken.issue(clinic.owner.id, clinic.owner.email, purpose, SystemClock().now())
    async with sql_uow(Scope()) as uow:
        await uow.account_tokens.add(token)
        await uow.commit()
    return token, secret


async def test_an_account_token_round_trips_and_is_spent_once(sql_uow: SqlUnitOfWorkFactory) -> None:
    token, secret = await _token(sql_uow, TokenPurpose.RESET_PASSWORD)
    async with sql_uow(Scope(), read_only=True) as uow:
        found = await uow.account_tokens.get_by_hash(digest(secret))
    assert found is not None
    assert (found.id, found.user_id, found.purpose, found.email) == (
        token.id,
        token.user_id,
        TokenPurpose.RESET_PASSWORD,
        token.email,
    )
    assert (found.created_at, found.expires_at, found.used_at) == (token.created_at, token.expires_at, None)

    now = SystemClock().now()
    async with sql_uow(Scope()) as uow:
        assert await uow.account_tokens.spend(token.id, now)
        assert not await uow.account_tokens.spend(token.id, now)
        await uow.commit()
    async with sql_uow(Scope(), read_only=True) as uow:
        spent = await uow.account_tokens.get_by_hash(digest(secret))
    assert spent is not None
    assert spent.used_at == now


async def test_two_resets_racing_with_one_token_cannot_both_win(sql_uow: SqlUnitOfWorkFactory) -> None:
    _, secret = await _token(sql_uow, TokenPurpose.RESET_PASSWORD)
    reset = ResetPassword(sql_uow, FakePasswordHasher(), SystemClock())

    results = await asyncio.gather(
        reset(ResetPasswordCommand(secret, NEW_PASSWORD)), reset(ResetPasswordCommand(secret, NEW_PASSWORD))
    )

    assert sorted(isinstance(r, Success) for r in results) == [False, True]
    assert [r.failure() for r in results if not isinstance(r, Success)] == [InvalidAccountToken()]


async def test_two_verifications_racing_with_one_token_cannot_both_win(sql_uow: SqlUnitOfWorkFactory) -> None:
    token, secret = await _token(sql_uow, TokenPurpose.VERIFY_EMAIL)
    verify = VerifyEmail(sql_uow, SystemClock())

    results = await asyncio.gather(verify(VerifyEmailCommand(secret)), verify(VerifyEmailCommand(secret)))

    assert sorted(isinstance(r, Success) for r in results) == [False, True]
    async with sql_uow(Scope(), read_only=True) as uow:
        user = await uow.users.get(token.user_id)
    assert user is not None
    assert user.email_verified_at is not None


async def test_a_reset_request_is_logged_and_mailed_through_the_outbox(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    forgot = ForgotPassword(sql_uow, SystemClock())
    for email in (clinic.owner.email.value, unique_email("nobody")):
        assert await forgot(ForgotPasswordCommand(email)) == Success(None)

    since = SystemClock().now() - timedelta(minutes=1)
    async with sql_uow(Scope(), read_only=True) as uow:
        assert await uow.reset_requests.count_since(address_key(clinic.owner.email.value), since) == 1
        assert await uow.reset_requests.count_since(address_key("other@example.com"), since) == 0
    # The token came in the outbox row: it resets the password.
    reset = ResetPassword(sql_uow, FakePasswordHasher(), SystemClock())
    secret = await _outbox_token(sql_uow, clinic.tenant.id, "identity.password_reset_requested")
    assert await reset(ResetPasswordCommand(secret, NEW_PASSWORD)) == Success(0)
    log_in = LogIn(sql_uow, FakePasswordHasher(), FakeAccessTokenIssuer(), SystemClock())
    assert isinstance(await log_in(LogInCommand(clinic.owner.email.value, NEW_PASSWORD)), Success)


async def _outbox_token(sql_uow: SqlUnitOfWorkFactory, tenant_id: TenantId, topic: str) -> str:
    async with sql_uow(Scope(tenant_id=tenant_id), read_only=True) as uow:
        connection = await uow.connection()
        rows = (
            await connection.execute(
                select(tables.outbox.c.payload).where(
                    tables.outbox.c.tenant_id == tenant_id, tables.outbox.c.topic == topic
                )
            )
        ).all()
    token: str = rows[-1][0]["token"]
    return token


async def test_sign_in_failure_counters_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    key = address_key(unique_email())
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    account = SignInFailures(key_hash=key, device_hash="", failures=1, first_failed_at=at, last_failed_at=at)
    device = SignInFailures(
        key_hash=key, device_hash="d" * 64, failures=2, first_failed_at=at, last_failed_at=at
    )
    async with sql_uow(Scope()) as uow:
        await uow.sign_in_failures.add(account)
        await uow.sign_in_failures.add(device)
        await uow.commit()
    account.failures, account.last_failed_at = 6, at + timedelta(seconds=5)
    account.locked_until = at + timedelta(seconds=6)
    async with sql_uow(Scope()) as uow:
        await uow.sign_in_failures.save(account)
        await uow.commit()

    async with sql_uow(Scope()) as uow:  # get locks the row: not in a read-only one
        got = await uow.sign_in_failures.get(key, "")
        got_device = await uow.sign_in_failures.get(key, "d" * 64)
    assert got is not None
    assert (got.failures, got.first_failed_at, got.last_failed_at, got.locked_until) == (
        6,
        at,
        at + timedelta(seconds=5),
        at + timedelta(seconds=6),
    )
    assert got_device is not None
    assert (got_device.failures, got_device.locked_until) == (2, None)

    with pytest.raises(UniqueViolation):  # a counter another attempt created meanwhile is not overwritten
        async with sql_uow(Scope()) as uow:
            await uow.sign_in_failures.add(account)

    async with sql_uow(Scope()) as uow:
        await uow.sign_in_failures.clear(key, "")
        await uow.commit()
    async with sql_uow(Scope()) as uow:  # get locks the row: not in a read-only one
        assert await uow.sign_in_failures.get(key, "") is None
        assert await uow.sign_in_failures.get(key, "d" * 64) is not None
    async with sql_uow(Scope()) as uow:
        await uow.sign_in_failures.clear(key)
        await uow.commit()
    async with sql_uow(Scope()) as uow:  # get locks the row: not in a read-only one
        assert await uow.sign_in_failures.get(key, "d" * 64) is None


async def test_a_burst_of_guesses_at_once_gets_no_more_checked_than_the_policy_allows(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    """Attempts are counted before their password is checked: racing ones queue on the counter."""
    clinic = await sign_up(sql_uow)
    policy = SignInThrottlePolicy(free_failures=3, first_delay=timedelta(hours=1))
    log_in = LogIn(
        sql_uow, FakePasswordHasher(), FakeAccessTokenIssuer(), SystemClock(), throttle_policy=policy
    )

    results = await asyncio.gather(
        *(log_in(LogInCommand(clinic.owner.email.value, "a wrong guess")) for _ in range(8))
    )

    errors = [type(r.failure()) for r in results]
    assert errors.count(InvalidCredentials) == 3
    assert errors.count(SignInThrottled) == 5


async def test_a_device_that_signed_in_before_is_known(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    log_in = LogIn(sql_uow, FakePasswordHasher(), FakeAccessTokenIssuer(), SystemClock())
    command = LogInCommand(clinic.owner.email.value, PASSWORD, device_fingerprint="front-desk-pc")
    assert isinstance(await log_in(command), Success)
    async with sql_uow(Scope(), read_only=True) as uow:
        assert await uow.sessions.device_known(clinic.owner.id, digest("front-desk-pc"))
        assert not await uow.sessions.device_known(clinic.owner.id, digest("another-pc"))
