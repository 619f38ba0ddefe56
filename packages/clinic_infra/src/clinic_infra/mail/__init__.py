"""Email adapters: SMTP (``aiosmtplib``), ``.eml`` files for the embedded default, Jinja templates."""
