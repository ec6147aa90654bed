"""Decode, decide (through the pure core), record, publish. Idempotent by event_id."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from connectors.bus import Bus, Message
from connectors.errors import RetriableConnectorError
from connectors.store.sql import SqlStore
from schemas.config import LeadflowConfig
from schemas.decision import Evaluation, OwnerStatus, Take
from schemas.enrichment import ContactMatch, Enrichment
from schemas.events import TOPIC_ROUTED, LeadReceived, LeadRouted
from schemas.lead import Lead
from services import metrics
from services.briefing import Briefer, Suggestion
from services.core.briefing import briefing
from services.core.facts import company_facts
from services.core.routing import route
from services.errors import PoisonEvent
from services.logs import get_logger
from services.model.policy import Case, decide
from services.model.scoring import Model
from services.notify import outgoing
from services.tracing import stage

GROUP = "leadflow-qualifier"
ROTATION_ATTEMPTS = 200  # compare-and-set retries when replicas race for the same pool


class Enricher(Protocol):
    async def enrich(self, lead: Lead) -> Enrichment:
        """Never raises: a provider that fails is recorded, not fatal."""
        ...


@runtime_checkable
class ContactDirectory(Protocol):
    async def contact(self, lead_id: str) -> ContactMatch | None: ...


@runtime_checkable
class RosterSource(Protocol):
    """What the CRM says about owners (active, out of office); overrides routing.yaml's roster."""

    async def owners(self) -> Mapping[str, OwnerStatus]: ...


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
    ) -> None:
        self._bus, self._store, self._config, self._clock = bus, store, config, clock
        self._enricher, self._contacts = enricher, contacts
        self._model = model or (lambda: None)
        self._briefer, self._roster = briefer, roster
        self._locks: dict[str, asyncio.Lock] = {}
        self._log = get_logger(consumer=GROUP)

    async def handle(self, message: Message) -> None:
        try:
            received = LeadReceived.model_validate_json(message.value)
        except ValidationError as exc:
            raise PoisonEvent(f"not a LeadReceived event: {exc.error_count()} errors") from exc
        # A redelivery republishes the decision already made, so a crash between recording
        # and publishing loses nothing and the rotation does not advance twice.
        routed = await self._store.decision_for_event(received.event_id)
        if routed is None:
            # If another worker decided this event meanwhile, its decision stands, not ours.
            routed = await self.decide_and_record(received)
            metrics.decided(routed.evaluation.status.value, routed.evaluation.tier)
        await self._bus.publish(TOPIC_ROUTED, message.key, routed.model_dump_json().encode(), message.headers)
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
        )

    async def _enrich(self, received: LeadReceived) -> Enrichment | None:
        lead = received.lead
        enrichment = await self._enricher.enrich(lead) if self._enricher else None
        contact = await self._contacts.contact(received.lead_id) if self._contacts else None
        if contact is None:
            return enrichment
        base = enrichment or Enrichment(company=company_facts(lead, None))
        return base.model_copy(update={"contact": contact})

    async def decide_and_record(self, received: LeadReceived) -> LeadRouted:
        """Decide and record in one store transaction. The rotation turn is taken with a
        compare-and-set: when another replica took it first, route again from the new state.
        Within this process one lock per pool keeps concurrent leads from racing each other,
        so only replicas contend (a handful of retries, not one per lead in flight)."""
        config = self._config()
        lead = received.lead
        with stage("enrich", lead_id=received.lead_id):
            enrichment = await self._enrich(received)
        with stage("evaluate", lead_id=received.lead_id, config_version=config.version):
            # Judged as of arrival, so a replay of history decides as production did; the rules,
            # then the model (services.model.policy, the backtest's code path too).
            case = Case(received.lead_id, lead, enrichment, received.received_at)
            [(evaluation, model_version)] = decide([case], config, self._model())
        owner = enrichment.account.owner if enrichment and enrichment.account else None
        suggestion = await self._briefer.suggest(lead, enrichment, evaluation) if self._briefer else None
        roster = await self._roster.owners() if self._roster else {}
        judged = Judged(
            received, enrichment, evaluation, model_version, owner, suggestion or Suggestion(), roster
        )
        with stage("route", lead_id=received.lead_id) as span:
            routed = await self._route_and_record(config, judged)
            span.set_attribute("rule_id", routed.routing.rule_id)
            return routed

    async def _route_and_record(self, config: LeadflowConfig, judged: Judged) -> LeadRouted:
        first = await self._attempt(config, judged)
        if isinstance(first, LeadRouted):
            return first
        async with self._locks.setdefault(first.pool, asyncio.Lock()):
            for attempt in range(ROTATION_ATTEMPTS):
                stands = await self._attempt(config, judged)
                if isinstance(stands, LeadRouted):
                    return stands
                await asyncio.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))
        raise RetriableConnectorError(f"rotation contended {ROTATION_ATTEMPTS} times; retrying the lead")

    async def _attempt(self, config: LeadflowConfig, judged: Judged) -> LeadRouted | Take:
        """Route from the store's current rotation state and record; the Take that lost the race
        when another decision moved the pool first."""
        received, lead, evaluation = judged.received, judged.received.lead, judged.evaluation
        now = self._clock()
        state = await self._store.rotation_state(now)
        routed = route(
            lead,
            evaluation,
            config.routing,
            now=now,
            enrichment=judged.enrichment,
            account_owner=judged.account_owner,
            state=state,
            roster=judged.roster,
        )
        decision = routed.decision
        found = config.routing.member(decision.owner) if decision.owner else None
        text = (
            self._briefer.brief(
                lead,
                judged.enrichment,
                evaluation,
                decision,
                judged.suggestion,
                found[1].name if found else None,
            )
            if self._briefer
            else briefing(lead, evaluation, decision)
        )
        event = LeadRouted(
            event_id=received.event_id,
            lead_id=received.lead_id,
            received_at=received.received_at,
            decided_at=now,
            config_version=config.version,
            model_version=judged.model_version,
            lead=lead,
            enrichment=judged.enrichment,
            evaluation=evaluation,
            routing=decision,
            briefing=text,
        )
        stands = await self._store.record_routed(event, routed.take, outgoing(event, config.routing))
        if stands is not None:
            return stands
        assert routed.take is not None  # only a take can be refused
        return routed.take


@dataclass(frozen=True)
class Judged:
    """A lead as evaluated, before routing: what every routing attempt reuses."""

    received: LeadReceived
    enrichment: Enrichment | None
    evaluation: Evaluation
    model_version: str | None
    account_owner: str | None
    suggestion: Suggestion
    roster: Mapping[str, OwnerStatus]
