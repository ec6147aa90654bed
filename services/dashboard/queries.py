"""Read-only queries the dashboard needs beyond the store's own methods: counts grouped in the
database (so a page costs one round trip per chart, however many leads there are) and a lead's
history. Same SQLAlchemy tables, so SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from connectors.store.engine import translated
from connectors.store.routing import slas
from connectors.store.sql import SqlStore, decisions, labels, leads
from schemas.events import LeadRouted

SPEED_SAMPLE = 5000  # the newest written leads the percentiles are computed over


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class DashboardQueries:
    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine

    @translated
    async def tier_counts(self) -> dict[str, int]:
        query = select(leads.c.tier, func.count()).group_by(leads.c.tier)
        async with self.engine.connect() as conn:
            return {str(t): int(n) for t, n in (await conn.execute(query)).all()}

    @translated
    async def labelled_tiers(self) -> list[tuple[str, int]]:
        """(tier, label) of every lead with an outcome from sales."""
        query = select(leads.c.tier, labels.c.label).join(labels, labels.c.lead_id == leads.c.lead_id)
        async with self.engine.connect() as conn:
            return [(str(t), int(label)) for t, label in (await conn.execute(query)).all()]

    @translated
    async def speed_pairs(self) -> list[tuple[datetime, datetime | None]]:
        query = (
            select(leads.c.received_at, leads.c.written_at)
            .where(leads.c.written_at.is_not(None))
            .order_by(leads.c.written_at.desc())
            .limit(SPEED_SAMPLE)
        )
        async with self.engine.connect() as conn:
            return [(_utc(r), _utc(w)) for r, w in (await conn.execute(query)).all()]

    @translated
    async def destinations(self) -> list[tuple[str | None, str | None, int]]:
        query = select(leads.c.owner, leads.c.queue, func.count()).group_by(leads.c.owner, leads.c.queue)
        async with self.engine.connect() as conn:
            return [(o, q, int(n)) for o, q, n in (await conn.execute(query)).all()]

    @translated
    async def history(self, lead_id: str) -> list[LeadRouted]:
        """Every decision made for the lead, oldest first (the first one, then reviews,
        escalations and requalifications)."""
        query = (
            select(decisions.c.payload)
            .where(decisions.c.lead_id == lead_id)
            .order_by(decisions.c.decided_at, decisions.c.event_id)
        )
        async with self.engine.connect() as conn:
            return [LeadRouted.model_validate(p) for p in (await conn.execute(query)).scalars()]

    @translated
    async def slas_for(self, lead_id: str) -> list[dict[str, Any]]:
        query = select(slas).where(slas.c.lead_id == lead_id).order_by(slas.c.due_at)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{k: _utc(v) for k, v in row.items()} for row in rows]
