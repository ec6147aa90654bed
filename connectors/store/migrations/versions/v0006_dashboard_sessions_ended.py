"""dashboard sessions ended by logging out, kept until their cookie would have expired

Revision 0006 (after 0005), 2026-12-03.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions_ended",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    with op.batch_alter_table("dashboard_sessions_ended", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_sessions_ended_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dashboard_sessions_ended", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_sessions_ended_expires_at"))
    op.drop_table("dashboard_sessions_ended")
