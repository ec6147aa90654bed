"""SQLAlchemy store: SQLite by default, PostgreSQL at scale (same code, schema by Alembic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.store.engine import translated, upsert
from connectors.store.migrate import prepare
from schemas.events import LeadRouted

metadata = MetaData()

# Append-only: every decision ever made, as the event that carried it.
decisions = Table(
    "decisions",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("lead_id", String(100), nullable=False, index=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False),
)

# The latest state of each lead: what GET /v1/leads serves.
leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(100), primary_key=True),
    Column("event_id", String(200), nullable=False),
    Column("source", String(100), nullable=False),
    Column("status", String(40), nullable=False),
    Column("tier", String(100), nullable=False),
    Column("score", Integer, nullable=False),
    Column("owner", String(200)),
    Column("team", String(200)),
    Column("queue", String(200)),
    Column("rule_id", String(100), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("briefing", Text, nullable=False),
    Column("details", JSON),  # fit, persona, factors, enrichment with provenance: what the API shows
    Column("config_version", String(64), nullable=False),
    Column("model_version", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("written_at", DateTime(timezone=True)),
    Column("crm", String(40)),
    Column("crm_record_id", String(200)),
    Index("leads_received", "received_at"),
)

rotation = Table(
    "rotation",
    metadata,
    Column("pool", String(200), primary_key=True),
    Column("turn", Integer, nullable=False),
)


# Deliveries the intake has taken, by the sender's own event id: dedupe for at least 3 days.
inbound = Table(
    "inbound_events",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("state", String(10), nullable=False),  # pending (being published) | published
    Column("digest", String(64)),  # of the content: the same id with other content is refused
    Column("claimed_at", DateTime(timezone=True), nullable=False, index=True),
)


class Claim(StrEnum):
    NEW = "new"  # publish it, then confirm
    DUPLICATE = "duplicate"  # already published: answer as the sender expects for a repeat
    IN_PROGRESS = "in_progress"  # another replica is publishing it right now
    CONFLICT = "conflict"  # the id was used before for different content


@dataclass(frozen=True)
class LeadFilter:
    source: str | None = None
    status: str | None = None
    tier: str | None = None
    since: datetime | None = None
    limit: int = 50


def _as_utc(value: Any) -> Any:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _details(routed: LeadRouted) -> dict[str, Any]:
    evaluation = routed.evaluation.model_dump(
        mode="json",
        include={
            "icp",
            "persona",
            "fit",
            "engagement",
            "factors",
            "disqualified",
            "customer",
            "missing",
            "next_step",
            "locked",
        },
    )
    enrichment = routed.enrichment.model_dump(mode="json") if routed.enrichment else None
    return {**evaluation, "enrichment": enrichment}


def _lead_row(routed: LeadRouted) -> dict[str, Any]:
    return {
        "lead_id": routed.lead_id,
        "event_id": routed.event_id,
        "source": routed.lead.source,
        "status": routed.evaluation.status.value,
        "tier": routed.evaluation.tier,
        "score": routed.evaluation.score,
        "owner": routed.routing.owner,
        "team": routed.routing.team,
        "queue": routed.routing.queue,
        "rule_id": routed.routing.rule_id,
        "reasons": list(routed.evaluation.reasons),
        "briefing": routed.briefing,
        "details": _details(routed),
        "config_version": routed.config_version,
        "model_version": routed.model_version,
        "received_at": routed.received_at,
        "decided_at": routed.decided_at,
        "written_at": None,
        "crm": None,
        "crm_record_id": None,
    }


class SqlStore:
    def __init__(self, engine: AsyncEngine, *, migrate: bool = True) -> None:
        self.engine = engine
        self._insert = upsert(engine)
        self._migrate = migrate

    async def start(self) -> None:
        """Upgrade the schema to head, or with ``migrate=False`` check that it is there."""
        await prepare(self.engine, migrate=self._migrate)

    async def close(self) -> None:
        await self.engine.dispose()

    @translated
    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @translated
    async def decision_for_event(self, event_id: str) -> LeadRouted | None:
        async with self.engine.connect() as conn:
            payload = await conn.scalar(select(decisions.c.payload).where(decisions.c.event_id == event_id))
        return LeadRouted.model_validate(payload) if payload is not None else None

    @translated
    async def record_decision(self, routed: LeadRouted) -> LeadRouted:
        """Keep the first decision made for an event and make it the lead's current state.

        Returns the decision that stands: ``routed`` if it was first, else the one recorded
        before it (two workers raced on a redelivery), which the caller must publish instead.
        """
        async with self.engine.begin() as conn:
            inserted = await conn.execute(
                self._insert(decisions)
                .values(
                    event_id=routed.event_id,
                    lead_id=routed.lead_id,
                    decided_at=routed.decided_at,
                    payload=routed.model_dump(mode="json"),
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
            )
            if inserted.rowcount != 1:
                payload = await conn.scalar(
                    select(decisions.c.payload).where(decisions.c.event_id == routed.event_id)
                )
                return LeadRouted.model_validate(payload)
            row = _lead_row(routed)
            stmt = self._insert(leads).values(**row)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["lead_id"], set_={k: stmt.excluded[k] for k in row if k != "lead_id"}
                )
            )
        return routed

    @translated
    async def next_turn(self, pool: str) -> int:
        """Take the pool's next rotation turn, atomically across processes and replicas."""
        async with self.engine.begin() as conn:
            await conn.execute(
                self._insert(rotation)
                .values(pool=pool, turn=0)
                .on_conflict_do_nothing(index_elements=["pool"])
            )
            turn = await conn.scalar(
                update(rotation)
                .where(rotation.c.pool == pool)
                .values(turn=rotation.c.turn + 1)
                .returning(rotation.c.turn)
            )
        return int(turn) - 1

    @translated
    async def mark_written(
        self, lead_id: str, event_id: str, written_at: datetime, crm: str, record_id: str
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(leads)
                .where(
                    leads.c.lead_id == lead_id,
                    leads.c.event_id == event_id,
                    leads.c.written_at.is_(None),
                )
                .values(written_at=written_at, crm=crm, crm_record_id=record_id)
            )

    @translated
    async def get_lead(self, lead_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().first()
        return {k: _as_utc(v) for k, v in row.items()} if row else None

    @translated
    async def list_leads(self, where: LeadFilter) -> list[dict[str, Any]]:
        query = select(leads).order_by(leads.c.received_at.desc(), leads.c.lead_id).limit(where.limit)
        for column, value in (
            (leads.c.source, where.source),
            (leads.c.status, where.status),
            (leads.c.tier, where.tier),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(leads.c.received_at >= where.since)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{k: _as_utc(v) for k, v in row.items()} for row in rows]

    @translated
    async def claim_inbound(
        self, source: str, event_id: str, now: datetime, stale: timedelta, digest: str | None = None
    ) -> Claim:
        """Claim a delivery before publishing it. A pending claim older than ``stale`` belonged
        to a process that died mid-publish: it is taken over, so the sender's retry is not lost."""
        where = (inbound.c.source == source, inbound.c.event_id == event_id)
        async with self.engine.connect() as conn:
            # A read first: repeats (most of a retry storm) need no write lock.
            seen = (await conn.execute(select(inbound.c.state, inbound.c.digest).where(*where))).first()
        if seen is not None and seen.state == "published":
            if digest is not None and seen.digest is not None and seen.digest != digest:
                return Claim.CONFLICT
            return Claim.DUPLICATE
        async with self.engine.begin() as conn:
            inserted = await conn.execute(
                self._insert(inbound)
                .values(source=source, event_id=event_id, state="pending", claimed_at=now, digest=digest)
                .on_conflict_do_nothing(index_elements=["source", "event_id"])
            )
            if inserted.rowcount == 1:
                return Claim.NEW
            row = (
                await conn.execute(
                    select(inbound.c.state, inbound.c.claimed_at, inbound.c.digest).where(
                        inbound.c.source == source, inbound.c.event_id == event_id
                    )
                )
            ).first()
            if row is None:  # released between our insert and select: try again later
                return Claim.IN_PROGRESS
            if digest is not None and row.digest is not None and row.digest != digest:
                return Claim.CONFLICT
            if row.state == "published":
                return Claim.DUPLICATE
            taken = await conn.execute(
                update(inbound)
                .where(
                    inbound.c.source == source,
                    inbound.c.event_id == event_id,
                    inbound.c.state == "pending",
                    inbound.c.claimed_at < now - stale,
                )
                .values(claimed_at=now, digest=digest)
            )
            return Claim.NEW if taken.rowcount == 1 else Claim.IN_PROGRESS

    @translated
    async def confirm_inbound(self, source: str, event_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(inbound)
                .where(inbound.c.source == source, inbound.c.event_id == event_id)
                .values(state="published")
            )

    @translated
    async def release_inbound(self, source: str, event_id: str) -> None:
        """Publishing failed: forget the claim so the sender's retry is taken."""
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(inbound).where(
                    inbound.c.source == source, inbound.c.event_id == event_id, inbound.c.state == "pending"
                )
            )

    @translated
    async def prune_inbound(self, before: datetime) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(inbound).where(inbound.c.claimed_at < before))
        return int(result.rowcount or 0)

    @translated
    async def count_decisions(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(decisions)) or 0)
