"""Password reset and email verification on the in-memory fakes: single-use, expiring tokens, no account
oracle, and what a reset does to the account's sessions and lockout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.audit.model import AuditAction
from clinic_core.identity.account_security import (
    EmailAlreadyVerified,
    EmailNotVerified,
    EmailVerificationRequested,
    InvalidAccountToken,
    PasswordResetRequested,
    address_key,
)
from clinic_core.identity.model import InvalidCredentials, InvalidRefreshToken, RevocationReason
from clinic_core.identity.recovery import RESET_REQUESTS_PER_HOUR
from clinic_core.identity.sessions import (
    CheckSession,
    RefreshCommand,
    RefreshSession,
    SwitchTenant,
    SwitchTenantCommand,
)
from clinic_core.identity.throttling import SignInThrottled
from clinic_core.identity.verification import PATIENT_DATA, ResendVerification
from clinic_core.shared.errors import InvalidInput
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    InviteMember,
    InviteMemberCommand,
)
from clinic_core.tenancy.model import UnverifiedEmailAccess
from clinic_core.tenancy.permissions import Permission, Role
from tests.unit.recovery_world import NEW_PASSWORD, PASSWORD, World


@pytest.fixture
async def world() -> World:
    world = World()
    await world.sign_up()
    return world


# --- forgot password ---------------------------------------------------------------------------------------


async def test_forgot_password_answers_alike_for_known_and_unknown_addresses(world: World) -> None:
    known = await world.forgot("ana@example.com")
    unknown = await world.forgot("nobody@example.com")

    assert known == unknown == Success(None)
    # Both were logged, the same kind of record under the address's digest: the same work either way.
    assert world.uow.store.tables.reset_requests == [
        (address_key("ana@example.com"), world.clock.now()),
        (address_key("nobody@example.com"), world.clock.now()),
    ]
    # Only the real account gets a message; nothing is addressed to the unknown one.
    assert len(world.mailed(PasswordResetRequested.topic)) == 1
    assert world.mailed(PasswordResetRequested.topic, "nobody@example.com") == []


async def test_the_reset_message_names_the_clinic_and_lands_in_its_outbox(world: World) -> None:
    await world.forgot("ANA@Example.com")
    record = next(r for r in world.uow.store.outbox if r.topic == PasswordResetRequested.topic)
    tenant = next(iter(world.uow.store.tables.tenants.values()))
    assert record.tenant_id == tenant.id
    assert record.payload["tenant_name"] == "Clínica A"
    assert record.payload["user_id"] == str(world.user().id)
    # Only the digest is kept with the account: the raw token travels in the message alone.
    stored = next(iter(world.uow.store.tables.account_tokens.values()))
    assert stored.token_hash != record.payload["token"]


async def test_a_malformed_address_is_a_field_error(world: World) -> None:
    assert isinstance((await world.forgot("not an email")).failure(), InvalidInput)


async def test_reset_links_are_mailed_at_most_three_times_an_hour_to_one_address(world: World) -> None:
    for _ in range(RESET_REQUESTS_PER_HOUR + 2):
        assert await world.forgot("ana@example.com") == Success(None)
    assert len(world.mailed(PasswordResetRequested.topic)) == RESET_REQUESTS_PER_HOUR
    assert len(world.uow.store.tables.reset_requests) == RESET_REQUESTS_PER_HOUR + 2

    world.clock.advance(timedelta(hours=1))
    await world.forgot("ana@example.com")
    assert len(world.mailed(PasswordResetRequested.topic)) == RESET_REQUESTS_PER_HOUR + 1


# --- reset password ----------------------------------------------------------------------------------------


async def test_a_reset_token_sets_the_new_password_once(world: World) -> None:
    await world.forgot("ana@example.com")
    token = world.reset_token()

    assert await world.reset(token) == Success(0)
    assert isinstance((await world.log_in(password=PASSWORD)).failure(), InvalidCredentials)
    assert isinstance(await world.log_in(password=NEW_PASSWORD), Success)
    assert await world.reset(token, "yet another long passphrase") == Failure(InvalidAccountToken())


async def test_an_expired_reset_token_is_refused(world: World) -> None:
    await world.forgot("ana@example.com")
    world.clock.advance(timedelta(minutes=30))
    assert await world.reset(world.reset_token()) == Failure(InvalidAccountToken())
    assert isinstance(await world.log_in(password=PASSWORD), Success)


async def test_a_reset_token_works_until_its_thirtieth_minute(world: World) -> None:
    await world.forgot("ana@example.com")
    world.clock.advance(timedelta(minutes=29, seconds=59))
    assert isinstance(await world.reset(world.reset_token()), Success)


async def test_unknown_tokens_and_other_purposes_get_the_same_refusal(world: World) -> None:
    assert await world.reset("no-such-token") == Failure(InvalidAccountToken())
    # A verification link is not a reset link.
    assert await world.reset(world.verification_token()) == Failure(InvalidAccountToken())
    await world.forgot("ana@example.com")
    assert await world.verify(world.reset_token()) == Failure(InvalidAccountToken())


async def test_a_newer_reset_link_retires_the_older_one(world: World) -> None:
    await world.forgot("ana@example.com")
    older = world.reset_token()
    await world.forgot("ana@example.com")
    assert await world.reset(older) == Failure(InvalidAccountToken())
    assert isinstance(await world.reset(world.reset_token()), Success)


async def test_a_weak_new_password_is_refused_and_the_token_stays_usable(world: World) -> None:
    await world.forgot("ana@example.com")
    token = world.reset_token()
    weak = await world.reset(token, "senha123")
    assert isinstance(weak.failure(), InvalidInput)
    assert weak.failure().errors[0].field == "new_password"  # type: ignore[attr-defined]
    assert isinstance(await world.reset(token), Success)


async def test_a_reset_ends_every_session_verifies_the_email_and_is_audited(world: World) -> None:
    first = (await world.log_in()).unwrap()
    second = (await world.log_in(device="phone")).unwrap()
    await world.forgot("ana@example.com")

    assert await world.reset(world.reset_token()) == Success(2)

    sessions = world.uow.store.tables.sessions.values()
    assert {s.revoked_reason for s in sessions} == {RevocationReason.PASSWORD_RESET}
    refresh = RefreshSession(world.uow, world.issuer, world.clock)
    for tokens in (first, second):
        assert await refresh(RefreshCommand(tokens.refresh_token)) == Failure(InvalidRefreshToken())
        assert not (await CheckSession(world.uow, world.clock)(world.actor_of(tokens))).active
    assert world.user().email_verified
    [reset] = world.audit(AuditAction.PASSWORD_RESET)
    [revoked] = world.audit(AuditAction.SESSION_REVOKED)
    assert reset.actor_user_id == revoked.actor_user_id == world.user().id
    assert revoked.details == {"reason": "password_reset", "sessions": 2}


async def test_a_reset_lifts_the_sign_in_lockout(world: World) -> None:
    while not isinstance((await world.log_in(password="wrong password!")).failure(), SignInThrottled):
        pass
    await world.forgot("ana@example.com")
    await world.reset(world.reset_token())
    assert isinstance(await world.log_in(password=NEW_PASSWORD), Success)


# --- email verification ------------------------------------------------------------------------------------


async def test_sign_up_mails_a_verification_link_that_works_once(world: World) -> None:
    [mail] = world.mailed(EmailVerificationRequested.topic)
    assert mail["tenant_name"] == "Clínica A"
    assert not world.user().email_verified

    assert await world.verify(mail["token"]) == Success(None)
    assert world.user().email_verified_at == world.clock.now()
    assert await world.verify(mail["token"]) == Failure(InvalidAccountToken())
    [verified] = world.audit(AuditAction.EMAIL_VERIFIED)
    assert verified.actor_user_id == world.user().id


async def test_a_verification_token_older_than_a_day_is_refused(world: World) -> None:
    world.clock.advance(timedelta(hours=24))
    assert await world.verify(world.verification_token()) == Failure(InvalidAccountToken())
    assert not world.user().email_verified


async def test_resending_mails_a_new_link_and_retires_the_old_one(world: World) -> None:
    actor = world.actor_of((await world.log_in()).unwrap())
    old = world.verification_token()
    resend = ResendVerification(world.uow, world.clock)

    assert await resend(actor) == Success(None)

    new = world.verification_token()
    assert new != old
    assert await world.verify(old) == Failure(InvalidAccountToken())
    assert await world.verify(new) == Success(None)
    assert await resend(actor) == Failure(EmailAlreadyVerified())


# --- what an unverified account may do ---------------------------------------------------------------------


async def test_by_default_an_unverified_member_signs_in_without_patient_data(world: World) -> None:
    tokens = (await world.log_in()).unwrap()
    standing = await CheckSession(world.uow, world.clock)(world.actor_of(tokens))
    actor = world.actor_of(tokens).with_access(
        standing.roles, standing.unit_ids, granted=standing.permissions, withheld=standing.withheld
    )

    assert standing.active
    assert not standing.email_verified
    assert (
        standing.withheld
        == PATIENT_DATA
        == {
            Permission.PATIENTS_READ,
            Permission.PATIENTS_WRITE,
            Permission.PATIENTS_EXPORT,
            Permission.PATIENTS_ANONYMISE,
            Permission.CLINICAL_READ,
            Permission.CLINICAL_WRITE,
        }
    )
    assert isinstance(actor.authorize(Permission.PATIENTS_READ), Failure)
    assert isinstance(actor.authorize(Permission.UNITS_WRITE), Success)

    await world.verify(world.verification_token())
    standing = await CheckSession(world.uow, world.clock)(world.actor_of(tokens))
    assert standing.email_verified
    assert standing.withheld == frozenset()


async def test_a_clinic_may_give_unverified_members_full_access(world: World) -> None:
    signed = next(iter(world.uow.store.tables.tenants.values()))
    world.uow.store.tables.tenants[signed.id].security = type(signed.security)(
        unverified_email_access=UnverifiedEmailAccess.FULL
    )
    tokens = (await world.log_in()).unwrap()
    standing = await CheckSession(world.uow, world.clock)(world.actor_of(tokens))
    assert standing.active
    assert standing.withheld == frozenset()


async def test_a_clinic_may_refuse_unverified_members_at_sign_in_refresh_and_on_each_request() -> None:
    world = World()
    signed = await world.sign_up()
    tokens = (await world.log_in()).unwrap()  # signed in while the clinic still allowed it

    world.set_policy(signed, UnverifiedEmailAccess.NONE)

    assert await world.log_in() == Failure(EmailNotVerified())
    refresh = RefreshSession(world.uow, world.issuer, world.clock)
    assert await refresh(RefreshCommand(tokens.refresh_token)) == Failure(EmailNotVerified())
    assert not (await CheckSession(world.uow, world.clock)(world.actor_of(tokens))).active

    await world.verify(world.verification_token())
    assert isinstance(await world.log_in(), Success)
    # The refused refresh did not spend the token: once verified, it works.
    assert isinstance(await refresh(RefreshCommand(tokens.refresh_token)), Success)


async def test_switching_into_a_clinic_that_refuses_unverified_emails_is_refused() -> None:
    world = World()
    ana = await world.sign_up()
    bia = await world.sign_up("bia@example.com", "Clínica B")
    owner_b = Actor(bia.owner.id, bia.tenant.id, frozenset({Role.OWNER}), frozenset())
    invited = await InviteMember(world.uow, world.clock)(
        InviteMemberCommand(owner_b, "ana@example.com", frozenset({"professional"}))
    )
    accept = AcceptInvitation(world.uow, world.hasher, world.clock)
    (await accept(AcceptInvitationCommand(invited.unwrap().token, signed_in_as=ana.owner.id))).unwrap()
    world.set_policy(bia, UnverifiedEmailAccess.NONE)
    tokens = (await world.log_in()).unwrap()  # into clinic A, which keeps the default
    switch = SwitchTenant(world.uow, world.issuer, world.clock)
    command = SwitchTenantCommand(world.actor_of(tokens), tokens.refresh_token, tenant_id=bia.tenant.id)

    assert await switch(command) == Failure(EmailNotVerified())

    await world.verify(world.verification_token())
    assert isinstance(await switch(command), Success)


async def test_a_reset_password_meets_the_policy_of_the_account(world: World) -> None:
    await world.forgot("ana@example.com")
    token = world.reset_token()
    (tenant,) = world.uow.store.tables.tenants.values()
    tenant.name = "Bela Vista Estética Recife"
    refused = (await world.reset(token, "bela vista estetica recife")).failure()
    assert isinstance(refused, InvalidInput)
    assert [e.code for e in refused.errors] == ["too_close_to_personal_info"]
    short = (await world.reset(token, "tX4!rLq9Zp")).failure()
    assert isinstance(short, InvalidInput)
    assert [e.code for e in short.errors] == ["too_short"]

    world.user().mfa_enabled_at = world.clock.now()  # with a second factor, 8 characters are enough
    assert await world.reset(token, "tX4!rLq9Zp") == Success(0)
