"""Decode, decide (through the pure core), record, publish. Idempotent by event_id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from connectors.bus import Bus, Message
from connectors.store.sql import SqlStore
from schemas.config import LeadflowConfig
from schemas.enrichment import ContactMatch, Enrichment
from schemas.events import TOPIC_ROUTED, LeadReceived, LeadRouted
from schemas.lead import Lead
from services import metrics
from services.core.briefing import briefing
from services.core.classify import evaluate
from services.core.facts import company_facts
from services.core.routing import assign, match_rule
from services.errors import PoisonEvent
from services.logs import get_logger
from services.tracing import stage

GROUP = "leadflow-qualifier"


class Enricher(Protocol):
    async def enrich(self, lead: Lead) -> Enrichment:
        """Never raises: a provider that fails is recorded, not fatal."""
        ...


@runtime_checkable
class ContactDirectory(Protocol):
    async def contact(self, lead_id: str) -> ContactMatch | None: ...


class Qualifier:
    def __init__(
        self,
        bus: Bus,
        store: SqlStore,
        config: Callable[[], LeadflowConfig],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        enricher: Enricher | None = None,
        contacts: ContactDirectory | None = None,
    ) -> None:
        self._bus, self._store, self._config, self._clock = bus, store, config, clock
        self._enricher, self._contacts = enricher, contacts
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
            routed = await self._store.record_decision(await self.decide(received))
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
        )

    async def _enrich(self, received: LeadReceived) -> Enrichment | None:
        lead = received.lead
        enrichment = await self._enricher.enrich(lead) if self._enricher else None
        contact = await self._contacts.contact(received.lead_id) if self._contacts else None
        if contact is None:
            return enrichment
        base = enrichment or Enrichment(company=company_facts(lead, None))
        return base.model_copy(update={"contact": contact})

    async def decide(self, received: LeadReceived) -> LeadRouted:
        config = self._config()
        with stage("enrich", lead_id=received.lead_id):
            enrichment = await self._enrich(received)
        with stage("evaluate", lead_id=received.lead_id, config_version=config.version):
            # Judged as of arrival, so a replay of history decides as production did.
            evaluation = evaluate(received.lead, enrichment, config.icp, now=received.received_at)
        with stage("route", lead_id=received.lead_id) as span:
            owner = enrichment.account.owner if enrichment and enrichment.account else None
            rule = match_rule(received.lead, evaluation, config.routing, owner)
            turn = await self._store.next_turn(rule.team) if rule.team else 0
            routing = assign(rule, config.routing, turn, owner)
            span.set_attribute("rule_id", rule.id)
        return LeadRouted(
            event_id=received.event_id,
            lead_id=received.lead_id,
            received_at=received.received_at,
            decided_at=self._clock(),
            config_version=config.version,
            model_version=None,
            lead=received.lead,
            enrichment=enrichment,
            evaluation=evaluation,
            routing=routing,
            briefing=briefing(received.lead, evaluation, routing),
        )
