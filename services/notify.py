"""Notifications: what a routing rule or an SLA breach tells people, through an outbox.

The qualifier writes the notifications with its decision (one row per decision and target, in
the decision's transaction); the notifier delivers them in the background, so a slow or broken
endpoint never holds up the CRM write-back. Delivery is at least once, retried with capped
exponential backoff; the Standard Webhooks ``webhook-id`` is the row id, so a receiver can drop
a repeat. Slack-compatible channels get ``{"text": ...}``; ``webhook`` channels get the JSON
payload, signed as Standard Webhooks (HMAC-SHA256, ``v1,<base64>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.errors import ConnectorError
from connectors.store.routing import Outgoing
from connectors.store.sql import SqlStore
from schemas.config import RoutingConfig
from schemas.events import LeadRouted
from services.intake.signatures import secret_keys
from services.intake.sources.standard import sign
from services.logs import get_logger

log = get_logger(component="notifier")
MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)


def summary(briefing: str, lines: int = 3) -> str:
    return "\n".join(briefing.splitlines()[:lines])


def outgoing(
    routed: LeadRouted, config: RoutingConfig, *, kind: str = "lead.routed", manager: bool = False
) -> list[Outgoing]:
    """The notifications a decision sends: its rule's targets, plus the manager on an SLA breach."""
    decision = routed.routing
    channels: list[str] = []
    for target in decision.notify:
        if target == "owner":
            found = config.member(decision.owner) if decision.owner else None
            if found is not None and found[1].notify is not None:
                channels.append(found[1].notify)
        else:
            channels.append(target)
    if manager and decision.team is not None:
        team = next((t for t in config.teams if t.name == decision.team), None)
        if team is not None and team.manager_notify is not None:
            channels.append(team.manager_notify)
    link = config.briefing.record_url.format(lead_id=routed.lead_id)
    brief = summary(routed.briefing)
    where = decision.owner or (f"queue '{decision.queue}'" if decision.queue else decision.disposition or "-")
    payload: dict[str, Any] = {
        "type": kind,
        "lead_id": routed.lead_id,
        "event_id": routed.event_id,
        "owner": decision.owner,
        "team": decision.team,
        "queue": decision.queue,
        "tier": routed.evaluation.tier,
        "status": routed.evaluation.status.value,
        "score": routed.evaluation.score,
        "reason": decision.reason,
        "summary": brief,
        "link": link,
        "text": f"{'SLA breached, ' if kind == 'lead.sla_breached' else ''}new lead for {where}: "
        f"{brief}\n{link}",
    }
    return [
        Outgoing(id=f"{routed.event_id}:{channel}", lead_id=routed.lead_id, channel=channel, payload=payload)
        for channel in dict.fromkeys(channels)
    ]


def retry_after(attempts: int, base: float = 2.0, cap: float = 600.0) -> timedelta:
    return timedelta(seconds=min(cap, base * 2 ** (attempts - 1)))


class Notifier:
    def __init__(
        self,
        store: SqlStore,
        config: Callable[[], RoutingConfig],
        *,
        secrets: Mapping[str, SecretStr] | None = None,
        urls: Mapping[str, SecretStr] | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store, self._config, self._clock = store, config, clock
        self._secrets, self._urls = secrets or {}, urls or {}
        self._client = client or httpx.AsyncClient(timeout=10)
        self._own_client = client is None

    async def run(self, stop: asyncio.Event, every: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except ConnectorError as exc:
                log.warning("notifier_unavailable", error=exc.__class__.__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def tick(self) -> int:
        """Deliver what is due; returns how many were sent."""
        sent = 0
        for row in await self._store.claim_notifications(self._clock(), LEASE):
            error = await self._deliver(row["id"], row["channel"], row["payload"])
            if error is None:
                sent += 1
                await self._store.finish_notification(row["id"], sent=True)
                log.info("notified", lead_id=row["lead_id"], channel=row["channel"])
                continue
            permanent, text = error
            retry = (
                None
                if permanent or row["attempts"] >= MAX_ATTEMPTS
                else self._clock() + retry_after(row["attempts"])
            )
            await self._store.finish_notification(row["id"], sent=False, retry_at=retry, error=text)
            log.warning(
                "notify_failed",
                lead_id=row["lead_id"],
                channel=row["channel"],
                error=text,
                attempt=row["attempts"],
                retrying=retry is not None,
            )
        return sent

    async def _deliver(self, msg_id: str, name: str, payload: dict[str, Any]) -> tuple[bool, str] | None:
        """None when delivered, else (permanent?, why)."""
        channel = self._config().channels.get(name)
        if channel is None:
            return True, f"channel '{name}' is no longer configured"
        url = self._urls[name].get_secret_value() if name in self._urls else channel.url
        if not url:
            return True, f"channel '{name}' has no URL"
        if channel.kind == "slack":
            body = json.dumps({"text": payload["text"]}).encode()
            headers = {"content-type": "application/json"}
        else:
            if name not in self._secrets:
                return True, f"channel '{name}' has no signing secret (LEADFLOW_NOTIFY_SECRETS)"
            body = json.dumps(payload, separators=(",", ":")).encode()
            timestamp = int(self._clock().timestamp())
            key = secret_keys(self._secrets[name].get_secret_value())[0]
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(key, msg_id, timestamp, body),
            }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return False, exc.__class__.__name__
        if response.is_success:
            return None
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
        return permanent, f"HTTP {response.status_code}"
