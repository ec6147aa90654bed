"""Read the store and the local CRM in any database URL (SQLite or PostgreSQL) the way the tests
judge them: writes and notes per lead, and decisions recorded."""

from __future__ import annotations

from sqlalchemy import func, select

from connectors.crm.local import LocalCrm
from connectors.store.engine import make_engine
from connectors.store.sql import decisions


async def crm_counts_in(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Per lead: how many times the local CRM record was written, and how many notes it has."""
    engine = make_engine(url)
    try:
        crm = LocalCrm(engine)
        return await crm.write_counts(), await crm.note_counts()
    finally:
        await engine.dispose()


async def decisions_per_event(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(decisions.c.lead_id, func.count()).group_by(decisions.c.lead_id))
            return {lead_id: int(n) for lead_id, n in rows.all()}
    finally:
        await engine.dispose()
