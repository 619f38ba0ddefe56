"""The schema, as SQLAlchemy Core tables. Domain classes stay plain: repositories map rows by hand.

Tenant-owned tables lead their primary key with ``tenant_id`` and reference each other through composite
foreign keys that include it, so a row can never point into another tenant, and the schema can later be
split by tenant. On PostgreSQL they also carry row-level security (see the migrations).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
    true,
)

from clinic_infra.db.types import JsonDocument, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- control plane: global tables -------------------------------------------------------------------------

tenants = Table(
    "tenants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("slug", String(63), nullable=False),
    Column("name", String(120), nullable=False),
    Column("plan", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("security", JsonDocument, nullable=False, server_default="{}"),
    Column("patients_shared_across_units", Boolean, nullable=False, server_default=true()),
    Column("locale", String(10), nullable=False, server_default="pt-BR"),
    Column("contact_email", String(254), nullable=True),
    UniqueConstraint("slug", name="uq_tenants_slug"),
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("email_verified_at", UtcDateTime),
    # The second factor: secrets as the SecretBox encrypted them, never in clear.
    Column("mfa_secret", String(255)),
    Column("mfa_pending_secret", String(255)),
    Column("mfa_enabled_at", UtcDateTime),
    Column("mfa_last_step", BigInteger),
    UniqueConstraint("email", name="uq_users_email"),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("idle_expires_at", UtcDateTime),
    Column("user_agent", String(512)),
    Column("ip", String(45)),
    Column("device_label", String(100)),
    Column("fingerprint_hash", String(64)),
    Column("revoked_at", UtcDateTime),
    Column("revoked_reason", String(40)),
    Index("ix_auth_sessions_user_id", "user_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_id", Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("rotated_at", UtcDateTime),
    UniqueConstraint("token_hash", name="uq_refresh_tokens_hash"),
    Index("ix_refresh_tokens_session_id", "session_id"),
)

mfa_recovery_codes = Table(
    "mfa_recovery_codes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Index("ix_mfa_recovery_codes_user_id", "user_id"),
)

mfa_challenges = Table(
    "mfa_challenges",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("device_label", String(100)),
    Column("fingerprint_hash", String(64)),
    Column("ip", String(45)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("used_at", UtcDateTime),
    UniqueConstraint("token_hash", name="uq_mfa_challenges_token_hash"),
)

account_tokens = Table(
    "account_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("email", String(254), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    # An email change's options, chosen when it was asked for and applied when the link is opened.
    Column("end_other_sessions", Boolean, nullable=False, server_default=false()),
    Column("session_id", Uuid),
    UniqueConstraint("token_hash", name="uq_account_tokens_hash"),
    Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),
)

password_reset_requests = Table(
    "password_reset_requests",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email_hash", String(64), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Index("ix_password_reset_requests_email_hash_requested_at", "email_hash", "requested_at"),
)

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key_hash", String(64), nullable=False),
    Column("device_hash", String(64), nullable=False, server_default=""),
    Column("failures", Integer, nullable=False),
    Column("first_failed_at", UtcDateTime, nullable=False),
    Column("last_failed_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
    PrimaryKeyConstraint("key_hash", "device_hash", name="pk_sign_in_failures"),
)

# --- tenant-owned tables (row-level security on PostgreSQL) --------------------------------------------------

units = Table(
    "units",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("name", String(120), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("phone", String(20)),
    Column("address", JsonDocument),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_units"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False),
    Column("roles", JsonDocument, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_memberships"),
    UniqueConstraint("tenant_id", "user_id", name="uq_memberships_tenant_user"),
    # The one lookup that starts from a user rather than a tenant: "which clinics can I sign in to?"
    Index("ix_memberships_user_id", "user_id", "tenant_id"),
)

membership_units = Table(
    "membership_units",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("membership_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    PrimaryKeyConstraint("tenant_id", "membership_id", "unit_id", name="pk_membership_units"),
    ForeignKeyConstraint(
        ["tenant_id", "membership_id"],
        ["memberships.tenant_id", "memberships.id"],
        ondelete="CASCADE",
        name="fk_membership_units_membership",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "unit_id"],
        ["units.tenant_id", "units.id"],
        ondelete="RESTRICT",
        name="fk_membership_units_unit",
    ),
)

invitations = Table(
    "invitations",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("email", String(254), nullable=False),
    Column("roles", JsonDocument, nullable=False),
    Column("unit_ids", JsonDocument, nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("invited_by", Uuid, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("accepted_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_invitations"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("topic", String(100), nullable=False),
    Column("payload", JsonDocument, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("handled_at", UtcDateTime),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_outbox"),
    # What the relay scans: rows no handler has finished, oldest first (migration 0017).
    Index(
        "ix_outbox_pending",
        "occurred_at",
        postgresql_where="handled_at IS NULL",
        sqlite_where=text("handled_at IS NULL"),
    ),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("action", String(60), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor_user_id", Uuid),
    Column("actor_api_key_id", Uuid),
    Column("target_kind", String(40)),
    Column("target_id", String(64)),
    Column("ip", String(45)),
    Column("user_agent", String(512)),
    Column("request_id", String(128)),
    Column("details", JsonDocument, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_audit_events"),
    # Filters an admin uses: by action and by person, newest first (ids are time-ordered).
    Index("ix_audit_events_tenant_id_action_id", "tenant_id", "action", "id"),
    Index("ix_audit_events_tenant_id_actor_user_id_id", "tenant_id", "actor_user_id", "id"),
)

roles = Table(
    "roles",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("name", String(60), nullable=False),
    # The name as compared: case and spacing folded, so "Financeiro" and "financeiro " are one name.
    Column("name_key", String(60), nullable=False),
    Column("description", String(300), nullable=False),
    Column("permissions", JsonDocument, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_roles"),
    UniqueConstraint("tenant_id", "name_key", name="uq_roles_tenant_id_name_key"),
)

membership_roles = Table(
    "membership_roles",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("membership_id", Uuid, nullable=False),
    Column("role_id", Uuid, nullable=False),
    PrimaryKeyConstraint("tenant_id", "membership_id", "role_id", name="pk_membership_roles"),
    ForeignKeyConstraint(
        ["tenant_id", "membership_id"],
        ["memberships.tenant_id", "memberships.id"],
        ondelete="CASCADE",
        name="fk_membership_roles_membership",
    ),
    # RESTRICT: a role still held cannot vanish from under its members (the use case says 409 first).
    ForeignKeyConstraint(
        ["tenant_id", "role_id"],
        ["roles.tenant_id", "roles.id"],
        ondelete="RESTRICT",
        name="fk_membership_roles_role",
    ),
    Index("ix_membership_roles_tenant_id_role_id", "tenant_id", "role_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JsonDocument, nullable=False),
    Column("allowed_cidrs", JsonDocument, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_api_keys"),
    UniqueConstraint("tenant_id", "prefix", name="uq_api_keys_tenant_id_prefix"),
)

# --- global index of API keys ---------------------------------------------------------------------------

api_key_prefixes = Table(
    "api_key_prefixes",
    metadata,
    # Which tenant a presented key belongs to, read before any tenant is in scope (api_keys is invisible
    # then). Holds nothing secret: the prefix is shown in lists, and the digest stays in api_keys.
    Column("prefix", String(16), primary_key=True),
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
)

TENANT_TABLES = (
    "units",
    "memberships",
    "membership_units",
    "invitations",
    "outbox",
    "audit_events",
    "roles",
    "membership_roles",
    "api_keys",
    # interop (clinic_infra.db.interop_tables)
    "external_practitioners",
    # patients (clinic_infra.db.patient_tables)
    "patients",
    "patient_identifiers",
    "patient_weights",
    "patient_search_terms",
    "guardian_links",
    "patient_access_log",
    # the clinical record (clinic_infra.db.clinical_tables)
    "anamnesis_templates",
    "anamnesis_template_versions",
    "anamnesis_responses",
    "clinical_notes",
    "patient_timeline",
    # attachments (clinic_infra.db.attachment_tables)
    "attachments",
    # privacy (clinic_infra.db.privacy_tables)
    "patient_consents",
    "tenant_privacy_settings",
    # booking (clinic_infra.db.appointment_tables)
    "appointments",
    "appointment_items",
    "appointment_history",
    "idempotency_keys",
    "waitlist_entries",
    "waitlist_offers",
    # the catalog (clinic_infra.db.catalog_tables)
    "categories",
    "procedures",
    "professionals",
    "professional_procedures",
    "professional_units",
    "rooms",
    "equipment",
    # jobs (clinic_infra.db.job_tables)
    "job_receipts",
    # reminders (clinic_infra.db.sweep_tables)
    "appointment_reminders",
    # working time (clinic_infra.db.working_time_tables)
    "working_hours",
    "working_date_overrides",
    "time_off",
    "unit_closures",
    "unit_booking_rules",
    # webhooks (clinic_infra.db.webhook_tables)
    "webhook_endpoints",
    "webhook_deliveries",
)
"""Tables whose every row belongs to one tenant: the ones row-level security guards."""

# The tables of other modules join the metadata here, so that whoever imports it (Alembic, tests) sees
# the whole schema. Imported last: those modules import ``metadata`` from this one.
from clinic_infra.db import appointment_tables as appointment_tables  # noqa: E402
from clinic_infra.db import attachment_tables as attachment_tables  # noqa: E402
from clinic_infra.db import catalog_tables as catalog_tables  # noqa: E402
from clinic_infra.db import clinical_tables as clinical_tables  # noqa: E402
from clinic_infra.db import interop_tables as interop_tables  # noqa: E402
from clinic_infra.db import job_tables as job_tables  # noqa: E402
from clinic_infra.db import patient_tables as patient_tables  # noqa: E402
from clinic_infra.db import privacy_tables as privacy_tables  # noqa: E402
from clinic_infra.db import sweep_tables as sweep_tables  # noqa: E402
from clinic_infra.db import webhook_tables as webhook_tables  # noqa: E402
from clinic_infra.db import working_time_tables as working_time_tables  # noqa: E402
