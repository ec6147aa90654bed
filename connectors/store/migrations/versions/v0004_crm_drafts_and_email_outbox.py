"""local CRM email drafts; the auto-send outbox columns on email_drafts

Revision 0004 (after 0003), 2026-11-22.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_drafts",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("lead_id", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("crm_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_drafts_lead_id"), ["lead_id"], unique=False)

    with op.batch_alter_table("email_drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("to_address", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("message_id", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("email_drafts", schema=None) as batch_op:
        for column in ("last_error", "sent_at", "message_id", "attempts", "next_at", "to_address"):
            batch_op.drop_column(column)
    with op.batch_alter_table("crm_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_drafts_lead_id"))
    op.drop_table("crm_drafts")
