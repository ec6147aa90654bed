"""Decode, write to the CRM (idempotent by event_id), record when it was written.

The writer takes a whole fetched batch (``handle_batch``) and writes it through each CRM's batch
endpoints:
- each event goes to the CRM crm.yaml names for its lead's source (``crm_for``);
- a ``write_many`` call holds at most one event per lead and ``max_batch`` events; a lead's
  second event goes in a later call, so one lead's events are written in order;
- an event the CRM still refuses after the Guard's retries is dead-lettered on its own;
- while a CRM is away (CrmUnavailable, or throttled past the Guard's retries) the writer waits
  and tries the same call again: nothing is dead-lettered and no offset is committed for it.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from connectors.bus import Message
from connectors.crm import BatchResult, CrmWriter, WriteOutcome
from connectors.errors import (
    CrmUnavailable,
    FatalConnectorError,
    RetriableConnectorError,
    Throttled,
)
from connectors.store.sql import SqlStore, Written
from schemas.events import LeadRouted
from services import metrics, tracing
from services.consumer import DeadLetterFn, decoded
from services.errors import PoisonEvent
from services.logs import get_logger
from services.tracing import stage

GROUP = "leadflow-writer"
Item = tuple[Message, LeadRouted]


def rounds(items: Sequence[Item]) -> list[list[Item]]:
    """Split a batch into rounds with at most one event per lead, keeping each lead's order."""
    seen: dict[str, int] = defaultdict(int)
    out: list[list[Item]] = []
    for item in items:
        n = seen[item[1].lead_id]
        seen[item[1].lead_id] += 1
        if n == len(out):
            out.append([])
        out[n].append(item)
    return out


def chunks(items: Sequence[Item], size: int) -> list[list[Item]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class Writer:
    def __init__(
        self,
        store: SqlStore,
        crm: CrmWriter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        crms: Mapping[str, CrmWriter] | None = None,
        crm_for: Callable[[str], str] | None = None,
        max_attempts: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store, self._crm, self._clock = store, crm, clock
        self._crms = dict(crms or {})
        self._crm_for = crm_for or (lambda source: crm.name)
        self._max_attempts, self._sleep = max_attempts, sleep
        self._log = get_logger(consumer=GROUP, connector=crm.name)

    def crm_of(self, routed: LeadRouted) -> CrmWriter:
        return self._crms.get(self._crm_for(routed.lead.source), self._crm)

    async def handle(self, message: Message) -> None:
        """One message (the consume loop's per-message path)."""
        routed = self._decode(message)
        outcome = await self.crm_of(routed).write(routed)
        self._written(routed, outcome, await self._mark([(routed, outcome)]))

    async def handle_batch(self, messages: Sequence[Message], dead_letter: DeadLetterFn) -> None:
        """A fetched batch: write it in CRM batch calls; dead-letter only what fails on its own."""
        items = await decoded(messages, self._decode, dead_letter)
        for round_ in rounds(items):
            by_crm: dict[str, list[Item]] = defaultdict(list)
            for item in round_:
                by_crm[self.crm_of(item[1]).name].append(item)
            # Different CRMs have separate budgets: write to them at the same time.
            async with asyncio.TaskGroup() as group:
                for group_items in by_crm.values():
                    crm = self.crm_of(group_items[0][1])
                    group.create_task(self._write_all(crm, group_items, dead_letter))

    async def _write_all(self, crm: CrmWriter, items: list[Item], dead_letter: DeadLetterFn) -> None:
        for chunk in chunks(items, max(1, crm.max_batch)):
            results = await self._write_chunk(crm, [routed for _, routed in chunk])
            done: list[tuple[Message, LeadRouted, WriteOutcome]] = []
            for (message, routed), result in zip(chunk, results, strict=True):
                if isinstance(result, WriteOutcome):
                    done.append((message, routed, result))
                else:
                    await dead_letter(message, result)
            written_at = await self._mark([(routed, outcome) for _, routed, outcome in done])
            for message, routed, outcome in done:
                # The CRM call served the whole chunk; each lead's trace gets its own write span.
                with tracing.continued(message.headers):
                    self._written(routed, outcome, written_at)

    async def _write_chunk(self, crm: CrmWriter, batch: list[LeadRouted]) -> list[BatchResult]:
        failures = 0
        while True:
            try:
                return await crm.write_many(batch)
            except (CrmUnavailable, Throttled) as exc:
                # The CRM is away or out of budget: wait, never dead-letter for it.
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                self._log.warning("crm_unavailable", crm=crm.name, events=len(batch), retry_after=wait,
                                  error=str(exc))  # fmt: skip
                await self._sleep(max(0.05, wait))
            except FatalConnectorError as exc:
                return [exc] * len(batch)
            except RetriableConnectorError as exc:
                failures += 1
                if failures >= self._max_attempts:
                    return [exc] * len(batch)
                self._log.warning("crm_retry", crm=crm.name, attempt=failures, error=str(exc))
                await self._sleep(random.uniform(0, min(10.0, 0.2 * 2**failures)))

    def _decode(self, message: Message) -> LeadRouted:
        try:
            return LeadRouted.model_validate_json(message.value)
        except ValidationError as exc:
            raise PoisonEvent(f"not a LeadRouted event: {exc.error_count()} errors") from exc

    async def _mark(self, done: Sequence[tuple[LeadRouted, WriteOutcome]]) -> datetime:
        """Record what the CRM took as written, in one store transaction; returns when."""
        written_at = self._clock()
        await self._store.mark_written_many(
            [Written(r.lead_id, r.event_id, o.crm, o.record_id) for r, o in done], written_at
        )
        return written_at

    def _written(self, routed: LeadRouted, outcome: WriteOutcome, written_at: datetime) -> None:
        with stage("write", lead_id=routed.lead_id, crm=outcome.crm) as span:
            span.set_attribute("action", outcome.action.value)
        metrics.written(outcome.crm, outcome.action.value, routed.received_at, written_at)
        self._log.info(
            "lead_written",
            lead_id=routed.lead_id,
            event_id=routed.event_id,
            crm=outcome.crm,
            action=outcome.action.value,
            config_version=routed.config_version,
        )
