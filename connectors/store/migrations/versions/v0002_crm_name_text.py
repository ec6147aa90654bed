"""The local CRM's record name as text: a first and a last name of 200 characters each, with
the space between them, do not fit the baseline's 400 (PostgreSQL enforces it; SQLite did not).

Revision 0002 (after 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crm_records") as batch:
        batch.alter_column("name", type_=sa.Text(), existing_type=sa.String(400))


def downgrade() -> None:
    with op.batch_alter_table("crm_records") as batch:
        batch.alter_column("name", type_=sa.String(400), existing_type=sa.Text())
