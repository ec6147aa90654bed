"""Forget one person (GDPR erasure) everywhere Leadflow keeps them.

- the store: their leads, every decision about them, the intake's dedupe claims for those events;
- the CRM: through the connector's ``forget`` (the local CRM deletes its record and notes;
  HubSpot and Salesforce delete the contact or lead there);
- the embedded bus: every message keyed by or mentioning the email (Kafka cannot delete single
  messages: there the topics' retention bounds how long they stay);
- logs never hold the email: only ``pii_hash`` of it and the lead id, both returned here so an
  operator can purge the lines that carry them from the log index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from connectors.bus import Bus
from connectors.crm import CrmWriter
from connectors.store.sql import SqlStore
from schemas.lead import lead_id_for, pii_hash
from services.errors import NotALead
from services.intake.body import parse_json, read_body, require_json
from services.intake.openapi_parts import BEARER_ERRORS, error, json_body
from services.intake.routes import authenticate
from services.logs import get_logger

log = get_logger(component="forget")


@dataclass(frozen=True)
class Forgotten:
    pii_hash: str  # what log lines carry instead of the email: <email:HASH>
    lead_ids: tuple[str, ...]
    leads: int
    decisions: int
    inbound_claims: int
    bus_messages: int | None  # None: the bus cannot delete messages (Kafka: retention applies)
    crm: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def forget(email: str, store: SqlStore, crm: CrmWriter, bus: Bus | None = None) -> Forgotten:
    """Erase the person with ``email``; safe to repeat (a second run finds nothing)."""
    email = email.strip().lower()
    erased = await store.forget(email, lead_id_for(email))
    await crm.forget(email)
    erase_messages = getattr(bus, "forget", None)
    messages = int(await erase_messages(email)) if erase_messages is not None else None
    done = Forgotten(
        pii_hash=pii_hash(email),
        lead_ids=erased.lead_ids,
        leads=erased.leads,
        decisions=erased.decisions,
        inbound_claims=erased.inbound,
        bus_messages=messages,
        crm=crm.name,
    )
    # The hash only: this line must not itself need purging.
    log.info("person_forgotten", pii_hash=done.pii_hash, lead_ids=list(done.lead_ids), crm=crm.name)
    return done


async def forget_endpoint(request: Request) -> JSONResponse:
    """POST /v1/forget {"email": ...}: the email travels in the body, never in a URL that
    proxies would log."""
    authenticate(request)
    require_json(request)
    data = parse_json(await read_body(request, 4096))
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str) or "@" not in email:
        raise NotALead("'email' is required", {"fields": [{"field": "email", "message": "required"}]})
    container = request.app.state.container
    done = await forget(email, container.store, container.crm, container.bus)
    return JSONResponse(done.as_dict())


def _openapi() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    forgotten = {
        "type": "object",
        "required": ["pii_hash", "lead_ids", "leads", "decisions", "inbound_claims", "bus_messages", "crm"],
        "properties": {
            "pii_hash": {"type": "string", "description": "What log lines carry instead of the email"},
            "lead_ids": {"type": "array", "items": {"type": "string"}},
            "leads": count,
            "decisions": count,
            "inbound_claims": count,
            "bus_messages": {"anyOf": [count, {"type": "null"}], "description": "null: Kafka (retention)"},
            "crm": {"type": "string"},
        },
    }
    request = {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}}
    return {
        "/v1/forget": {
            "post": {
                "summary": "Erase one person everywhere (GDPR); answers what was deleted",
                "security": [{"bearer": []}],
                "requestBody": json_body(request),
                "responses": {
                    "200": {"description": "Erased (or nothing left to)", "content": {
                        "application/json": {"schema": forgotten}}},
                    "400": error("Not parseable JSON"),
                    **BEARER_ERRORS,
                    "413": error("Body over 4 KiB"),
                    "415": error("Not JSON"),
                    "422": error("No email in the body"),
                    "503": error("The store, CRM or bus is unavailable; retry", retry_after=True),
                },
            }
        }
    }  # fmt: skip


OPENAPI_PATHS = _openapi()
