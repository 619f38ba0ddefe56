"""A core ``EmailMessage`` as an RFC 5322 message (stdlib ``email``): plain text with an HTML alternative."""

from __future__ import annotations

import email.message
import email.policy
from datetime import datetime
from email.utils import format_datetime

from clinic_core.notifications.ports import EmailMessage


def to_mime(message: EmailMessage, sender: str, at: datetime) -> email.message.EmailMessage:
    """Raises ``ValueError`` for a header value that would break the message (a line break in it)."""
    mime = email.message.EmailMessage(policy=email.policy.SMTP)
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(at)
    if message.reply_to:
        mime["Reply-To"] = message.reply_to
    for name, value in message.headers.items():
        mime[name] = value
    mime["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a no-reply sender
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime
