"""The lead written to a CRM as a record, indexed: feedback that names a CRM record (a HubSpot
contact a web lead was written to) asks for its lead once per event, which was a scan of every
lead without it.

Revision 0007 (after 0006), 2026-12-03.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("leads_crm_record", "leads", ["crm", "crm_record_id"])


def downgrade() -> None:
    op.drop_index("leads_crm_record", table_name="leads")
