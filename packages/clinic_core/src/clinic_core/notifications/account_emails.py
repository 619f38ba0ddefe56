"""Account emails: the links that verify an address, reset a password, confirm an email change or accept
an invitation, and the notice to the old address of an email change.

A link whose token stopped working before the message left (a newer link retired it, it was used, it
expired while the mail server was down) is not sent: it would only lead to an error page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from clinic_core.application.unit_of_work import UnitOfWork
from clinic_core.identity.account_security import (
    EmailVerificationRequested,
    PasswordResetRequested,
    TokenPurpose,
)
from clinic_core.identity.email_change import EmailChangeNotice, EmailChangeRequested
from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.notifications.mailroom import ClinicDetails, Links, Mailroom, locale_of
from clinic_core.shared.ids import InvitationId, UserId
from clinic_core.shared.tokens import digest
from clinic_core.tenancy.model import MemberInvited, Tenant


def _when(payload: Any, key: str) -> datetime:
    return datetime.fromisoformat(str(payload[key]))


def _clinic(tenant: Tenant | None, payload: Mapping[str, Any]) -> ClinicDetails:
    """The clinic the account event speaks for; its name from the event if the tenant is gone."""
    return ClinicDetails.of(tenant) if tenant else ClinicDetails(str(payload["tenant_name"]), None)


class AccountLinkEmail:
    """Mails the account token of an ``identity.*_requested`` event as a link."""

    def __init__(
        self,
        mailroom: Mailroom,
        *,
        topic: str,
        template: str,
        purpose: TokenPurpose,
        link: Callable[[Links, str], str],
    ) -> None:
        self._mailroom, self._template, self._purpose, self._link = mailroom, template, purpose, link
        self.name = f"email.{topic}"
        self.topics = frozenset({topic})

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        payload = message.payload
        if "token" not in payload:  # handled already (the row was scrubbed): nothing left to send
            return Outcome.SKIPPED
        token = await uow.account_tokens.get_by_hash(digest(str(payload["token"])))
        if token is None or not token.is_usable(self._purpose, now):
            return Outcome.SKIPPED
        tenant = await uow.tenants.get(message.tenant_id)
        context = {
            "name": payload["name"],
            "clinic": _clinic(tenant, payload),
            "link": self._link(self._mailroom.links, str(payload["token"])),
            "token": payload["token"],
            "valid_for": _when(payload, "expires_at") - now,  # what is left of it, after any retries
        }
        return await self._mailroom.send(
            message,
            self.name,
            to=str(payload["email"]),
            template=self._template,
            locale=locale_of(tenant),
            context=context,
        )


class EmailChangeNoticeEmail:
    """Tells the current address that a change to another one was asked for (no link)."""

    def __init__(self, mailroom: Mailroom) -> None:
        self._mailroom = mailroom
        self.name = f"email.{EmailChangeNotice.topic}"
        self.topics = frozenset({EmailChangeNotice.topic})

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        payload = message.payload
        tenant = await uow.tenants.get(message.tenant_id)
        clinic = _clinic(tenant, payload)
        return await self._mailroom.send(
            message,
            self.name,
            to=str(payload["email"]),
            template="email_change_notice",
            locale=locale_of(tenant),
            context={"name": payload["name"], "new_email": payload["new_email"], "clinic": clinic},
        )


class InvitationEmail:
    """Mails an invitation's token to the invited address, in the name of who invited them."""

    def __init__(self, mailroom: Mailroom) -> None:
        self._mailroom = mailroom
        self.name = f"email.{MemberInvited.topic}"
        self.topics = frozenset({MemberInvited.topic})

    async def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Outcome:
        payload = message.payload
        invitation = await uow.invitations.get(InvitationId(UUID(str(payload["invitation_id"]))))
        tenant = await uow.tenants.get(message.tenant_id)
        if invitation is None or not invitation.is_usable(now) or tenant is None or "token" not in payload:
            return Outcome.SKIPPED
        inviter = await uow.users.get(UserId(UUID(str(payload["invited_by"]))))
        clinic = ClinicDetails.of(tenant)
        context = {
            "clinic": clinic,
            "inviter": inviter.name.value if inviter else clinic.name,
            "link": self._mailroom.links.accept_invitation(str(payload["token"])),
            "token": payload["token"],
            "valid_for": invitation.expires_at - now,
        }
        return await self._mailroom.send(
            message,
            self.name,
            to=invitation.email.value,
            template="member_invited",
            locale=tenant.locale,
            context=context,
            reply_to=clinic.contact_email,
        )


def account_email_handlers(
    mailroom: Mailroom,
) -> list[AccountLinkEmail | EmailChangeNoticeEmail | InvitationEmail]:
    return [
        AccountLinkEmail(
            mailroom,
            topic=EmailVerificationRequested.topic,
            template="email_verification",
            purpose=TokenPurpose.VERIFY_EMAIL,
            link=Links.verify_email,
        ),
        AccountLinkEmail(
            mailroom,
            topic=PasswordResetRequested.topic,
            template="password_reset",
            purpose=TokenPurpose.RESET_PASSWORD,
            link=Links.reset_password,
        ),
        AccountLinkEmail(
            mailroom,
            topic=EmailChangeRequested.topic,
            template="email_change",
            purpose=TokenPurpose.CHANGE_EMAIL,
            link=Links.confirm_email_change,
        ),
        EmailChangeNoticeEmail(mailroom),
        InvitationEmail(mailroom),
    ]
