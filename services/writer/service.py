"""Decode, write to the CRM (idempotent by event_id), record when it was written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from connectors.bus import Message
from connectors.crm import CrmWriter
from connectors.store.sql import SqlStore
from schemas.events import LeadRouted
from services import metrics
from services.errors import PoisonEvent
from services.logs import get_logger
from services.tracing import stage

GROUP = "leadflow-writer"


class Writer:
    def __init__(
        self,
        store: SqlStore,
        crm: CrmWriter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store, self._crm, self._clock = store, crm, clock
        self._log = get_logger(consumer=GROUP, connector=crm.name)

    async def handle(self, message: Message) -> None:
        try:
            routed = LeadRouted.model_validate_json(message.value)
        except ValidationError as exc:
            raise PoisonEvent(f"not a LeadRouted event: {exc.error_count()} errors") from exc
        with stage("write", lead_id=routed.lead_id, crm=self._crm.name) as span:
            outcome = await self._crm.write(routed)
            written_at = self._clock()
            await self._store.mark_written(
                routed.lead_id, routed.event_id, written_at, outcome.crm, outcome.record_id
            )
            span.set_attribute("action", outcome.action.value)
        metrics.written(outcome.crm, outcome.action.value, routed.received_at, written_at)
        self._log.info(
            "lead_written",
            lead_id=routed.lead_id,
            event_id=routed.event_id,
            action=outcome.action.value,
            config_version=routed.config_version,
        )
