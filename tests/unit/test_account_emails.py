"""Account emails on the in-memory fakes: each token event becomes one message with a working link, in
the clinic's language; a link that stopped working is not sent; a refused address is skipped and an
outage retried; a message handled twice is sent once, with a Message-ID derived from the outbox row."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.account_security import EmailVerificationRequested, PasswordResetRequested
from clinic_core.identity.email_change import (
    EmailChangeNotice,
    EmailChangeRequested,
    RequestEmailChange,
    RequestEmailChangeCommand,
)
from clinic_core.jobs.handlers import HandlerRun
from clinic_core.jobs.model import Outcome
from clinic_core.notifications.mailroom import Links
from clinic_core.notifications.ports import MailerUnavailable
from clinic_core.shared.values import Email
from clinic_core.tenancy.members import InviteMember, InviteMemberCommand
from clinic_core.tenancy.model import Locale, MemberInvited
from clinic_core.testing.jobs import outbox_message
from tests.unit.mail_world import MAIL_DOMAIN, PUBLIC_URL, MailWorld
from tests.unit.recovery_world import PASSWORD


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def link_in(text: str) -> str:
    return next(word for word in text.split() if word.startswith(PUBLIC_URL))


async def test_sign_up_mails_a_verification_link_in_portuguese_by_default() -> None:
    world = MailWorld()
    await world.sign_up()
    issued = world.verification_token()
    runs = await world.deliver(EmailVerificationRequested.topic)

    assert runs == [HandlerRun("email.identity.email_verification_requested", Outcome.DONE)]
    message = world.only("ana@example.com")
    assert message.subject == "Confirme seu e-mail para Clínica A"
    link = link_in(message.text)
    assert link.startswith(f"{PUBLIC_URL}/v1/auth/verify-email?token=")
    assert token_of(link) == issued
    assert "token" not in world.mailed(EmailVerificationRequested.topic)[0], "gone from the outbox once sent"
    assert "por 1 dia" in message.text
    assert f'href="{link}"' in message.html
    assert (await world.verify(token_of(link))).unwrap() is None, "the mailed link verifies the address"


async def test_the_message_id_comes_from_the_outbox_row_and_a_second_delivery_sends_nothing() -> None:
    world = MailWorld()
    await world.sign_up()
    row = next(r for r in world.uow.store.outbox if r.topic == EmailVerificationRequested.topic)
    await world.deliver(EmailVerificationRequested.topic)

    again = await world.handle(outbox_message(row))

    assert again == [HandlerRun("email.identity.email_verification_requested", Outcome.DUPLICATE)]
    [message] = world.mailer.sent
    assert message.message_id == f"<{row.id}.email.identity.email_verification_requested@{MAIL_DOMAIN}>"


async def test_a_clinic_in_english_mails_in_english() -> None:
    world = MailWorld()
    signed = await world.sign_up()
    world.uow.store.tables.tenants[signed.tenant.id].locale = Locale.EN
    await world.forgot("ana@example.com")
    await world.deliver(PasswordResetRequested.topic)

    message = world.only("ana@example.com")
    assert message.subject == "Reset your password"
    assert "30 minutes" in message.text
    assert link_in(message.text).startswith(f"{PUBLIC_URL}/v1/auth/reset-password?token=")


async def test_a_reset_link_replaced_by_a_newer_one_is_not_sent() -> None:
    world = MailWorld()
    await world.sign_up()
    await world.forgot("ana@example.com")
    world.clock.advance(timedelta(minutes=1))
    await world.forgot("ana@example.com")
    newest = world.reset_token()

    runs = await world.deliver(PasswordResetRequested.topic)

    assert [run.outcome for run in runs] == [Outcome.SKIPPED, Outcome.DONE]
    message = world.only("ana@example.com")
    assert token_of(link_in(message.text)) == newest


async def test_an_email_change_mails_the_link_to_the_new_address_and_a_notice_to_the_old() -> None:
    world = MailWorld()
    await world.sign_up()
    actor = world.actor_of((await world.log_in()).unwrap())
    request = RequestEmailChange(world.uow, world.hasher, world.clock)
    (await request(RequestEmailChangeCommand(actor, PASSWORD, "ana@novo.com.br"))).unwrap()

    await world.deliver(EmailChangeRequested.topic)
    await world.deliver(EmailChangeNotice.topic)

    link = link_in(world.only("ana@novo.com.br").text)
    assert link.startswith(f"{PUBLIC_URL}/v1/auth/confirm-email-change?token=")
    notice = world.only("ana@example.com")
    assert "ana@novo.com.br" in notice.text
    assert PUBLIC_URL not in notice.text, "the notice carries no link"


async def test_an_invitation_mails_the_token_the_inviter_got_with_the_clinic_as_reply_to() -> None:
    world = MailWorld()
    signed = await world.sign_up()
    world.uow.store.tables.tenants[signed.tenant.id].contact_email = Email("contato@clinica-a.com.br")
    actor = world.actor_of((await world.log_in()).unwrap())
    issued = (
        await InviteMember(world.uow, world.clock)(
            InviteMemberCommand(actor, "rafa@example.com", frozenset({"receptionist"}))
        )
    ).unwrap()

    await world.deliver(MemberInvited.topic)

    message = world.only("rafa@example.com")
    assert message.subject == "Ana Souza convidou você para Clínica A"
    link = link_in(message.text)
    assert link.startswith(f"{PUBLIC_URL}/v1/invitations/accept?token=")
    assert token_of(link) == issued.token
    assert message.reply_to == "contato@clinica-a.com.br"
    assert "contato@clinica-a.com.br" in message.text


async def test_a_revoked_invitation_is_not_mailed() -> None:
    world = MailWorld()
    await world.sign_up()
    actor = world.actor_of((await world.log_in()).unwrap())
    issued = (
        await InviteMember(world.uow, world.clock)(
            InviteMemberCommand(actor, "rafa@example.com", frozenset({"receptionist"}))
        )
    ).unwrap()
    async with world.uow(Scope(tenant_id=actor.tenant_id)) as tx:
        invitation = await tx.invitations.get(issued.invitation.id)
        assert invitation is not None
        invitation.revoked_at = world.clock.now()
        await tx.invitations.save(invitation)
        await tx.commit()

    runs = await world.deliver(MemberInvited.topic)

    assert [run.outcome for run in runs] == [Outcome.SKIPPED]
    assert world.mailer.sent == []


async def test_a_refused_address_is_skipped_and_an_outage_is_retried() -> None:
    world = MailWorld()
    await world.sign_up()
    world.mailer.rejected.add("ana@example.com")
    assert [r.outcome for r in await world.deliver(EmailVerificationRequested.topic)] == [Outcome.SKIPPED]

    await world.forgot("ana@example.com")
    world.mailer.rejected.clear()
    world.mailer.down = 1
    row = next(r for r in world.uow.store.outbox if r.topic == PasswordResetRequested.topic)
    with pytest.raises(MailerUnavailable):
        await world.handle(outbox_message(row))
    assert world.mailer.sent == []
    # The receipt was rolled back with the failed attempt: the retry sends.
    assert [r.outcome for r in await world.handle(outbox_message(row))] == [Outcome.DONE]
    assert len(world.mailer.to("ana@example.com")) == 1


def test_links_lead_to_the_web_app_when_one_is_configured() -> None:
    links = Links("https://api.clinic.example.com", "https://app.clinic.example.com/")
    assert links.verify_email("a b") == "https://app.clinic.example.com/verify-email?token=a+b"
    assert links.accept_invitation("t") == "https://app.clinic.example.com/accept-invitation?token=t"
    without_app = Links("https://api.clinic.example.com")
    assert without_app.reset_password("t") == "https://api.clinic.example.com/v1/auth/reset-password?token=t"
    assert without_app.confirm_email_change("t") == (
        "https://api.clinic.example.com/v1/auth/confirm-email-change?token=t"
    )
