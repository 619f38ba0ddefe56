"""The webhooks' tables: endpoints and their deliveries. Imported by ``tables`` so that ``metadata`` holds them.

A delivery keeps the body it sends (every attempt and a redelivery send the same bytes) and points at its
endpoint through the composite key that includes the tenant; deleting an endpoint deletes its deliveries.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import JsonDocument, UtcDateTime

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("url", String(2000), nullable=False),
    Column("description", String(200), nullable=False),
    Column("event_types", JsonDocument, nullable=False),
    # The signing secret as the SecretBox sealed it: HMAC needs it back in clear, so no digest here.
    Column("sealed_secret", String(255), nullable=False),
    Column("status", String(20), nullable=False),
    Column("disabled_at", UtcDateTime),
    Column("disabled_reason", String(20)),
    Column("consecutive_failures", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Uuid),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_endpoints"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("id", Uuid, nullable=False),
    Column("endpoint_id", Uuid, nullable=False),
    Column("message_id", Uuid, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("response_status", Integer),
    Column("last_error", String(300)),
    Column("last_attempt_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_deliveries"),
    ForeignKeyConstraint(
        ["tenant_id", "endpoint_id"],
        ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
        ondelete="CASCADE",
        name="fk_webhook_deliveries_endpoint",
    ),
    # One delivery of a message per endpoint: a redelivery resets it rather than adding another.
    UniqueConstraint(
        "tenant_id",
        "endpoint_id",
        "message_id",
        name="uq_webhook_deliveries_tenant_id_endpoint_id_message_id",
    ),
    # An endpoint's deliveries, newest first (ids are UUIDv7).
    Index("ix_webhook_deliveries_tenant_id_endpoint_id_id", "tenant_id", "endpoint_id", "id"),
)
