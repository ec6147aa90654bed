"""The common ending of every webhook route: build the Lead, publish, answer."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from schemas.lead import Lead
from services.errors import NotALead, Replayed
from services.intake.publish import Inbound, Outcome


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def not_a_lead(exc: ValidationError) -> NotALead:
    """A 422 that names each field that is wrong, from a pydantic error."""
    errors = field_errors(exc)
    return NotALead("; ".join(f"{e['field']}: {e['message']}" for e in errors), {"fields": errors})


def parse_lead(data: Any, default_source: str) -> Lead:
    """A Lead from a (mapped) payload, or 422 naming each field that is wrong."""
    if not isinstance(data, dict):
        raise NotALead("a lead is a JSON object")
    data = {"source": default_source, **data}
    try:
        return Lead.model_validate(data)
    except ValidationError as exc:
        raise not_a_lead(exc) from exc


INVALID_FIELDS = "invalid_fields"  # the attribute a salvaged lead keeps its refused values under
INVALID_VALUE_CHARS = 200


def parse_lead_salvaging(data: dict[str, Any], default_source: str) -> tuple[Lead, list[str]]:
    """A Lead without the fields that fail validation, and their names: for a sender that drops
    what it gets a 4xx for, with no person to correct it (Salesforce drops a whole outbound
    message, every other lead in it too). The refused values are kept, cut to 200 characters,
    under ``attributes["invalid_fields"]``, so the lead still reaches a person and shows what
    was wrong. NotALead (the first error) when the lead is not valid even without them."""
    try:
        return parse_lead(data, default_source), []
    except NotALead as refused:
        fields = refused.extra.get("fields")
        kept = copy.deepcopy(data)
        invalid: dict[str, str] = {}
        named = [str(e["field"]) for e in fields if isinstance(e, dict)] if isinstance(fields, list) else []
        for field in dict.fromkeys(named):
            path = field.split(".")
            parent: Any = kept
            for part in path[:-1]:
                parent = parent.get(part) if isinstance(parent, dict) else None
            if not isinstance(parent, dict) or path[-1] not in parent:
                raise  # a rule over the whole lead, or a value inside a list: nothing to leave out
            invalid[field] = str(parent.pop(path[-1]))[:INVALID_VALUE_CHARS]
        if not invalid:
            raise
        attributes = kept.get("attributes")
        kept["attributes"] = {**(attributes if isinstance(attributes, dict) else {}), INVALID_FIELDS: invalid}
        try:
            return parse_lead(kept, default_source), list(invalid)
        except NotALead:
            raise refused from None


async def publish_all(
    request: Request, items: Sequence[Inbound], *, changed_is_repeat: bool = False
) -> list[tuple[Inbound, Outcome]]:
    """Publish in order; the first failure propagates (503 or 409) and the sender retries all,
    which is safe because what was already published is deduplicated. ``changed_is_repeat``: an
    event id already accepted is a repeat even with other content (409 otherwise), for a sender
    that redelivers with the record's latest data (Salesforce)."""
    publisher = request.app.state.publisher
    now = request.app.state.clock()
    results = []
    for item in items:
        try:
            outcome = await publisher.publish(item, now)
        except Replayed:
            if not changed_is_repeat:
                raise
            outcome = Outcome.DUPLICATE
        results.append((item, outcome))
    return results


async def accept_all(request: Request, items: Sequence[Inbound]) -> JSONResponse:
    """202 when anything new was published, 200 when every event was a repeat."""
    results = await publish_all(request, items)
    events = [
        {"event_id": item.event.event_id, "lead_id": item.event.lead_id, "outcome": outcome.value}
        for item, outcome in results
    ]
    fresh = any(outcome is Outcome.PUBLISHED for _, outcome in results)
    return JSONResponse({"events": events}, status_code=202 if fresh or not results else 200)
