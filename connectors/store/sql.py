"""SQLAlchemy store: SQLite by default, PostgreSQL at scale (same code, schema by Alembic)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.store.engine import autocommit_engine, translated, upsert
from connectors.store.json_text import JsonText
from connectors.store.migrate import prepare
from connectors.store.routing import (
    FollowUps,
    Outgoing,
    assigned_on,
    assignments,
    drafts,
    feedback,
    follow_up_rows,
    local_days,
    notifications,
    slas,
)
from connectors.store.sessions import EndedSessions
from schemas.decision import RotationState, Take
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
    Index("leads_crm_record", "crm", "crm_record_id"),  # feedback on a CRM record: its lead
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


# Outcomes from sales (leads.feedback): the latest label per lead, what retraining learns from.
labels = Table(
    "labels",
    metadata,
    Column("lead_id", String(100), primary_key=True),
    Column("label", Integer, nullable=False),  # 1 converted / won, 0 lost
    Column("event_id", String(200), nullable=False),
    Column("source", String(100), nullable=False),
    Column("property", String(200)),
    Column("value", String(200)),
    Column("labelled_at", DateTime(timezone=True), nullable=False),
)

# Each decision the model scored: drift (daily score distribution) and the A/B arms read it.
scores = Table(
    "scores",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("lead_id", String(100), nullable=False, index=True),
    Column("decided_at", DateTime(timezone=True), nullable=False, index=True),
    Column("probability", Float, nullable=False),
    Column("arm", String(20)),
    Column("model_version", String(64)),
)


# PostgreSQL plans ``(source, event_id) IN ((..), ..)`` from statistics that lag a table growing
# by thousands of rows a second: with every key sharing one source it scanned the index on source
# alone and filtered every row of it (30 ms a statement at 60,000 claims, and rising). Joined to
# the keys as arrays it is one statement shape, looked up by the whole primary key (0.2 ms).
# Claims are inserted the same way.
CLAIM_JOINED = text(
    "INSERT INTO inbound_events (source, event_id, state, claimed_at, digest)"
    " SELECT * FROM unnest(CAST(:source AS varchar[]), CAST(:event_id AS varchar[]),"
    " CAST(:state AS varchar[]), CAST(:claimed_at AS timestamptz[]), CAST(:digest AS varchar[]))"
    " ON CONFLICT (source, event_id) DO NOTHING RETURNING source, event_id"
)
CONFIRM_JOINED = text(
    "UPDATE inbound_events AS t SET state = 'published'"
    " FROM unnest(CAST(:sources AS varchar[]), CAST(:event_ids AS varchar[])) AS k(source, event_id)"
    " WHERE t.source = k.source AND t.event_id = k.event_id"
)


def padded(rows: Sequence[Any]) -> list[Any]:
    """``rows`` up to the next power of two by repeating the last (an INSERT ... ON CONFLICT DO
    NOTHING skips the repeats; an IN list ignores them). A multi-row statement's text depends on
    its row count: a few shapes are compiled and prepared once per connection, not once per count."""
    if not rows:
        return []
    size = 1 << (len(rows) - 1).bit_length()
    return [*rows, *[rows[-1]] * (size - len(rows))]


def like_escaped(value: str) -> str:
    """``value`` for a LIKE pattern with ``escape="\\"``: its % and _ match only themselves."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Erased:
    lead_ids: tuple[str, ...]
    leads: int
    decisions: int
    inbound: int


IN_CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class Recording:
    """One decision for ``record_routed_many``, with what must happen exactly once with it."""

    routed: LeadRouted
    take: Take | None = None
    outgoing: Sequence[Outgoing] = ()
    claim_sla: str | None = None
    review: dict[str, Any] | None = None
    # ``routed.model_dump_json()`` when the caller made it already (to publish the same bytes).
    body: str | None = None


@dataclass(frozen=True)
class Written:
    """One event the CRM took: which record it is there."""

    lead_id: str
    event_id: str
    crm: str
    record_id: str


@dataclass(frozen=True)
class InboundClaim:
    """A delivery the intake is about to publish, by the sender's own event id."""

    source: str
    event_id: str
    claimed_at: datetime
    digest: str | None = None  # of the content: the same id with other content is refused


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
    # Keyset: only leads after this (received_at, lead_id) in the list's order (newest first), so
    # a page boundary stays put while newer leads arrive (an offset would shift under them).
    after: tuple[datetime, str] | None = None


def _as_utc(value: Any) -> Any:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# The evaluation's fields the lead view keeps beside the enrichment: what the API shows.
DETAILS = frozenset({"icp", "persona", "fit", "engagement", "factors", "disqualified", "customer", "missing",
                     "next_step", "locked", "probability", "arm"})  # fmt: skip


def _payload(recording: Recording) -> JsonText:
    # Serialised once, as published: model_dump(mode="json") for SQLAlchemy to json.dumps again
    # cost ~180 us a bench decision with the details below, this ~30 us.
    return JsonText(recording.body if recording.body is not None else recording.routed.model_dump_json())


def _details(routed: LeadRouted) -> JsonText:
    """The evaluation's DETAILS and the enrichment, as one JSON object: the evaluation's object
    (never empty: icp and persona are required) with the enrichment as its last key."""
    evaluation = routed.evaluation.model_dump_json(include=set(DETAILS))
    enrichment = routed.enrichment.model_dump_json() if routed.enrichment is not None else "null"
    return JsonText(f'{evaluation[:-1]},"enrichment":{enrichment}}}')


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


class SqlStore(FollowUps, EndedSessions):
    def __init__(self, engine: AsyncEngine, *, migrate: bool = True) -> None:
        self.engine = engine
        self._autocommit = autocommit_engine(engine)  # for single statements: the claims
        self._insert = upsert(engine)
        self._migrate = migrate

    async def start(self) -> None:
        """Upgrade the schema to head, or with ``migrate=False`` check that it is there."""
        await prepare(self.engine, migrate=self._migrate)

    async def close(self) -> None:
        if self._autocommit.pool is not self.engine.pool:  # PostgreSQL: a pool of its own
            await self._autocommit.dispose()
        await self.engine.dispose()

    @translated
    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def decision_for_event(self, event_id: str) -> LeadRouted | None:
        return (await self.decisions_for_events([event_id])).get(event_id)

    @translated
    async def decisions_for_events(self, event_ids: Sequence[str]) -> dict[str, LeadRouted]:
        """The decisions recorded for any of ``event_ids``, by event id (one query per 500)."""
        if not event_ids:
            return {}
        async with self.engine.connect() as conn:
            return await self._decisions_in(conn, list(dict.fromkeys(event_ids)))

    @translated
    async def record_decision(self, routed: LeadRouted) -> LeadRouted:
        """Keep the first decision made for an event and make it the lead's current state.

        Returns the decision that stands: ``routed`` if it was first, else the one recorded
        before it (two workers raced on a redelivery), which the caller must publish instead.
        """
        stands = await self.record_routed(routed)
        assert stands is not None  # without a take or a claim nothing can refuse it
        return stands

    @translated
    async def rotation_state(self, now: datetime) -> RotationState:
        """Every pool's turn and today's counts (every local day in use somewhere): one snapshot."""
        async with self.engine.connect() as conn:
            turns = {r.pool: int(r.turn) for r in (await conn.execute(select(rotation))).all()}
            return RotationState(turns, await assigned_on(conn, local_days(now)))

    @translated
    async def record_routed(
        self,
        routed: LeadRouted,
        take: Take | None = None,
        outgoing: Sequence[Outgoing] = (),
        claim_sla: str | None = None,
        review: dict[str, Any] | None = None,
    ) -> LeadRouted | None:
        """``record_decision`` plus everything that must happen exactly once with it, in one
        transaction: the rotation ``take`` (compare-and-set), the person's daily count, the SLA
        deadline, the email draft, the notifications to send, the SLA breach it escalates
        (``claim_sla``: that decision's event id) and a review's feedback row.

        Returns None, changing nothing, when the rotation moved since it was read or the breach
        was already claimed: the caller decides again (or another replica already escalated).
        """
        stands = await self.record_routed_many([Recording(routed, take, tuple(outgoing), claim_sla, review)])
        return stands[0] if stands is not None else None

    @translated
    async def record_routed_many(self, recordings: Sequence[Recording]) -> list[LeadRouted] | None:
        """``record_routed`` for many decisions (distinct event ids) in one transaction, in order:
        a lead's later event becomes its state, and each take's compare-and-set sees the turn the
        take before it moved, so a batch routed in memory from one ``rotation_state`` is recorded
        as it was routed.

        Returns the decision that stands for each, in order: its own, or the one recorded before
        for that event (another worker raced on a redelivery; its take is not applied). Returns
        None, changing nothing, when a pool moved since it was read (also because one of those
        earlier decisions did not take its turn), a breach was already claimed or an escalation
        already recorded: the caller reads the state again and routes what is left anew.
        """
        if len({r.routed.event_id for r in recordings}) != len(recordings):
            raise ValueError("record_routed_many takes each event once")
        if not recordings:
            return []
        payloads = {r.routed.event_id: _payload(r) for r in recordings}
        async with self.engine.begin() as conn:
            fresh = await self._insert_decisions(conn, [r.routed for r in recordings], payloads)
            earlier = [r for r in recordings if r.routed.event_id not in fresh]
            if any(r.claim_sla is not None for r in earlier):
                await conn.rollback()
                return None  # this escalation was recorded by another replica
            kept = await self._decisions_in(conn, [r.routed.event_id for r in earlier]) if earlier else {}
            new = [r for r in recordings if r.routed.event_id in fresh]
            if not await self._take_all(conn, [r.take for r in new if r.take is not None]):
                await conn.rollback()
                return None
            for r in new:
                if r.claim_sla is not None and not await self._claim_breach(conn, r.claim_sla, r.routed):
                    await conn.rollback()
                    return None
            await self._record_rows(conn, new)
        return [r.routed if r.routed.event_id in fresh else kept[r.routed.event_id] for r in recordings]

    async def _insert_decisions(
        self, conn: AsyncConnection, routed: Sequence[LeadRouted], payloads: dict[str, JsonText]
    ) -> set[str]:
        """Insert what is not recorded yet; the event ids this call inserted."""
        stmt = (
            self._insert(decisions)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(decisions.c.event_id)
        )
        rows = [
            {"event_id": r.event_id, "lead_id": r.lead_id, "decided_at": r.decided_at,
             "payload": payloads[r.event_id]}
            for r in routed
        ]  # fmt: skip
        return set((await conn.execute(stmt, rows)).scalars().all())

    async def _decisions_in(self, conn: AsyncConnection, event_ids: Sequence[str]) -> dict[str, LeadRouted]:
        found: dict[str, LeadRouted] = {}
        for start in range(0, len(event_ids), IN_CHUNK):
            chunk = list(event_ids[start : start + IN_CHUNK])
            rows = await conn.execute(
                select(decisions.c.event_id, decisions.c.payload).where(decisions.c.event_id.in_(chunk))
            )
            found.update((event_id, LeadRouted.model_validate(payload)) for event_id, payload in rows.all())
        return found

    async def _take_all(self, conn: AsyncConnection, takes: Sequence[Take]) -> bool:
        """Apply the takes as compare-and-sets, in order. A pool's consecutive takes (each seeing
        the turn the one before moved to) are one compare-and-set from the first seen turn to the
        last turn; the daily counts are one upsert per person and day."""
        steps: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for take in takes:
            chain = steps[take.pool]
            if chain and chain[-1][1] == take.seen:
                chain[-1] = (chain[-1][0], take.turn)
            else:
                chain.append((take.seen, take.turn))
        for pool, chain in steps.items():
            seed = self._insert(rotation).values(pool=pool, turn=0)
            await conn.execute(seed.on_conflict_do_nothing(index_elements=["pool"]))
            for seen, turn in chain:
                moved = await conn.execute(
                    update(rotation).where(rotation.c.pool == pool, rotation.c.turn == seen).values(turn=turn)
                )
                if moved.rowcount != 1:
                    return False
        taken = Counter((take.member, take.day) for take in takes)
        if taken:
            stmt = self._insert(assignments)
            more = {"taken": assignments.c.taken + stmt.excluded.taken}
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["member", "day"], set_=more),
                [{"member": member, "day": day, "taken": n} for (member, day), n in taken.items()],
            )
        return True

    async def _claim_breach(self, conn: AsyncConnection, event_id: str, escalation: LeadRouted) -> bool:
        claimed = await conn.execute(
            update(slas)
            .where(slas.c.event_id == event_id, slas.c.state == "open")
            .values(
                state="breached", breached_at=escalation.decided_at, escalation_event_id=escalation.event_id
            )
        )
        return claimed.rowcount == 1

    async def _supersede_deadlines(self, conn: AsyncConnection, new: Sequence[Recording]) -> None:
        """A lead's new decision ends the open first-touch deadlines other owners had on it (a
        reviewer's reassignment, an escalation, a lead sent to a queue): left open, the old
        owner's deadline would breach later and escalate a lead they no longer hold. Superseded,
        not met or breached, so adherence counts neither. One indexed read a batch; new leads
        have no deadline yet, so the update is rare."""
        owner = {r.routed.lead_id: r.routed.routing.owner for r in new}  # the last decision wins
        events = {r.routed.event_id for r in new}
        found = await conn.execute(
            select(slas.c.event_id, slas.c.lead_id, slas.c.owner).where(
                slas.c.state == "open", slas.c.lead_id.in_(list(owner))
            )
        )
        ended = [e for e, lead, held in found.all() if e not in events and held != owner[lead]]
        if ended:
            await conn.execute(update(slas).where(slas.c.event_id.in_(ended)).values(state="superseded"))

    async def _record_rows(self, conn: AsyncConnection, new: Sequence[Recording]) -> None:
        """What exists once per new decision (follow-ups, the model's score), and each lead's
        current state: its last event here."""
        await self._supersede_deadlines(conn, new)
        rows = follow_up_rows([(r.routed, r.outgoing, r.review) for r in new])
        rows[scores] = [
            {"event_id": r.routed.event_id, "lead_id": r.routed.lead_id, "decided_at": r.routed.decided_at,
             "probability": r.routed.evaluation.probability, "arm": r.routed.evaluation.arm,
             "model_version": r.routed.model_version}
            for r in new
            # A review or an SLA escalation re-records a scored evaluation: not a scoring.
            if r.routed.evaluation.probability is not None and r.review is None and r.claim_sla is None
        ]  # fmt: skip
        for table, values in rows.items():
            if values:
                key = [c.name for c in table.primary_key]
                await conn.execute(self._insert(table).on_conflict_do_nothing(index_elements=key), values)
        current = {r.routed.lead_id: _lead_row(r.routed) for r in new}
        if current:
            stmt = self._insert(leads)
            columns = [c.name for c in leads.columns if c.name != "lead_id"]
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["lead_id"], set_={k: stmt.excluded[k] for k in columns}
                ),
                list(current.values()),
            )

    @translated
    async def review_queue(self, queues: Sequence[str], limit: int = 100) -> list[dict[str, Any]]:
        """Leads waiting in a review queue, oldest first."""
        # A lead a person already reviewed (its current decision is the review) is not waiting.
        query = (
            select(leads)
            .where(leads.c.queue.in_(list(queues)), leads.c.rule_id != "review")
            .order_by(leads.c.received_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{k: _as_utc(v) for k, v in row.items()} for row in rows]

    @translated
    async def current_decision(self, lead_id: str) -> LeadRouted | None:
        """The decision that is the lead's current state."""
        async with self.engine.connect() as conn:
            payload = await conn.scalar(
                select(decisions.c.payload)
                .join(leads, leads.c.event_id == decisions.c.event_id)
                .where(leads.c.lead_id == lead_id)
            )
        return LeadRouted.model_validate(payload) if payload is not None else None

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

    async def mark_written(
        self, lead_id: str, event_id: str, written_at: datetime, crm: str, record_id: str
    ) -> None:
        await self.mark_written_many([Written(lead_id, event_id, crm, record_id)], written_at)

    @translated
    async def mark_written_many(self, written: Sequence[Written], written_at: datetime) -> None:
        """Record events as written in one transaction (one statement run for each), each only
        while it is still its lead's current event and not yet marked."""
        if not written:
            return
        stmt = (
            update(leads)
            .where(
                leads.c.lead_id == bindparam("w_lead"),
                leads.c.event_id == bindparam("w_event"),
                leads.c.written_at.is_(None),
            )
            .values(written_at=written_at, crm=bindparam("w_crm"), crm_record_id=bindparam("w_record"))
        )
        rows = [
            {"w_lead": w.lead_id, "w_event": w.event_id, "w_crm": w.crm, "w_record": w.record_id}
            for w in written
        ]
        async with self.engine.begin() as conn:
            await conn.execute(stmt, rows)

    @translated
    async def get_lead(self, lead_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().first()
        return {k: _as_utc(v) for k, v in row.items()} if row else None

    @translated
    async def lead_for_record(self, crm: str, record_id: str) -> str | None:
        """The lead written to ``crm`` as ``record_id`` (the newest, should several be), if any."""
        query = (
            select(leads.c.lead_id)
            .where(leads.c.crm == crm, leads.c.crm_record_id == record_id)
            .order_by(leads.c.received_at.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar()
        return str(found) if found is not None else None

    @translated
    async def list_leads(self, where: LeadFilter) -> list[dict[str, Any]]:
        query = select(leads).order_by(leads.c.received_at.desc(), leads.c.lead_id.desc()).limit(where.limit)
        for column, value in (
            (leads.c.source, where.source),
            (leads.c.status, where.status),
            (leads.c.tier, where.tier),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(leads.c.received_at >= where.since)
        if where.after is not None:
            at, lead_id = where.after
            query = query.where(
                or_(leads.c.received_at < at, and_(leads.c.received_at == at, leads.c.lead_id < lead_id))
            )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{k: _as_utc(v) for k, v in row.items()} for row in rows]

    @translated
    async def tier_in_use(self, tier: str) -> bool:
        """Whether any lead's current decision carries ``tier`` (one a config no longer has)."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(literal(1)).where(leads.c.tier == tier).limit(1))
        return found is not None

    async def claim_inbound(
        self, source: str, event_id: str, now: datetime, stale: timedelta, digest: str | None = None
    ) -> Claim:
        """Claim a delivery before publishing it. A pending claim older than ``stale`` belonged
        to a process that died mid-publish: it is taken over, so the sender's retry is not lost."""
        [claim] = await self.claim_inbound_many([InboundClaim(source, event_id, now, digest)], stale)
        return claim

    @translated
    async def claim_inbound_many(self, claims: Sequence[InboundClaim], stale: timedelta) -> list[Claim]:
        """``claim_inbound`` for several deliveries at once, in order. The new ones (nearly all:
        repeats are mostly answered from the intake's memory) cost one INSERT between them that
        commits itself; only an id already there is looked at again, in a transaction of its own."""
        if not claims:
            return []
        rows = [
            {"source": c.source, "event_id": c.event_id, "state": "pending", "claimed_at": c.claimed_at,
             "digest": c.digest}
            for c in claims
        ]  # fmt: skip
        async with self._autocommit.connect() as conn:
            if conn.dialect.name == "postgresql":
                # The rows as one array per column: one statement shape whatever their number,
                # no SQLAlchemy compilation per call, and asyncpg encodes arrays in C.
                columns = {name: [row[name] for row in rows] for name in rows[0]}
                inserted = await conn.execute(CLAIM_JOINED, columns)
            else:
                # Rows as parameters (SQLAlchemy's "insertmanyvalues": one multi-row INSERT), not
                # in .values(): a statement with its rows in it is compiled afresh every time.
                inserted = await conn.execute(
                    self._insert(inbound)
                    .on_conflict_do_nothing(index_elements=["source", "event_id"])
                    .returning(inbound.c.source, inbound.c.event_id),
                    padded(rows),
                )
            new = {(r.source, r.event_id) for r in inserted.all()}
        results = []
        for c in claims:
            if (c.source, c.event_id) in new:
                new.discard((c.source, c.event_id))  # one id twice in a batch: the first is new
                results.append(Claim.NEW)
            else:
                results.append(await self._claim_existing(c, stale))
        return results

    async def _claim_existing(self, claim: InboundClaim, stale: timedelta) -> Claim:
        where = (inbound.c.source == claim.source, inbound.c.event_id == claim.event_id)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(inbound.c.state, inbound.c.claimed_at, inbound.c.digest).where(*where)
                )
            ).first()
            if row is None:  # released between our insert and select: try again later
                return Claim.IN_PROGRESS
            if claim.digest is not None and row.digest is not None and row.digest != claim.digest:
                return Claim.CONFLICT
            if row.state == "published":
                return Claim.DUPLICATE
            taken = await conn.execute(
                update(inbound)
                .where(*where, inbound.c.state == "pending", inbound.c.claimed_at < claim.claimed_at - stale)
                .values(claimed_at=claim.claimed_at, digest=claim.digest)
            )
            return Claim.NEW if taken.rowcount == 1 else Claim.IN_PROGRESS

    async def confirm_inbound(self, source: str, event_id: str) -> None:
        await self.confirm_inbound_many([(source, event_id)])

    @translated
    async def confirm_inbound_many(self, keys: Sequence[tuple[str, str]]) -> None:
        """Mark these (source, event id) claims published: one statement that commits itself."""
        if not keys:
            return
        async with self._autocommit.connect() as conn:
            if conn.dialect.name == "postgresql":
                sources, event_ids = zip(*keys, strict=True)
                await conn.execute(CONFIRM_JOINED, {"sources": list(sources), "event_ids": list(event_ids)})
                return
            await conn.execute(
                update(inbound)
                .where(tuple_(inbound.c.source, inbound.c.event_id).in_(padded(keys)))
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
    async def forget(self, email: str, lead_id: str) -> Erased:
        """Delete a person (GDPR): ``lead_id`` (their email's) and every lead whose decision
        mentions the email (a lead first known by a CRM record id), with their decisions and the
        intake's dedupe claims for those events."""
        pattern = f'%"{like_escaped(email.strip().lower())}"%'
        async with self.engine.begin() as conn:
            mentioned = await conn.execute(
                select(decisions.c.lead_id).where(
                    func.lower(cast(decisions.c.payload, Text)).like(pattern, escape="\\")
                )
            )
            lead_ids = tuple(sorted({lead_id, *mentioned.scalars()}))
            events = list(
                (await conn.execute(select(decisions.c.event_id).where(decisions.c.lead_id.in_(lead_ids))))
                .scalars()
                .all()
            )
            # The intake's claim key is (source, sender event id); the event id is "source:that id".
            claim_key = inbound.c.source + literal(":") + inbound.c.event_id
            claims = await conn.execute(delete(inbound).where(claim_key.in_(events))) if events else None
            # What routing, SLAs, notifications, reviews and the model kept about them.
            for table in (slas, drafts, notifications, feedback, labels, scores):
                await conn.execute(delete(table).where(table.c.lead_id.in_(lead_ids)))
            gone_decisions = await conn.execute(delete(decisions).where(decisions.c.lead_id.in_(lead_ids)))
            gone_leads = await conn.execute(delete(leads).where(leads.c.lead_id.in_(lead_ids)))
        return Erased(
            lead_ids,
            leads=int(gone_leads.rowcount or 0),
            decisions=int(gone_decisions.rowcount or 0),
            inbound=int(claims.rowcount or 0) if claims is not None else 0,
        )

    @translated
    async def count_decisions(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(decisions)) or 0)

    @translated
    async def record_label(
        self, lead_id: str, label: int, event_id: str, source: str, prop: str, value: str | None, at: datetime
    ) -> None:
        """Keep the newest outcome per lead; a redelivered or older event changes nothing."""
        row = {"lead_id": lead_id, "label": label, "event_id": event_id, "source": source,
               "property": prop[:200], "value": (value or "")[:200], "labelled_at": at}  # fmt: skip
        stmt = self._insert(labels).values(**row)
        async with self.engine.begin() as conn:
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["lead_id"],
                    set_={k: stmt.excluded[k] for k in row if k != "lead_id"},
                    where=labels.c.labelled_at <= stmt.excluded.labelled_at,
                )
            )

    @translated
    async def labelled_decisions(self) -> list[tuple[LeadRouted, int]]:
        """Each labelled lead's current decision (the lead as received) with its outcome."""
        query = (
            select(decisions.c.payload, labels.c.label)
            .select_from(labels.join(leads, leads.c.lead_id == labels.c.lead_id))
            .join(decisions, decisions.c.event_id == leads.c.event_id)
            .order_by(leads.c.received_at, leads.c.lead_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(LeadRouted.model_validate(payload), int(label)) for payload, label in rows]

    @translated
    async def score_counts(
        self, start: datetime, end: datetime, edges: Sequence[float], model_version: str | None = None
    ) -> list[int]:
        """How many of the model's scores decided in [start, end) fell in each bin between
        ``edges`` (the last bin closed, as numpy's histogram), of one model version when given.
        Counted by the database: a day of scores is a few numbers, not every row of the day."""
        p = scores.c.probability
        inner = [(p < edge, i) for i, edge in enumerate(edges[1:-1])]
        where = [scores.c.decided_at >= start, scores.c.decided_at < end]
        if model_version is not None:
            where.append(scores.c.model_version == model_version)
        binned = select(case(*inner, else_=len(edges) - 2).label("bin")).where(*where).subquery()
        query = select(binned.c.bin, func.count()).group_by(binned.c.bin)
        counts = [0] * (len(edges) - 1)
        async with self.engine.connect() as conn:
            for index, count in (await conn.execute(query)).all():
                counts[int(index)] = int(count)
        return counts

    @translated
    async def arms(self) -> list[dict[str, Any]]:
        """Per A/B arm: leads scored, how many have an outcome, and how many converted."""
        scored = select(scores.c.lead_id, scores.c.arm).distinct().subquery()
        query = (
            select(
                scored.c.arm,
                func.count(scored.c.lead_id),
                func.count(labels.c.lead_id),
                func.coalesce(func.sum(labels.c.label), 0),
            )
            .select_from(scored.outerjoin(labels, labels.c.lead_id == scored.c.lead_id))
            .group_by(scored.c.arm)
            .order_by(scored.c.arm)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {"arm": arm, "leads": int(n), "labelled": int(labelled), "conversions": int(won)}
            for arm, n, labelled, won in rows
        ]
