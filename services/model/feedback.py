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


class FeedbackRecorder:
    def __init__(self, store: SqlStore, config: Callable[[], LeadflowConfig]) -> None:
        self._store, self._config = store, config
        self._log = get_logger(consumer=GROUP)

    async def handle(self, message: Message) -> None:
        try:
            event = LeadFeedback.model_validate_json(message.value)
        except ValidationError as exc:
            raise PoisonEvent(f"not a LeadFeedback event: {exc.error_count()} errors") from exc
        label = self._config().model.feedback.label(event.value)
        if label is None:  # a change that says nothing about the outcome (an owner, a stage)
            self._log.info(
                "feedback_ignored", lead_id=event.lead_id, event_id=event.event_id, property=event.property
            )
            return
        at = event.occurred_at or event.received_at
        await self._store.record_label(
            event.lead_id, label, event.event_id, event.source, event.property, event.value, at
        )
        self._log.info("feedback_labelled", lead_id=event.lead_id, event_id=event.event_id, label=label)
