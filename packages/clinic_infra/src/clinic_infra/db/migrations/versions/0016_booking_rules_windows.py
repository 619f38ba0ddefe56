"""booking rules windows: a unit's cancellation window and waitlist offer lifetime

``unit_booking_rules`` gets ``cancellation_window_hours`` (0 to 336; a cancellation less than this before
the start is *late*) and ``waitlist_offer_minutes`` (15 to 2,880; how long an offer of freed time stays
open), which were one deployment-wide policy (24 h and 120 minutes, the server defaults, so that the units
that set their rules before keep the behaviour they had).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("unit_booking_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancellation_window_hours", sa.Integer(), nullable=False, server_default=sa.text("24"))
        )
        batch_op.add_column(
            sa.Column("waitlist_offer_minutes", sa.Integer(), nullable=False, server_default=sa.text("120"))
        )
        batch_op.create_check_constraint(
            op.f("ck_unit_booking_rules_cancellation_window_hours"),
            "cancellation_window_hours BETWEEN 0 AND 336",
        )
        batch_op.create_check_constraint(
            op.f("ck_unit_booking_rules_waitlist_offer_minutes"),
            "waitlist_offer_minutes BETWEEN 15 AND 2880",
        )


def downgrade() -> None:
    with op.batch_alter_table("unit_booking_rules", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_unit_booking_rules_waitlist_offer_minutes"), type_="check")
        batch_op.drop_constraint(op.f("ck_unit_booking_rules_cancellation_window_hours"), type_="check")
        batch_op.drop_column("waitlist_offer_minutes")
        batch_op.drop_column("cancellation_window_hours")
