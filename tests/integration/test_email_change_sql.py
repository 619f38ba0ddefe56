"""Changing one's email on PostgreSQL (as the app role) and SQLite: the token's options round-trip, the
link moves the login, one token has one winner, and an address taken meanwhile leaves no half-write."""

from __future__ import annotations

import asyncio

from returns.result import Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.account_security import AccountToken, InvalidAccountToken, TokenPurpose
from clinic_core.identity.email_change import (
    ConfirmEmailChange,
    ConfirmEmailChangeCommand,
    EmailChangeRequested,
    EmailInUse,
    RequestEmailChange,
    RequestEmailChangeCommand,
)
from clinic_core.identity.model import InvalidCredentials, RevocationReason, TokenPair, User
from clinic_core.identity.sessions import LogIn, LogInCommand
from clinic_core.shared.clock import SystemClock
from clinic_core.shared.ids import SessionId, UserId, new_uuid
from clinic_core.shared.tokens import digest
from clinic_core.shared.values import Email, PersonName
from clinic_core.tenancy.signup import SignedUp
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, sign_up, unique_email
from tests.integration.test_account_recovery_sql import _outbox_token


async def _signed_in(sql_uow: SqlUnitOfWorkFactory, clinic: SignedUp, email: str | None = None) -> Actor:
    issuer = FakeAccessTokenIssuer()
    log_in = LogIn(sql_uow, FakePasswordHasher(), issuer, SystemClock())
    pair = (await log_in(LogInCommand(email or clinic.owner.email.value, PASSWORD))).unwrap()
    assert isinstance(pair, TokenPair)
    claims = issuer.verify(pair.access_token)
    assert claims is not None
    return Actor.from_claims(claims)


async def _asked(sql_uow: SqlUnitOfWorkFactory, new_email: str) -> tuple[SignedUp, Actor, str]:
    """A clinic whose owner asked, signed in, to move to ``new_email``: the link's token."""
    clinic = await sign_up(sql_uow)
    actor = await _signed_in(sql_uow, clinic)
    request = RequestEmailChange(sql_uow, FakePasswordHasher(), SystemClock())
    assert await request(RequestEmailChangeCommand(actor, PASSWORD, new_email)) == Success(None)
    return clinic, actor, await _outbox_token(sql_uow, clinic.tenant.id, EmailChangeRequested.topic)


async def _email_of(sql_uow: SqlUnitOfWorkFactory, user_id: UserId) -> str:
    async with sql_uow(Scope(), read_only=True) as uow:
        user = await uow.users.get(user_id)
    assert user is not None
    return user.email.value


async def test_the_change_options_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    session_id = SessionId(new_uuid())
    token, secret = AccountToken.issue(
        clinic.owner.id, Email(unique_email("new")), TokenPurpose.CHANGE_EMAIL, SystemClock().now()
    )
    token.end_other_sessions, token.session_id = True, session_id
    async with sql_uow(Scope()) as uow:
        await uow.account_tokens.add(token)
        await uow.commit()
    async with sql_uow(Scope(), read_only=True) as uow:
        found = await uow.account_tokens.get_by_hash(digest(secret))
    assert found is not None
    assert (found.purpose, found.email, found.end_other_sessions, found.session_id) == (
        TokenPurpose.CHANGE_EMAIL,
        token.email,
        True,
        session_id,
    )


async def test_the_link_moves_the_login_and_ends_the_other_session(sql_uow: SqlUnitOfWorkFactory) -> None:
    new_email = unique_email("moved")
    clinic, actor, secret = await _asked(sql_uow, new_email)
    phone = await _signed_in(sql_uow, clinic)

    assert await ConfirmEmailChange(sql_uow, SystemClock())(ConfirmEmailChangeCommand(secret)) == Success(1)

    assert await _email_of(sql_uow, clinic.owner.id) == new_email
    async with sql_uow(Scope(user_id=clinic.owner.id), read_only=True) as uow:
        sessions = await uow.sessions.active_of(clinic.owner.id, SystemClock().now())
        user = await uow.users.get(clinic.owner.id)
    assert [s.id for s in sessions] == [actor.session_id]
    clinic_sessions = [s for s in (actor.session_id, phone.session_id) if s is not None]
    assert user is not None
    assert user.email_verified_at is not None
    log_in = LogIn(sql_uow, FakePasswordHasher(), FakeAccessTokenIssuer(), SystemClock())
    assert isinstance(await log_in(LogInCommand(new_email, PASSWORD)), Success)
    old = await log_in(LogInCommand(clinic.owner.email.value, PASSWORD))
    assert old.failure() == InvalidCredentials()
    async with sql_uow(Scope(), read_only=True) as uow:
        ended = [await uow.sessions.get(s) for s in clinic_sessions if s != actor.session_id]
    assert [s.revoked_reason for s in ended if s is not None] == [RevocationReason.EMAIL_CHANGED]


async def test_two_confirmations_racing_with_one_token_cannot_both_win(sql_uow: SqlUnitOfWorkFactory) -> None:
    new_email = unique_email("raced")
    clinic, _, secret = await _asked(sql_uow, new_email)
    confirm = ConfirmEmailChange(sql_uow, SystemClock())

    results = await asyncio.gather(
        confirm(ConfirmEmailChangeCommand(secret)), confirm(ConfirmEmailChangeCommand(secret))
    )

    assert sorted(isinstance(r, Success) for r in results) == [False, True]
    assert [r.failure() for r in results if not isinstance(r, Success)] == [InvalidAccountToken()]
    assert await _email_of(sql_uow, clinic.owner.id) == new_email


async def test_an_address_taken_before_the_link_is_opened_changes_nothing(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    new_email = unique_email("taken")
    clinic, _, secret = await _asked(sql_uow, new_email)
    other = await sign_up(sql_uow, "Clínica Outra", email=new_email)

    refused = await ConfirmEmailChange(sql_uow, SystemClock())(ConfirmEmailChangeCommand(secret))

    assert refused.failure() == EmailInUse()
    assert await _email_of(sql_uow, clinic.owner.id) == clinic.owner.email.value
    assert await _email_of(sql_uow, other.owner.id) == new_email
    async with sql_uow(Scope(user_id=clinic.owner.id), read_only=True) as uow:
        token = await uow.account_tokens.get_by_hash(digest(secret))
        sessions = await uow.sessions.active_of(clinic.owner.id, SystemClock().now())
    assert token is not None
    assert token.used_at is None  # rolled back with the rest
    assert len(sessions) == 1


async def test_a_sign_up_committing_during_the_confirmation_wins_cleanly(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    """An account for the address is being written (not committed) when the link is opened. On
    PostgreSQL the confirmation's lookup cannot see it, its write waits on the unique index and then
    fails; on SQLite it waits for the writer and then sees it. Either way: refused, nothing written."""
    new_email = unique_email("contested")
    clinic, _, secret = await _asked(sql_uow, new_email)
    confirm = ConfirmEmailChange(sql_uow, SystemClock())
    async with sql_uow(Scope()) as uow:
        await uow.users.add(
            User(
                id=UserId(new_uuid()),
                email=Email(new_email),
                name=PersonName("Bia Lima"),
                password_hash="x",
                created_at=SystemClock().now(),
            )
        )
        pending = asyncio.create_task(confirm(ConfirmEmailChangeCommand(secret)))
        await asyncio.sleep(0.3)  # lets the confirmation reach the contested row first, if it can
        await uow.commit()
    refused = await pending

    assert refused.failure() == EmailInUse()
    assert await _email_of(sql_uow, clinic.owner.id) == clinic.owner.email.value
    async with sql_uow(Scope(), read_only=True) as uow:
        token = await uow.account_tokens.get_by_hash(digest(secret))
    assert token is not None
    assert token.used_at is None
