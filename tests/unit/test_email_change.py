"""Changing one's email on the in-memory fakes: the password first, the new address proves itself with a
single-use link, the old address is told, a taken address looks the same from outside and cannot be
completed, and the other sessions end when asked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction
from clinic_core.identity.account_security import (
    InvalidAccountToken,
    SignInFailures,
    TokenPurpose,
    address_key,
)
from clinic_core.identity.email_change import (
    ConfirmEmailChange,
    ConfirmEmailChangeCommand,
    EmailChangeNotice,
    EmailChangeRequested,
    EmailInUse,
    RequestEmailChange,
    RequestEmailChangeCommand,
)
from clinic_core.identity.model import InvalidCredentials, RevocationReason, User
from clinic_core.identity.sessions import CheckSession
from clinic_core.identity.throttling import SignInThrottled
from clinic_core.shared.errors import DomainError, FieldError, InvalidInput
from clinic_core.shared.values import Email
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from tests.unit.recovery_world import PASSWORD, World

OLD = "ana@example.com"
NEW = "ana.souza@novo.com.br"


class EmailWorld(World):
    async def signed_in(self, email: str = OLD) -> Actor:
        return self.actor_of((await self.log_in(email)).unwrap())

    async def request(
        self, actor: Actor, new_email: str = NEW, *, password: str = PASSWORD, end_other_sessions: bool = True
    ) -> Success[None] | Failure[DomainError]:
        request = RequestEmailChange(self.uow, self.hasher, self.clock)
        return await request(  # type: ignore[return-value]
            RequestEmailChangeCommand(actor, password, new_email, end_other_sessions=end_other_sessions)
        )

    async def confirm(self, token: str) -> Success[int] | Failure[DomainError]:
        return await ConfirmEmailChange(self.uow, self.clock)(ConfirmEmailChangeCommand(token))  # type: ignore[return-value]

    def change_token(self, email: str = NEW) -> str:
        token: str = self.mailed(EmailChangeRequested.topic, email)[-1]["token"]
        return token

    async def stands(self, actor: Actor) -> bool:
        return (await CheckSession(self.uow, self.clock)(actor)).active


class BlindToEmails(InMemoryUnitOfWorkFactory):
    """Units of work whose ``users.get_by_email`` finds nobody: what a transaction sees of a sign-up that
    has not committed yet."""

    def __call__(self, scope: Scope, *, read_only: bool = False) -> InMemoryUnitOfWork:
        return _Blind(self.store, scope, read_only=read_only)


class _Blind(InMemoryUnitOfWork):
    def _build(self) -> None:
        super()._build()

        async def nobody(_email: Email) -> User | None:
            return None

        self.users.get_by_email = nobody  # type: ignore[method-assign, assignment]


@pytest.fixture
async def world() -> EmailWorld:
    world = EmailWorld()
    await world.sign_up()
    return world


async def test_the_change_takes_effect_only_with_the_link_mailed_to_the_new_address(
    world: EmailWorld,
) -> None:
    actor = await world.signed_in()

    assert await world.request(actor) == Success(None)
    assert world.user().email.value == OLD  # nothing changed yet
    assert isinstance(await world.log_in(NEW), Failure)

    assert await world.confirm(world.change_token()) == Success(0)
    user = world.user(NEW)
    assert user.email_verified_at == world.clock.now()
    assert isinstance(await world.log_in(NEW), Success)
    assert (await world.log_in(OLD)).failure() == InvalidCredentials()


async def test_the_old_address_is_told_without_a_link_and_the_new_one_gets_the_link(
    world: EmailWorld,
) -> None:
    actor = await world.signed_in()
    await world.request(actor)

    [notice] = world.mailed(EmailChangeNotice.topic, OLD)
    assert notice["new_email"] == NEW
    assert "token" not in notice
    [link] = world.mailed(EmailChangeRequested.topic, NEW)
    assert link["tenant_name"] == "Clínica A"
    [stored] = [
        t for t in world.uow.store.tables.account_tokens.values() if t.purpose is TokenPurpose.CHANGE_EMAIL
    ]
    assert stored.email.value == NEW
    assert stored.token_hash != link["token"]  # only the digest is kept


async def test_a_wrong_password_is_a_field_error_and_sends_nothing(world: EmailWorld) -> None:
    actor = await world.signed_in()
    refused = await world.request(actor, password="not the password")
    assert refused.failure() == InvalidInput(
        (FieldError("current_password", "wrong_password", "the current password is wrong"),)
    )
    assert world.mailed(EmailChangeRequested.topic, NEW) == []
    assert world.mailed(EmailChangeNotice.topic, OLD) == []


@pytest.mark.parametrize("new_email", [OLD, "  ANA@Example.COM "])
async def test_the_same_address_is_refused(world: EmailWorld, new_email: str) -> None:
    refused = await world.request(await world.signed_in(), new_email)
    failure = refused.failure()
    assert isinstance(failure, InvalidInput)
    assert [(e.field, e.code) for e in failure.errors] == [("new_email", "unchanged")]


async def test_a_malformed_address_is_a_field_error(world: EmailWorld) -> None:
    failure = (await world.request(await world.signed_in(), "not an address")).failure()
    assert isinstance(failure, InvalidInput)
    assert [e.field for e in failure.errors] == ["new_email"]


async def test_an_address_of_another_account_answers_alike_and_cannot_be_completed(world: EmailWorld) -> None:
    await world.sign_up("bia@example.com", "Clínica B")
    actor = await world.signed_in()

    free = await world.request(actor, "free@example.com")
    taken = await world.request(actor, "bia@example.com")

    assert free == taken == Success(None)
    # The old address hears of both alike; only the free address gets a link.
    assert [n["new_email"] for n in world.mailed(EmailChangeNotice.topic, OLD)] == [
        "free@example.com",
        "bia@example.com",
    ]
    assert world.mailed(EmailChangeRequested.topic, "bia@example.com") == []
    assert world.mailed(EmailChangeNotice.topic, "bia@example.com") == []
    # Asking for the taken address retired the link to the free one too: its fate tells nothing.
    assert (await world.confirm(world.change_token("free@example.com"))).failure() == InvalidAccountToken()
    assert world.user().email.value == OLD
    assert world.user("bia@example.com").name.value == "Ana Souza"
    assert len(world.audit(AuditAction.EMAIL_CHANGE_REQUESTED)) == 2


async def test_the_token_works_once(world: EmailWorld) -> None:
    await world.request(await world.signed_in())
    token = world.change_token()
    assert isinstance(await world.confirm(token), Success)
    assert (await world.confirm(token)).failure() == InvalidAccountToken()


async def test_the_token_expires_after_24_hours(world: EmailWorld) -> None:
    await world.request(await world.signed_in())
    token = world.change_token()
    world.clock.advance(timedelta(hours=24))
    assert (await world.confirm(token)).failure() == InvalidAccountToken()
    assert world.user().email.value == OLD


async def test_the_token_still_works_just_before_24_hours(world: EmailWorld) -> None:
    await world.request(await world.signed_in())
    world.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert isinstance(await world.confirm(world.change_token()), Success)


async def test_a_new_request_retires_the_older_link(world: EmailWorld) -> None:
    actor = await world.signed_in()
    await world.request(actor, "first@example.com")
    first = world.change_token("first@example.com")
    await world.request(actor, "second@example.com")

    assert (await world.confirm(first)).failure() == InvalidAccountToken()
    assert isinstance(await world.confirm(world.change_token("second@example.com")), Success)
    assert world.user("second@example.com").id == actor.user_id


async def test_other_tokens_do_not_change_the_email(world: EmailWorld) -> None:
    await world.forgot(OLD)
    assert (await world.confirm(world.reset_token())).failure() == InvalidAccountToken()
    assert (await world.confirm("made up")).failure() == InvalidAccountToken()


async def test_the_address_taken_after_the_request_is_refused_and_nothing_changes(world: EmailWorld) -> None:
    await world.request(await world.signed_in())
    token = world.change_token()
    await world.sign_up(NEW, "Clínica B")

    assert (await world.confirm(token)).failure() == EmailInUse()
    assert world.user().email.value == OLD
    assert world.audit(AuditAction.EMAIL_CHANGED) == []


async def test_the_unique_constraint_settles_a_sign_up_the_check_could_not_see(world: EmailWorld) -> None:
    """A sign-up that the confirmation's lookup cannot see (on a database: not committed yet when it
    looked) still stops it: the unique constraint fires, and the confirmation answers as if it had seen."""
    await world.request(await world.signed_in())
    token = world.change_token()
    await world.sign_up(NEW, "Clínica B")

    assert (
        await ConfirmEmailChange(BlindToEmails(world.uow.store), world.clock)(
            ConfirmEmailChangeCommand(token)
        )
    ).failure() == EmailInUse()
    assert world.user().email.value == OLD
    assert world.audit(AuditAction.EMAIL_CHANGED) == []
    assert isinstance(await world.confirm(token), Failure)  # not spent, but still refused


async def test_other_sessions_end_when_asked_and_the_asking_one_stays(world: EmailWorld) -> None:
    asking = await world.signed_in()
    phone = await world.signed_in()
    await world.request(asking, end_other_sessions=True)

    assert await world.confirm(world.change_token()) == Success(1)
    assert await world.stands(asking)
    assert not await world.stands(phone)
    ended = world.uow.store.tables.sessions[phone.session_id]  # type: ignore[index]
    assert ended.revoked_reason is RevocationReason.EMAIL_CHANGED
    [revoked] = world.audit(AuditAction.SESSION_REVOKED)
    assert revoked.details == {"reason": "email_changed", "sessions": 1}


async def test_other_sessions_stay_when_not_asked(world: EmailWorld) -> None:
    asking = await world.signed_in()
    phone = await world.signed_in()
    await world.request(asking, end_other_sessions=False)

    assert await world.confirm(world.change_token()) == Success(0)
    assert await world.stands(asking)
    assert await world.stands(phone)
    assert world.audit(AuditAction.SESSION_REVOKED) == []


async def test_the_change_is_audited_in_the_home_clinic(world: EmailWorld) -> None:
    actor = await world.signed_in()
    await world.request(actor)
    await world.confirm(world.change_token())

    [requested] = world.audit(AuditAction.EMAIL_CHANGE_REQUESTED)
    assert requested.tenant_id == actor.tenant_id
    assert requested.details == {"end_other_sessions": True}
    [changed] = world.audit(AuditAction.EMAIL_CHANGED)
    assert changed.tenant_id == actor.tenant_id
    assert changed.actor_user_id == actor.user_id
    assert changed.target is not None
    assert changed.target.id == str(actor.user_id)
    # No address, old or new, in the trail: the trail is the clinic's, the address is the person's.
    assert OLD not in str(changed.details)
    assert NEW not in str(changed.details)


async def test_failed_sign_ins_under_the_old_address_are_dropped_and_those_under_the_new_kept(
    world: EmailWorld,
) -> None:
    actor = await world.signed_in()
    while not isinstance((await world.log_in(password="wrong password!")).failure(), SignInThrottled):
        pass
    at = world.clock.now()
    world.uow.store.tables.sign_in_failures[(address_key(NEW), "")] = SignInFailures(
        key_hash=address_key(NEW), device_hash="", failures=3, first_failed_at=at, last_failed_at=at
    )
    await world.request(actor)
    await world.confirm(world.change_token())

    keys = {key for key, _device in world.uow.store.tables.sign_in_failures}
    assert address_key(OLD) not in keys
    assert world.uow.store.tables.sign_in_failures[(address_key(NEW), "")].failures == 3


async def test_a_second_account_can_then_sign_up_with_the_old_address(world: EmailWorld) -> None:
    await world.request(await world.signed_in())
    await world.confirm(world.change_token())
    command = SignUpCommand("Clínica C", "Centro", "America/Sao_Paulo", "Outra Ana", OLD, PASSWORD)
    assert isinstance(await SignUp(world.uow, world.hasher, world.clock)(command), Success)
