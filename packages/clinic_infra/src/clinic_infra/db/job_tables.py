"""The jobs' own table: receipts of handlers that finished an outbox message. Imported by ``tables``.

A receipt is claimed in the transaction that applies the handler's effect: its primary key is what makes
a second delivery of one outbox row run each handler once.
"""

from __future__ import annotations

from sqlalchemy import Column, PrimaryKeyConstraint, String, Table, Uuid

from clinic_infra.db.tables import metadata
from clinic_infra.db.types import UtcDateTime

job_receipts = Table(
    "job_receipts",
    metadata,
    Column("tenant_id", Uuid, nullable=False),
    Column("message_id", Uuid, nullable=False),
    Column("handler", String(80), nullable=False),
    Column("handled_at", UtcDateTime, nullable=False),
    Column("outcome", String(20), nullable=False),
    PrimaryKeyConstraint("tenant_id", "message_id", "handler", name="pk_job_receipts"),
)
