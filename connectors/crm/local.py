"""The local CRM: a table in the embedded database, for running without HubSpot or Salesforce.

It keeps the same rules as the real connectors: one write per event (the record's
last_event_id and one note per event id, and the decision's email draft, if any, once), and a
record a person locked keeps its status and owner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.crm import BatchResult, WriteAction, WriteOutcome, write_each
from connectors.crm.reader import CrmAccount, CrmOwner, CrmRecord, Selection, UnsupportedSelection
from connectors.errors import RetriableConnectorError
from connectors.names import normalise_name
from connectors.store.engine import DRIVER_ERRORS, upsert
from connectors.store.migrate import prepare
from schemas.enrichment import ContactMatch
from schemas.events import LeadRouted
from schemas.lead import Lead, lead_id_for

metadata = MetaData()

records = Table(
    "crm_records",
    metadata,
    Column("lead_id", String(100), primary_key=True),
    Column("name", Text),  # first and last name, up to 200 characters each
    Column("company", String(300)),
    # The company's name normalised as account lookups compare it (normalise_name): indexed, so
    # finding a lead's account is a lookup, not a scan of every record (220 ms at 100,000:
    # tests/bench/bench_accounts.py).
    Column("company_key", String(300), index=True),
    Column("owner", String(200)),  # a person; a lead waiting in a queue has none
    Column("queue", String(200)),
    Column("status", String(40)),
    Column("tier", String(100)),
    Column("score", Integer),
    Column("reasons", JSON),
    Column("config_version", String(64)),
    Column("model_version", String(64)),
    Column("last_event_id", String(200)),
    Column("locked", Boolean, nullable=False, default=False),
    Column("writes", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True)),
)

notes = Table(
    "crm_notes",
    metadata,
    Column("event_id", String(200), primary_key=True),  # one briefing note per event, ever
    Column("lead_id", String(100), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The first-touch email draft of a decision, for its owner to approve (one per event, ever).
crm_drafts = Table(
    "crm_drafts",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("lead_id", String(100), nullable=False, index=True),
    Column("owner", String(200)),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class LocalCrm:
    name = "local"
    max_batch = 100

    def __init__(self, engine: AsyncEngine, *, migrate: bool = True) -> None:
        self._engine = engine
        self._insert = upsert(engine)
        self._migrate = migrate
        self._upsert = self._upsert_records()  # built once: the same statement for every write

    async def start(self) -> None:
        """The tables are in the store's migrations: upgrade (or check) them like the store does."""
        await prepare(self._engine, migrate=self._migrate)

    async def close(self) -> None:
        return None

    async def write(self, routed: LeadRouted) -> WriteOutcome:
        try:
            return await self._write(routed)
        except DRIVER_ERRORS as exc:
            raise RetriableConnectorError(f"local crm: {exc.__class__.__name__}") from exc

    async def write_many(self, batch: Sequence[LeadRouted]) -> list[BatchResult]:
        """The whole batch in one transaction (one commit instead of one per event). If that
        transaction fails, nothing of it was written: the events are retried one transaction
        each, so one bad record fails alone."""
        if not batch:
            return []
        try:
            async with self._engine.begin() as conn:
                if len({r.lead_id for r in batch}) < len(batch):
                    # One lead twice: its writes must follow each other, one event at a time.
                    return [await self._write_in(conn, routed) for routed in batch]
                return list(await self._write_batch_in(conn, batch))
        except DRIVER_ERRORS:
            return await write_each(self, batch)

    async def _write_batch_in(self, conn: AsyncConnection, batch: Sequence[LeadRouted]) -> list[WriteOutcome]:
        """Events of different leads, a statement per step for all of them (not four per event).
        The note is the write marker, taken first: of two writers racing on one event (a
        rebalance), the second waits on the first's row and then inserts nothing, and an event
        already written is skipped, even an older one redelivered after a newer one. Then the
        new events' drafts (in the note's transaction: both or neither), whether their records
        exist or are locked, and the records."""
        now = {r.event_id: datetime.now(r.decided_at.tzinfo) for r in batch}
        noted = await conn.execute(
            self._insert(notes).on_conflict_do_nothing(index_elements=["event_id"]).returning(notes.c.event_id),
            [{"event_id": r.event_id, "lead_id": r.lead_id, "body": r.briefing, "created_at": now[r.event_id]}
             for r in batch],
        )  # fmt: skip
        new_ids = set(noted.scalars().all())
        new = [r for r in batch if r.event_id in new_ids]
        drafted = [
            {"event_id": r.event_id, "lead_id": r.lead_id, "owner": r.routing.owner, "subject": draft.subject,
             "body": draft.body, "created_at": now[r.event_id]}
            for r in new
            if (draft := r.routing.draft) is not None
        ]  # fmt: skip
        if drafted:
            await conn.execute(
                self._insert(crm_drafts).on_conflict_do_nothing(index_elements=["event_id"]), drafted
            )
        locked: dict[str, bool] = {}
        if new:
            found = await conn.execute(
                select(records.c.lead_id, records.c.locked).where(
                    records.c.lead_id.in_([r.lead_id for r in new])
                )
            )
            locked = {lead_id: bool(flag) for lead_id, flag in found.all()}
            await conn.execute(self._upsert, [self._record_row(r, now[r.event_id]) for r in new])

        def action(routed: LeadRouted) -> WriteAction:
            if routed.event_id not in new_ids:
                return WriteAction.UNCHANGED
            if routed.lead_id not in locked:
                return WriteAction.CREATED
            return WriteAction.LOCKED if locked[routed.lead_id] else WriteAction.UPDATED

        return [WriteOutcome(self.name, r.lead_id, action(r)) for r in batch]

    def _upsert_records(self) -> Any:
        """Insert a record, or update it with every column a write sets; a locked one keeps its
        status, owner and queue, decided in the statement itself (so also against a lock set
        after the batch read it)."""
        stmt = self._insert(records)
        kept = {
            name: case((records.c.locked, records.c[name]), else_=stmt.excluded[name])
            for name in ("status", "owner", "queue")
        }
        updated = {
            c.name: stmt.excluded[c.name]
            for c in records.columns
            if c.name not in ("lead_id", "locked", "writes", *kept)
        }
        return stmt.on_conflict_do_update(
            index_elements=["lead_id"], set_={**updated, **kept, "writes": records.c.writes + 1}
        )

    @staticmethod
    def _record_row(routed: LeadRouted, now: datetime) -> dict[str, Any]:
        company = routed.lead.company.name or routed.lead.company.domain
        return {
            "lead_id": routed.lead_id, "locked": False, "writes": 1,
            "name": routed.lead.person.name,
            "company": company, "company_key": normalise_name(company) or None,
            "tier": routed.evaluation.tier, "score": routed.evaluation.score,
            "reasons": list(routed.evaluation.reasons), "config_version": routed.config_version,
            "model_version": routed.model_version, "last_event_id": routed.event_id, "updated_at": now,
            "status": routed.evaluation.status.value, "owner": routed.routing.owner,
            "queue": routed.routing.queue,
        }  # fmt: skip

    async def _write(self, routed: LeadRouted) -> WriteOutcome:
        async with self._engine.begin() as conn:
            return await self._write_in(conn, routed)

    async def _write_in(self, conn: AsyncConnection, routed: LeadRouted) -> WriteOutcome:
        [outcome] = await self._write_batch_in(conn, [routed])
        return outcome

    async def forget(self, email: str) -> None:
        """Delete the person's record and notes (their lead id is derived from the email)."""
        lead_id = lead_id_for(email.strip().lower())
        try:
            async with self._engine.begin() as conn:
                await conn.execute(notes.delete().where(notes.c.lead_id == lead_id))
                await conn.execute(crm_drafts.delete().where(crm_drafts.c.lead_id == lead_id))
                await conn.execute(records.delete().where(records.c.lead_id == lead_id))
        except DRIVER_ERRORS as exc:
            raise RetriableConnectorError(f"local crm: {exc.__class__.__name__}") from exc

    async def lock(self, lead_id: str, locked: bool = True) -> None:
        """What an AE does in the CRM: pin the status and owner against automatic changes."""
        async with self._engine.begin() as conn:
            await conn.execute(records.update().where(records.c.lead_id == lead_id).values(locked=locked))

    async def contact(self, lead_id: str) -> ContactMatch | None:
        """The lead as this CRM knows it: owner, status, and whether a person locked them."""
        return (await self.contacts([lead_id])).get(lead_id)

    async def contacts(self, lead_ids: Sequence[str]) -> dict[str, ContactMatch]:
        """``contact`` for many leads in one query (500 ids a query): those this CRM knows."""
        found: dict[str, ContactMatch] = {}
        unique = list(dict.fromkeys(lead_ids))
        columns = (records.c.lead_id, records.c.owner, records.c.status, records.c.locked)
        async with self._engine.connect() as conn:
            for start in range(0, len(unique), 500):
                rows = await conn.execute(
                    select(*columns).where(records.c.lead_id.in_(unique[start : start + 500]))
                )
                for lead_id, owner, status, locked in rows.all():
                    found[lead_id] = ContactMatch(
                        crm=self.name, record_id=lead_id, owner=owner, status=status, locked=locked
                    )
        return found

    async def record(self, lead_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(records).where(records.c.lead_id == lead_id))).mappings().first()
        return dict(row) if row else None

    async def note_counts(self) -> dict[str, int]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(notes.c.lead_id, func.count()).group_by(notes.c.lead_id))
        return {lead_id: int(n) for lead_id, n in rows.all()}

    async def drafts(self, lead_id: str) -> list[dict[str, Any]]:
        """The lead's email drafts waiting for their owner, oldest first."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(crm_drafts).where(crm_drafts.c.lead_id == lead_id).order_by(crm_drafts.c.created_at)
            )
            return [dict(row) for row in rows.mappings().all()]

    async def write_counts(self) -> dict[str, int]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(records.c.lead_id, records.c.writes))
        return {lead_id: int(n) for lead_id, n in rows.all()}

    # -- reading (CrmReader), for requalify -------------------------------------------------------

    def _where(self, selection: Selection) -> Any:
        if selection.query:
            raise UnsupportedSelection("the local CRM takes ids or since, not a query")
        clause: Any = records.c.lead_id.is_not(None)
        if selection.ids:
            clause = clause & records.c.lead_id.in_(list(selection.ids))
        if selection.since is not None:
            clause = clause & (records.c.updated_at >= selection.since)
        return clause

    async def records(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmRecord]]:
        """Records by lead_id, a page at a time (keyset paging, so nothing is held beyond a page)."""
        after = ""
        while True:
            async with self._engine.connect() as conn:
                rows = (
                    (
                        await conn.execute(
                            select(records)
                            .where(self._where(selection) & (records.c.lead_id > after))
                            .order_by(records.c.lead_id)
                            .limit(page_size)
                        )
                    )
                    .mappings()
                    .all()
                )
            if not rows:
                return
            yield [self._record(dict(row)) for row in rows]
            after = rows[-1]["lead_id"]

    def _record(self, row: dict[str, Any]) -> CrmRecord:
        first, _, last = (row["name"] or "").partition(" ")
        lead = Lead.model_validate(
            {
                "person": {"first_name": first or None, "last_name": last or None},
                "company": {"name": row["company"]},
                "source": self.name,
                "source_record_id": row["lead_id"],
            }
        )
        return CrmRecord(self.name, row["lead_id"], lead, bool(row["locked"]))

    async def accounts(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmAccount]]:
        """The local CRM has no account table: each distinct company name is an account."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(records.c.company, func.max(records.c.owner))
                .where(self._where(selection) & records.c.company.is_not(None))
                .group_by(records.c.company)
                .order_by(records.c.company)
            )
            names = rows.all()
        for start in range(0, len(names), page_size):
            yield [
                CrmAccount(self.name, company, company, None, owner=owner)
                for company, owner in names[start : start + page_size]
            ]

    async def owners(self) -> list[CrmOwner]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(records.c.owner).where(records.c.owner.is_not(None)).distinct())
            return [CrmOwner(self.name, owner, None, owner) for (owner,) in rows.all()]
