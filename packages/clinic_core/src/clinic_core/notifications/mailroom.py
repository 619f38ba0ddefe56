"""What every email handler shares: rendering in the tenant's locale, the Message-ID, the links, the
clinic's details, and turning a refused recipient into a skip."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import phonenumbers

from clinic_core.jobs.model import OutboxMessage, Outcome
from clinic_core.notifications.ports import (
    EmailMessage,
    EmailRenderer,
    Mailer,
    RecipientRejected,
    message_id,
)
from clinic_core.tenancy.model import Address, Locale, Tenant, Unit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Links:
    """Links in emails to the pages that take each token.

    With ``app_url`` (the clinic web app that serves those pages), links go to its ``/verify-email``,
    ``/reset-password``, ``/confirm-email-change`` and ``/accept-invitation``, with ``?token=``: the page
    posts the token to the API. Without it, they go to the API paths that consume each token, under the API's
    public URL (``base_url``): a client, or a person with the interactive docs, posts the token there.
    """

    base_url: str
    app_url: str | None = None

    def verify_email(self, token: str) -> str:
        return self._link("/verify-email", "/v1/auth/verify-email", token)

    def reset_password(self, token: str) -> str:
        return self._link("/reset-password", "/v1/auth/reset-password", token)

    def confirm_email_change(self, token: str) -> str:
        return self._link("/confirm-email-change", "/v1/auth/confirm-email-change", token)

    def accept_invitation(self, token: str) -> str:
        return self._link("/accept-invitation", "/v1/invitations/accept", token)

    def _link(self, app_path: str, api_path: str, token: str) -> str:
        base, path = (self.app_url, app_path) if self.app_url else (self.base_url, api_path)
        return f"{base.rstrip('/')}{path}?{urlencode({'token': token})}"


@dataclass(frozen=True, slots=True)
class ClinicDetails:
    """How an email names the clinic and says how to reach it."""

    name: str
    contact_email: str | None
    unit_name: str | None = None
    phone: str | None = None
    address: str | None = None

    @classmethod
    def of(cls, tenant: Tenant, unit: Unit | None = None) -> ClinicDetails:
        return cls(
            name=tenant.name,
            contact_email=tenant.contact_email.value if tenant.contact_email else None,
            unit_name=unit.name if unit else None,
            phone=_readable_phone(unit.phone.value) if unit and unit.phone else None,
            address=_one_line(unit.address) if unit and unit.address else None,
        )


def _readable_phone(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _one_line(address: Address) -> str:
    city = f"{address.city} - {address.state}" if address.state else address.city
    parts = (address.line1, address.line2, address.district, city, address.postal_code)
    return ", ".join(part for part in parts if part)


@dataclass(frozen=True, slots=True)
class Mailroom:
    """Renders a template and hands the message to the mailer."""

    mailer: Mailer
    renderer: EmailRenderer
    links: Links
    message_id_domain: str
    """The right-hand side of the Message-IDs (the sender address's domain)."""

    async def send(
        self,
        message: OutboxMessage,
        handler: str,
        *,
        to: str,
        template: str,
        locale: Locale,
        context: Mapping[str, Any],
        reply_to: str | None = None,
        part: str | None = None,
    ) -> Outcome:
        rendered = self.renderer.render(template, locale, context)
        email = EmailMessage(
            to=to,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            reply_to=reply_to,
            headers={"Message-ID": message_id(message.id, handler, self.message_id_domain, part)},
        )
        try:
            await self.mailer.send(email)
        except RecipientRejected as refusal:
            # The address is not logged: it is personal data, and the outbox id leads to it.
            log.warning("outbox message %s (%s): recipient refused: %s", message.id, handler, refusal)
            return Outcome.SKIPPED
        return Outcome.DONE


def locale_of(tenant: Tenant | None) -> Locale:
    return tenant.locale if tenant else Locale.PT_BR
