"""Settings, read from ``CLINIC_*`` environment variables (every one is listed in the README)."""

from __future__ import annotations

import os
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clinic_core.tenancy.model import Plan


def default_data_dir() -> Path:
    """Where the embedded defaults keep their files: outside the repository, per user (XDG)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "clinic"


class SmtpTls(StrEnum):
    STARTTLS = "starttls"
    """Connect in plain text, then upgrade with STARTTLS (submission, port 587); refuse a server without it."""
    TLS = "tls"
    """TLS from the first byte (implicit TLS, port 465)."""
    NONE = "none"
    """No encryption (a relay on the same host or a test server only)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIC_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Files of the embedded defaults: SQLite database, generated signing key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL the API and worker use (postgresql://... or sqlite:///...). "
        "Default: a SQLite file in the data directory.",
    )
    migrations_database_url: str | None = Field(
        default=None,
        description="URL of the table owner, used by `clinic-admin migrate`. Default: database_url.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_role: str | None = Field(
        default="clinic_app",
        description="PostgreSQL role the API and worker act as (SET ROLE), so row-level security holds even "
        "when the login is a superuser or the owner. Empty: act as the login itself.",
    )
    allow_rls_bypass: bool = Field(
        default=False,
        description="Start even when the database role escapes row-level security (never in production).",
    )
    redis_url: str | None = Field(
        default=None, description="Redis for the rate limiter and the job queue. Default: none (in-process)."
    )
    redis_key_prefix: str = Field(
        default="clinic:", description="Prefix of every Redis key this deployment writes."
    )
    rate_limit_login_per_ip: int = Field(
        default=5, ge=1, description="Login attempts per minute per client IP."
    )
    rate_limit_login_per_email: int = Field(
        default=10, ge=1, description="Login attempts per minute per email."
    )
    rate_limit_signup_per_ip: int = Field(default=3, ge=1, description="Sign-ups per hour per client IP.")
    rate_limit_refresh_per_ip: int = Field(
        default=60, ge=1, description="Token refreshes per minute per client IP."
    )
    rate_limit_accept_invitation_per_ip: int = Field(
        default=10, ge=1, description="Invitation accepts per minute per IP."
    )
    rate_limit_anonymous_per_ip: int = Field(
        default=100, ge=1, description="Requests per minute per client IP without a credential."
    )
    rate_limit_per_user: int = Field(
        default=300, ge=1, description="Requests per minute per signed-in person."
    )
    rate_limit_per_api_key: int = Field(default=600, ge=1, description="Requests per minute per API key.")
    rate_limit_per_tenant_plan: dict[str, int] = Field(
        default={"trial": 600, "clinic": 3000, "franchise": 15000},
        description="Requests per minute per clinic, by plan (JSON).",
    )
    rate_limit_fail_open: str = Field(
        default="read",
        description="Route classes served uncounted while Redis is unreachable (comma-separated).",
    )
    rate_limit_forgot_password_per_ip: int = Field(
        default=5, ge=1, description="Password reset requests per minute per client IP."
    )
    rate_limit_account_token_per_ip: int = Field(
        default=10, ge=1, description="Verification and reset links opened per minute per client IP."
    )
    rate_limit_resend_verification_per_account: int = Field(
        default=3, ge=1, description="Verification emails asked for per hour per account."
    )
    cors_origins: str = Field(
        default="", description="Comma-separated browser origins allowed to call the API."
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For/-Proto are believed (comma-separated IPs, or *): the client IP "
        "that per-IP rate limits count comes from them.",
    )
    session_cache_seconds: float = Field(
        default=15.0,
        ge=0,
        le=300,
        description="How long an API process trusts what it learnt of a session; logout and revocation take "
        "effect within it on every process.",
    )
    session_idle_timeout_minutes: int = Field(
        default=30,
        ge=16,
        le=30 * 24 * 60,
        description="A session without a token refresh for this long ends (NIST 800-63B AAL2: 30).",
    )
    session_lifetime_hours: int = Field(
        default=12,
        ge=1,
        le=90 * 24,
        description="A session ends this long after sign-in, however active (NIST 800-63B AAL2: 12).",
    )
    no_show_grace_minutes: int = Field(
        default=60,
        ge=0,
        le=7 * 24 * 60,
        description="A pending or confirmed appointment whose start is this long past becomes a no-show.",
    )
    outbox_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Outbox rows (and their handler receipts) are deleted this long after they were handled.",
    )
    attachment_max_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="Largest attachment accepted, in bytes (413 beyond).",
    )
    blob_dir: Path | None = Field(
        default=None,
        description="Directory of attachments' content (the filesystem blob store). Default: blobs/ in the "
        "data directory.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server that sends the emails. Unset: emails are written as .eml files to the mail "
        "directory instead.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server's port.")
    smtp_username: str | None = Field(default=None, description="SMTP login (AUTH); unset: no login.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_tls: SmtpTls = Field(
        default=SmtpTls.STARTTLS,
        description="`starttls` (upgrade a plain connection; refused without it), `tls` (implicit TLS, "
        "port 465) or `none`.",
    )
    smtp_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How long a whole SMTP exchange (connect, TLS, send) may take before the job is retried.",
    )
    mail_from: str = Field(
        default="Clinic <no-reply@localhost>",
        description="Sender of every email (`Name <address>`); its domain ends the Message-IDs.",
    )
    mail_dir: Path | None = Field(
        default=None,
        description="Where emails are written as .eml files when no SMTP server is set. Default: mail/ in the "
        "data directory.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="Base URL clients reach the API at.")
    app_url: str | None = Field(
        default=None,
        description="Base URL of the web app whose pages take the links of emails (/verify-email, "
        "/reset-password, /confirm-email-change, /accept-invitation, each with ?token=). Default: the API's "
        "own token paths under the public URL.",
    )
    jwt_private_key: SecretStr | None = Field(default=None, description="PEM of the RS256 signing key.")
    jwt_private_key_file: Path | None = Field(
        default=None,
        description="File with the PEM signing key. Default: generated once in the data directory.",
    )
    jwt_previous_keys_file: Path | None = Field(
        default=None,
        description="PEM private keys that no longer sign but still verify (and are published), after a "
        "rotation of a configured key. Without a configured key, `clinic-admin keys rotate` manages them.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="base64url of 32 random bytes: the AES-256-GCM key that encrypts stored TOTP secrets. "
        "Default: generated once in the data directory (secret-box.key, mode 0600).",
    )
    rate_limit_mfa_verify_per_ip: int = Field(
        default=20, ge=1, description="Second-factor codes per minute per client IP (sign-in and enrolment)."
    )
    webhook_allow_private_hosts: bool = Field(
        default=False,
        description="Let webhook endpoints be http:// URLs and reach private, loopback and link-local "
        "addresses (tests, a receiver on the clinic's own network). Never on a shared deployment.",
    )
    webhook_disable_after_failures: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Consecutive failed deliveries after which a webhook endpoint is disabled.",
    )
    jwt_issuer: str = "clinic"
    jwt_audience: str = "clinic-api"
    log_level: str = "INFO"
    password_hash_concurrency: int = Field(
        default=4, ge=1, description="Argon2id hashes computed at once (each takes 19 MiB and ~40 ms of CPU)."
    )

    @field_validator("rate_limit_per_tenant_plan")
    @classmethod
    def _known_plans(cls, budgets: dict[str, int]) -> dict[str, int]:
        known = {plan.value for plan in Plan}
        unknown = sorted(set(budgets) - known)
        if unknown:
            raise ValueError(f"unknown plans {unknown}; the plans are {sorted(known)}")
        if any(limit < 1 for limit in budgets.values()):
            raise ValueError("every budget must be at least 1 request per minute")
        return budgets

    @field_validator("mail_from")
    @classmethod
    def _sender_address(cls, sender: str) -> str:
        _, address = parseaddr(sender)
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise ValueError("give an address, optionally with a name: Clinic <no-reply@example.com>")
        return sender

    @property
    def mail_domain(self) -> str:
        """The sender address's domain."""
        return parseaddr(self.mail_from)[1].rpartition("@")[2]

    @property
    def effective_mail_dir(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'clinic.sqlite3'}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def effective_migrations_url(self) -> str:
        return self.migrations_database_url or self.effective_database_url

    @property
    def effective_public_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104 - comparing, not binding
        return self.public_url or f"http://{host}:{self.port}"
