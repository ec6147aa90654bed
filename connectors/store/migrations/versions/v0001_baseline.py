"""Baseline: the schema as create_all made it before migrations existed.

Revision 0001. It creates only the tables that are missing, so a database made before Alembic
(embedded installs) is adopted as it is and upgraded from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decisions() -> None:
    op.create_table(
        "decisions",
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("lead_id", sa.String(100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_decisions_lead_id", "decisions", ["lead_id"])


def _leads() -> None:
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("team", sa.String(200)),
        sa.Column("queue", sa.String(200)),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("briefing", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON()),
        sa.Column("config_version", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True)),
        sa.Column("crm", sa.String(40)),
        sa.Column("crm_record_id", sa.String(200)),
    )
    op.create_index("leads_received", "leads", ["received_at"])


def _rotation() -> None:
    op.create_table(
        "rotation",
        sa.Column("pool", sa.String(200), primary_key=True),
        sa.Column("turn", sa.Integer(), nullable=False),
    )


def _inbound_events() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("digest", sa.String(64)),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inbound_events_claimed_at", "inbound_events", ["claimed_at"])


def _crm_records() -> None:
    op.create_table(
        "crm_records",
        sa.Column("lead_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(400)),
        sa.Column("company", sa.String(300)),
        sa.Column("owner", sa.String(200)),
        sa.Column("queue", sa.String(200)),
        sa.Column("status", sa.String(40)),
        sa.Column("tier", sa.String(100)),
        sa.Column("score", sa.Integer()),
        sa.Column("reasons", sa.JSON()),
        sa.Column("config_version", sa.String(64)),
        sa.Column("model_version", sa.String(64)),
        sa.Column("last_event_id", sa.String(200)),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("writes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )


def _crm_notes() -> None:
    op.create_table(
        "crm_notes",
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("lead_id", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crm_notes_lead_id", "crm_notes", ["lead_id"])


TABLES: dict[str, Callable[[], None]] = {
    "decisions": _decisions,
    "leads": _leads,
    "rotation": _rotation,
    "inbound_events": _inbound_events,
    "crm_records": _crm_records,
    "crm_notes": _crm_notes,
}


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
