"""Email to the people a clinic deals with: account links, invitations, appointment notices.

Handlers of outbox messages (``clinic_core.jobs.handlers.MessageHandler``) turn events into messages,
rendered in the tenant's locale by an ``EmailRenderer`` and handed to a ``Mailer``. Both are ports: the
adapters (SMTP, ``.eml`` files, Jinja templates) live in ``clinic_infra.mail``.
"""
