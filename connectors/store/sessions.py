"""Dashboard sessions that were logged out: the store remembers each until its cookie would
have expired anyway, so a copy of the cookie is refused by every replica.

The cookie itself stays stateless (signed, timestamped); only an ended session costs a row, and
rows past their expiry are dropped whenever another session ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.store.engine import translated, upsert

sessions_metadata = MetaData()

ended_sessions = Table(
    "dashboard_sessions_ended",
    sessions_metadata,
    Column("sid", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)


class EndedSessions:
    """Mixed into SqlStore. Needs ``self.engine``."""

    engine: AsyncEngine

    @translated
    async def end_session(self, sid: str, expires_at: datetime, now: datetime) -> None:
        """Remember ``sid`` as ended until ``expires_at``; forget those already expired."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(ended_sessions).where(ended_sessions.c.expires_at <= now))
            await conn.execute(
                upsert(self.engine)(ended_sessions)
                .values(sid=sid, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=["sid"])
            )

    @translated
    async def session_ended(self, sid: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(literal(1)).where(ended_sessions.c.sid == sid))
        return found is not None
