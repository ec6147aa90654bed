"""Decode, decide (through the pure core), record, publish. Idempotent by event_id.

The qualifier takes a whole fetched batch (``handle_batch``; ``handle`` is a batch of one):
- one store query finds the events already decided (a redelivery): their decision is published
  again, never made twice, so a crash between recording and publishing loses nothing;
- each new event is enriched on its own (concurrently), then the batch is decided in one call
  of the rules and the model (services.model.policy.decide, the backtest's code path too);
- the batch is routed in memory from one read of the rotation state and recorded in one store
  transaction whose takes are compare-and-sets (services.qualifier.recording): when another
  replica moved a pool meanwhile, it is routed again from the new state;
- an event that fails on its own (not a LeadReceived, its enrichment or decision raising) is
  dead-lettered with its error and the rest go on; a store or bus failure raises, so the batch
  is redelivered and nothing is committed.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from connectors.bus import Bus, Message
from connectors.errors import FatalConnectorError, RetriableConnectorError
from connectors.store.sql import SqlStore
from schemas.config import LeadflowConfig
from schemas.decision import Evaluation, OwnerStatus
from schemas.enrichment import ContactMatch, Enrichment
from schemas.events import TOPIC_RECEIVED, TOPIC_ROUTED, LeadReceived, LeadRouted
from schemas.lead import Lead
from services import metrics, tracing
from services.briefing import Briefer, Suggestion
from services.consumer import DeadLetterFn, decoded
from services.core.facts import company_facts
from services.errors import PoisonEvent
from services.logs import get_logger
from services.model.policy import Case, decide
from services.model.scoring import Model
from services.qualifier.recording import Judged, Router, Stood
from services.tracing import stage

GROUP = "leadflow-qualifier"
Item = tuple[Message, LeadReceived]
Outcome = tuple[Message, LeadRouted, str | None]  # the decision to publish, and its JSON if made here


class Enricher(Protocol):
    async def enrich(self, lead: Lead) -> Enrichment:
        """Never raises: a provider that fails is recorded, not fatal."""
        ...


@runtime_checkable
class ContactDirectory(Protocol):
    async def contact(self, lead_id: str) -> ContactMatch | None: ...


@runtime_checkable
class ContactBatch(Protocol):
    """A directory that looks many leads up at once (one query, not one per lead)."""

    async def contacts(self, lead_ids: Sequence[str]) -> Mapping[str, ContactMatch]: ...


@runtime_checkable
class RosterSource(Protocol):
    """What the CRM says about owners (active, out of office); overrides routing.yaml's roster."""

    async def owners(self) -> Mapping[str, OwnerStatus]: ...


async def _raise(_message: Message, exc: BaseException) -> None:
    raise exc  # a batch of one: the consume loop retries or dead-letters it


class Qualifier:
    def __init__(
        self,
        bus: Bus,
        store: SqlStore,
        config: Callable[[], LeadflowConfig],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        enricher: Enricher | None = None,
        contacts: ContactDirectory | None = None,
        model: Callable[[], Model | None] | None = None,
        briefer: Briefer | None = None,
        roster: RosterSource | None = None,
        *,
        max_attempts: int = 5,
    ) -> None:
        self._bus, self._store, self._config, self._clock = bus, store, config, clock
        self._enricher, self._contacts = enricher, contacts
        self._model = model or (lambda: None)
        self._briefer, self._roster = briefer, roster
        self._max_attempts = max_attempts
        self._router = Router(store, clock, briefer)
        self._log = get_logger(consumer=GROUP)

    async def handle(self, message: Message) -> None:
        """One message (the consume loop's per-message path): its failure is raised."""
        await self._batch([message], _raise, attempts=1)

    async def handle_batch(self, messages: Sequence[Message], dead_letter: DeadLetterFn) -> None:
        """A fetched batch: decided, recorded and published together; what fails on its own is
        dead-lettered, the rest go on."""
        await self._batch(messages, dead_letter, attempts=self._max_attempts)

    async def _batch(self, messages: Sequence[Message], dead_letter: DeadLetterFn, *, attempts: int) -> None:
        config = self._config()
        items = await decoded(messages, self._decode, dead_letter)
        # A redelivery republishes the decision already made, so a crash between recording and
        # publishing loses nothing and the rotation does not advance twice.
        earlier = await self._store.decisions_for_events([received.event_id for _, received in items])
        stands = {event_id: Stood(routed) for event_id, routed in earlier.items()}
        new: dict[str, Item] = {}
        for message, received in items:
            if received.event_id not in stands:
                new.setdefault(received.event_id, (message, received))  # one decision per event
        judged = await self._judge(config, list(new.values()), dead_letter, attempts)
        if judged:
            decided, failed = await self._router.route_and_record(config, judged)
            for one, error in failed:
                await self._failed(one.message, error, dead_letter)
            for stood in decided:
                metrics.decided(stood.routed.evaluation.status.value, stood.routed.evaluation.tier)
            # If another worker decided one of them meanwhile, its decision stands, not ours
            # (with our JSON, published as recorded, only where ours was recorded).
            stands.update((stood.routed.event_id, stood) for stood in decided)
        await self._publish([(message, *stands[r.event_id]) for message, r in items if r.event_id in stands])

    async def decide_and_record(self, received: LeadReceived) -> LeadRouted:
        """Decide one event and record it, without publishing (for tools and tests); the
        decision that stands if another worker recorded one for the event first."""
        config = self._config()
        message = Message(TOPIC_RECEIVED, 0, -1, received.lead.identity, b"")  # no bus message behind it
        [judged] = await self._judge(config, [(message, received)], _raise, attempts=1)
        decided, failed = await self._router.route_and_record(config, [judged])
        for _, error in failed:
            raise error
        [(routed, _)] = decided
        return routed

    def _decode(self, message: Message) -> LeadReceived:
        try:
            return LeadReceived.model_validate_json(message.value)
        except ValidationError as exc:
            raise PoisonEvent(f"not a LeadReceived event: {exc.error_count()} errors") from exc

    async def _judge(
        self, config: LeadflowConfig, items: list[Item], dead_letter: DeadLetterFn, attempts: int
    ) -> list[Judged]:
        """Enrich each lead (concurrently) and decide them all: what every routing attempt reuses."""
        if not items:
            return []
        # A directory that can look the batch up at once does; the others are asked per lead.
        known = None
        if isinstance(self._contacts, ContactBatch):
            known = await self._contacts.contacts([received.lead_id for _, received in items])
        enriched = await asyncio.gather(*(self._enrich(item, attempts, known) for item in items))
        ready: list[tuple[Item, Enrichment | None]] = []
        for item, result in zip(items, enriched, strict=True):
            if isinstance(result, BaseException):
                await self._failed(item[0], result, dead_letter)
            else:
                ready.append((item, result))
        evaluations = await self._evaluate(config, ready, dead_letter)
        roster = await self._roster.owners() if self._roster else {}
        suggestions: Sequence[Suggestion | BaseException]
        if self._briefer is None or not self._briefer.asks_llm:
            # No LLM: the template's own angle for all, without a task per lead to say so.
            suggestions = [Suggestion()] * len(evaluations)
        else:
            suggestions = await asyncio.gather(
                *(self._suggest(one, evaluation) for one, (evaluation, _) in evaluations)
            )
        judged = []
        for (((message, received), enrichment), (evaluation, version)), suggestion in zip(
            evaluations, suggestions, strict=True
        ):
            if isinstance(suggestion, BaseException):
                await self._failed(message, suggestion, dead_letter)
                continue
            owner = enrichment.account.owner if enrichment and enrichment.account else None
            judged.append(
                Judged(message, received, enrichment, evaluation, version, owner, suggestion, roster)
            )
        return judged

    async def _suggest(
        self, one: tuple[Item, Enrichment | None], evaluation: Evaluation
    ) -> Suggestion | BaseException:
        """The LLM's angle when it is on (the template's own otherwise), or the error to
        dead-letter the lead with."""
        (_, received), enrichment = one
        if self._briefer is None:
            return Suggestion()
        try:
            return await self._briefer.suggest(received.lead, enrichment, evaluation)
        except Exception as exc:  # a crash for one lead must not stall the rest
            return exc

    async def _enrich(
        self, item: Item, attempts: int, known: Mapping[str, ContactMatch] | None
    ) -> Enrichment | BaseException | None:
        """The lead's enrichment, or the error to dead-letter it with (retried while retriable)."""
        message, received = item
        with tracing.continued(message.headers), stage("enrich", lead_id=received.lead_id):
            for attempt in range(1, attempts + 1):
                try:
                    return await self._enrichment(received, known)
                except RetriableConnectorError as exc:
                    if attempt == attempts:
                        return exc
                    self._log.warning("retry", event_id=received.event_id, attempt=attempt, error=str(exc))
                    await asyncio.sleep(random.uniform(0, min(10.0, 0.2 * 2**attempt)))
                except Exception as exc:  # a bug in one lead's enrichment must not stall the rest
                    return exc
        raise AssertionError("unreachable")

    async def _enrichment(
        self, received: LeadReceived, known: Mapping[str, ContactMatch] | None
    ) -> Enrichment | None:
        lead = received.lead
        enrichment = await self._enricher.enrich(lead) if self._enricher else None
        if known is not None:
            contact = known.get(received.lead_id)
        else:
            contact = await self._contacts.contact(received.lead_id) if self._contacts else None
        if contact is None:
            return enrichment
        base = enrichment or Enrichment(company=company_facts(lead, None))
        return base.model_copy(update={"contact": contact})

    async def _evaluate(
        self, config: LeadflowConfig, ready: list[tuple[Item, Enrichment | None]], dead_letter: DeadLetterFn
    ) -> list[tuple[tuple[Item, Enrichment | None], tuple[Evaluation, str | None]]]:
        """The rules, then the model, for the whole batch in one call; if that raises, one lead
        at a time, so only the lead that fails is dead-lettered."""
        model = self._model()
        # Judged as of arrival, so a replay of history decides as production did.
        cases = [Case(received.lead_id, received.lead, enrichment, received.received_at)
                 for (_, received), enrichment in ready]  # fmt: skip
        spans = [(message.headers, {"lead_id": received.lead_id, "config_version": config.version})
                 for (message, received), _ in ready]  # fmt: skip
        with tracing.stages("evaluate", spans):
            try:
                return list(zip(ready, decide(cases, config, model), strict=True))
            except Exception:
                if len(cases) > 1:
                    self._log.exception("batch_decision_failed", events=len(cases))
            out = []
            for one, case in zip(ready, cases, strict=True):
                try:
                    [evaluation] = decide([case], config, model)
                except Exception as exc:
                    await self._failed(one[0][0], exc, dead_letter)
                    continue
                out.append((one, evaluation))
            return out

    async def _failed(self, message: Message, exc: BaseException, dead_letter: DeadLetterFn) -> None:
        if not isinstance(exc, PoisonEvent | FatalConnectorError | RetriableConnectorError):
            # A bug must not stall the partition: the event goes to the DLQ with its error.
            self._log.error("handler_failed", offset=message.offset, exc_info=exc)
        await dead_letter(message, exc)

    async def _publish(self, done: list[Outcome]) -> None:
        """Publish every result: one lead's (one key's) in order, different keys at once."""
        by_key: dict[str | None, list[Outcome]] = defaultdict(list)
        for outcome in done:
            by_key[outcome[0].key].append(outcome)
        async with asyncio.TaskGroup() as group:
            for chain in by_key.values():
                group.create_task(self._publish_in_order(chain))

    async def _publish_in_order(self, chain: list[Outcome]) -> None:
        for message, routed, body in chain:
            value = (body if body is not None else routed.model_dump_json()).encode()
            # The trace goes on from the message's, as each lead's write span will.
            with tracing.continued(message.headers):
                await self._bus.publish(TOPIC_ROUTED, message.key, value, message.headers)
            self._log.info(
                "lead_routed",
                lead_id=routed.lead_id,
                event_id=routed.event_id,
                source=routed.lead.source,
                status=routed.evaluation.status.value,
                tier=routed.evaluation.tier,
                rule_id=routed.routing.rule_id,
                config_version=routed.config_version,
                model_version=routed.model_version,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
