"""leads.feedback -> labels: an AE's correction or a won/lost from the CRM becomes the lead's
outcome in the store, which `leadflow train --from-store` learns from. Idempotent: the newest
outcome per lead is kept, so a redelivery changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from connectors.bus import Message
from connectors.store.sql import SqlStore
from schemas.config import LeadflowConfig
from schemas.events import LeadFeedback
from services.errors import PoisonEvent
from services.logs import get_logger

GROUP = "leadflow-feedback"


OUTCOMES = {"won": 1, "lost": 0}


def _label(event: LeadFeedback, config: LeadflowConfig) -> int | None:
    """An outcome the intake normalised (Salesforce's IsConverted = true, a closed Status,
    HubSpot's lifecyclestage = customer) is the label as such; any other value is looked up
    in model.yaml's feedback lists (its normalised label first, e.g. a correction not_a_fit)."""
    if event.kind == "outcome" and event.label in OUTCOMES:
        return OUTCOMES[event.label]
    lists = config.model.feedback
    found = lists.label(event.label) if event.label is not None else None
    return found if found is not None else lists.label(event.value)


class FeedbackRecorder:
    def __init__(self, store: SqlStore, config: Callable[[], LeadflowConfig]) -> None:
        self._store, self._config = store, config
        self._log = get_logger(consumer=GROUP)

    async def handle(self, message: Message) -> None:
        try:
            event = LeadFeedback.model_validate_json(message.value)
        except ValidationError as exc:
            raise PoisonEvent(f"not a LeadFeedback event: {exc.error_count()} errors") from exc
        label = _label(event, self._config())
        if label is None:  # a change that says nothing about the outcome (an owner, a stage)
            self._log.info(
                "feedback_ignored", lead_id=event.lead_id, event_id=event.event_id, property=event.property
            )
            return
        at = event.occurred_at or event.received_at
        lead_id = await self._lead_of(event)
        await self._store.record_label(
            lead_id, label, event.event_id, event.source, event.property, event.value, at
        )
        self._log.info("feedback_labelled", lead_id=lead_id, event_id=event.event_id, label=label)

    async def _lead_of(self, event: LeadFeedback) -> str:
        """The lead the feedback is about: its own id when such a lead was decided, else the lead
        the writer put in that CRM as that record (a web lead HubSpot knows by its contact id)."""
        if await self._store.get_lead(event.lead_id) is not None:
            return event.lead_id
        return await self._store.lead_for_record(event.source, event.object_id) or event.lead_id
