"""Every email handler, for the composition root to register."""

from __future__ import annotations

from clinic_core.jobs.handlers import MessageHandler
from clinic_core.notifications.account_emails import account_email_handlers
from clinic_core.notifications.appointment_emails import appointment_email_handlers
from clinic_core.notifications.mailroom import Mailroom
from clinic_core.notifications.staff_emails import WebhookDisabledEmail


def email_handlers(mailroom: Mailroom) -> list[MessageHandler]:
    return [
        *account_email_handlers(mailroom),
        *appointment_email_handlers(mailroom),
        WebhookDisabledEmail(mailroom),
    ]
