"""Store tables for what follows a routing decision: daily counts per person, SLA deadlines and
their outcome, email drafts, the notification outbox and review feedback.

Portable SQL through SQLAlchemy Core (SQLite and PostgreSQL); rows that belong to a decision are
written in the same transaction as the decision (SqlStore.record_routed), so they exist exactly
once per event. Claims (an SLA breach, a notification delivery) are compare-and-set updates, so
two replicas never act on the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.store.engine import translated
from schemas.events import LeadRouted

routing_metadata = MetaData()

# Leads taken per person per their local day: what daily caps count.
assignments = Table(
    "assignments",
    routing_metadata,
    Column("member", String(200), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("taken", Integer, nullable=False),
)

# One row per decision with a first-touch deadline: open -> met | breached | superseded (the
# lead's next decision gave it to someone else, or to a queue, first).
slas = Table(
    "slas",
    routing_metadata,
    Column("event_id", String(200), primary_key=True),
    Column("lead_id", String(100), nullable=False, index=True),
    Column("owner", String(200), nullable=False),
    Column("tier", String(100), nullable=False),
    Column("team", String(200)),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(10), nullable=False),
    Column("touched_at", DateTime(timezone=True)),
    Column("breached_at", DateTime(timezone=True)),
    Column("escalation_event_id", String(200)),  # the reassignment decision, once recorded
    Column("escalation_published", Boolean, nullable=False, default=False),
)

drafts = Table(
    "email_drafts",
    routing_metadata,
    Column("event_id", String(200), primary_key=True),
    Column("lead_id", String(100), nullable=False, index=True),
    Column("owner", String(200), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("auto_send", Boolean, nullable=False),
    # pending_approval -> (auto_send only) sending -> sent | failed; not_sent: rejected by a person
    Column("state", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The auto-send outbox (set only for auto_send drafts): the recipient, when the next try is due,
    # tries so far, and what happened. ``sending`` is a lease: past next_at another sender retries.
    Column("to_address", String(320)),
    Column("next_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("message_id", String(300)),
    Column("sent_at", DateTime(timezone=True)),
    Column("last_error", String(300)),
)

# The outbox: written with the decision, delivered (and retried) by the notifier in the background.
notifications = Table(
    "notifications",
    routing_metadata,
    Column("id", String(300), primary_key=True),  # event id + target: one per decision and target
    Column("lead_id", String(100), nullable=False),
    Column("channel", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(10), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_error", String(300)),
)

feedback = Table(
    "review_feedback",
    routing_metadata,
    Column("event_id", String(200), primary_key=True),
    Column("lead_id", String(100), nullable=False, index=True),
    Column("action", String(20), nullable=False),  # approve | override
    Column("changes", JSON, nullable=False),  # field -> [before, after]
    Column("note", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Outgoing:
    """A notification to deliver: ``id`` makes it once per decision and target."""

    id: str
    lead_id: str
    channel: str
    payload: dict[str, Any]


def follow_up_rows(
    recorded: Sequence[tuple[LeadRouted, Sequence[Outgoing], dict[str, Any] | None]],
) -> dict[Table, list[dict[str, Any]]]:
    """The rows new decisions add to each table above (their decision's transaction inserts
    them, keeping any already there): the SLA deadline, the email draft, the notifications and
    a review's feedback."""
    rows: dict[Table, list[dict[str, Any]]] = {slas: [], drafts: [], notifications: [], feedback: []}
    for routed, outgoing, review in recorded:
        decision = routed.routing
        if decision.first_touch_due is not None and decision.owner is not None:
            rows[slas].append(
                {"event_id": routed.event_id, "lead_id": routed.lead_id, "owner": decision.owner,
                 "tier": routed.evaluation.tier, "team": decision.team, "due_at": decision.first_touch_due,
                 "state": "open", "escalation_published": False}
            )  # fmt: skip
        if decision.draft is not None and decision.owner is not None:
            auto = decision.draft.auto_send
            rows[drafts].append(
                {"event_id": routed.event_id, "lead_id": routed.lead_id, "owner": decision.owner,
                 "subject": decision.draft.subject, "body": decision.draft.body, "auto_send": auto,
                 "state": "pending_approval", "created_at": routed.decided_at,
                 # The outbox part: only an auto_send draft is ever due for sending.
                 "to_address": routed.lead.person.email if auto else None,
                 "next_at": routed.decided_at if auto else None, "attempts": 0}
            )  # fmt: skip
        rows[notifications] += [
            {"id": note.id, "lead_id": note.lead_id, "channel": note.channel, "payload": note.payload,
             "state": "pending", "attempts": 0, "next_at": routed.decided_at}
            for note in outgoing
        ]  # fmt: skip
        if review is not None:
            rows[feedback].append(
                {"event_id": routed.event_id, "lead_id": routed.lead_id, "at": routed.decided_at, **review}
            )
    return rows


async def assigned_on(conn: AsyncConnection, days: Sequence[str]) -> dict[tuple[str, str], int]:
    """Leads each person took on each of ``days`` (their local days), read on ``conn``."""
    rows = await conn.execute(select(assignments).where(assignments.c.day.in_(days)))
    return {(r.member, r.day): int(r.taken) for r in rows.all()}


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{k: _utc(v) for k, v in row.items()} for row in result.mappings().all()]


class FollowUps:
    """Mixed into SqlStore: queries over the tables above. Needs ``self.engine``."""

    engine: AsyncEngine

    # SLAs

    @translated
    async def record_touch(self, lead_id: str, at: datetime) -> int:
        """A first touch: open deadlines of the lead are met. Returns how many were open."""
        async with self.engine.begin() as conn:
            met = await conn.execute(
                update(slas)
                .where(slas.c.lead_id == lead_id, slas.c.state == "open")
                .values(state="met", touched_at=at)
            )
            # A touch after a breach is still worth knowing (how late was it?).
            await conn.execute(
                update(slas)
                .where(slas.c.lead_id == lead_id, slas.c.state == "breached", slas.c.touched_at.is_(None))
                .values(touched_at=at)
            )
        return int(met.rowcount or 0)

    @translated
    async def due_slas(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(slas)
                .where(slas.c.state == "open", slas.c.due_at <= now)
                .order_by(slas.c.due_at)
                .limit(limit)
            )
            return _rows(result)

    @translated
    async def unpublished_escalations(self) -> list[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(slas.c.escalation_event_id).where(
                    slas.c.escalation_event_id.is_not(None), slas.c.escalation_published.is_(False)
                )
            )
            return [str(r[0]) for r in result.all()]

    @translated
    async def mark_escalation_published(self, escalation_event_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(slas)
                .where(slas.c.escalation_event_id == escalation_event_id)
                .values(escalation_published=True)
            )

    @translated
    async def sla_of(self, event_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            rows = _rows(await conn.execute(select(slas).where(slas.c.event_id == event_id)))
        return rows[0] if rows else None

    @translated
    async def sla_adherence(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per owner and tier: deadlines met, breached and still open (for the dashboard)."""
        counts = [
            func.sum(case((slas.c.state == s, 1), else_=0)).label(s) for s in ("met", "breached", "open")
        ]
        query = select(slas.c.owner, slas.c.tier, *counts).group_by(slas.c.owner, slas.c.tier)
        if since is not None:
            query = query.where(slas.c.due_at >= since)
        async with self.engine.connect() as conn:
            result = await conn.execute(query.order_by(slas.c.owner, slas.c.tier))
            return [
                {
                    "owner": r.owner,
                    "tier": r.tier,
                    "met": int(r.met),
                    "breached": int(r.breached),
                    "open": int(r.open),
                }
                for r in result.all()
            ]

    # Notifications

    @translated
    async def claim_notifications(
        self, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Due notifications, each leased to this caller (another replica sees it after the lease)."""
        async with self.engine.connect() as conn:
            due = _rows(
                await conn.execute(
                    select(notifications)
                    .where(notifications.c.state == "pending", notifications.c.next_at <= now)
                    .order_by(notifications.c.next_at)
                    .limit(limit)
                )
            )
        claimed = []
        for row in due:
            async with self.engine.begin() as conn:
                taken = await conn.execute(
                    update(notifications)
                    .where(
                        notifications.c.id == row["id"],
                        notifications.c.next_at == row["next_at"],
                        notifications.c.state == "pending",
                    )
                    .values(next_at=now + lease, attempts=notifications.c.attempts + 1)
                )
            if taken.rowcount == 1:
                claimed.append({**row, "attempts": row["attempts"] + 1})
        return claimed

    @translated
    async def finish_notification(
        self, notification_id: str, *, sent: bool, retry_at: datetime | None = None, error: str | None = None
    ) -> None:
        state = "sent" if sent else "pending" if retry_at is not None else "failed"
        values: dict[str, Any] = {"state": state, "last_error": error[:300] if error else None}
        if retry_at is not None:
            values["next_at"] = retry_at
        async with self.engine.begin() as conn:
            await conn.execute(
                update(notifications).where(notifications.c.id == notification_id).values(**values)
            )

    @translated
    async def notifications_for(self, lead_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return _rows(await conn.execute(select(notifications).where(notifications.c.lead_id == lead_id)))

    # Drafts and review

    @translated
    async def drafts_for(self, lead_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return _rows(await conn.execute(select(drafts).where(drafts.c.lead_id == lead_id)))

    @translated
    async def claim_drafts(self, now: datetime, lease: timedelta, limit: int = 20) -> list[dict[str, Any]]:
        """Auto-send drafts due for sending, each moved to ``sending`` by a compare-and-set (so one
        sender has it); one left ``sending`` past its lease (a sender died mid-send) is due again."""
        async with self.engine.connect() as conn:
            due = _rows(
                await conn.execute(
                    select(drafts)
                    .where(
                        drafts.c.auto_send.is_(True),
                        drafts.c.state.in_(("pending_approval", "sending")),
                        drafts.c.next_at <= now,
                    )
                    .order_by(drafts.c.next_at)
                    .limit(limit)
                )
            )
        claimed = []
        for row in due:
            async with self.engine.begin() as conn:
                taken = await conn.execute(
                    update(drafts)
                    .where(
                        drafts.c.event_id == row["event_id"],
                        drafts.c.state == row["state"],
                        drafts.c.attempts == row["attempts"],
                    )
                    .values(state="sending", next_at=now + lease, attempts=row["attempts"] + 1)
                )
            if taken.rowcount == 1:
                claimed.append({**row, "state": "sending", "attempts": row["attempts"] + 1})
        return claimed

    @translated
    async def finish_draft(
        self,
        event_id: str,
        attempts: int,
        *,
        sent_at: datetime | None = None,
        message_id: str | None = None,
        retry_at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        """Record a send's outcome, if this sender's claim still holds: sent; or due again at
        ``retry_at``; or failed. False when the claim was lost (the lease ran out meanwhile)."""
        values: dict[str, Any]
        if sent_at is not None:
            values = {"state": "sent", "sent_at": sent_at, "message_id": message_id, "last_error": None}
        elif retry_at is not None:
            values = {"state": "pending_approval", "next_at": retry_at, "last_error": (error or "")[:300]}
        else:
            values = {"state": "failed", "next_at": None, "last_error": (error or "")[:300]}
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(drafts)
                .where(
                    drafts.c.event_id == event_id, drafts.c.state == "sending", drafts.c.attempts == attempts
                )
                .values(**values)
            )
        return done.rowcount == 1

    @translated
    async def set_draft_state(self, event_id: str, state: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(drafts).where(drafts.c.event_id == event_id).values(state=state))

    @translated
    async def feedback_for(self, lead_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return _rows(
                await conn.execute(
                    select(feedback).where(feedback.c.lead_id == lead_id).order_by(feedback.c.at)
                )
            )


def local_days(now: datetime) -> list[str]:
    """Every calendar date some time zone is on at ``now`` (UTC-12 to UTC+14)."""
    today = now.astimezone(UTC).date()
    return [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
