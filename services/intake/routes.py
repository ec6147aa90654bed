"""The lead API: POST /v1/leads, GET /v1/leads/{lead_id}, GET /v1/leads. Thin: check, build, publish."""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.store.sql import LeadFilter
from schemas.events import TOPIC_RECEIVED, LeadReceived
from schemas.lead import Lead, lead_id_for, utc_iso
from services.errors import Malformed, NotALead, Unauthorized
from services.intake.body import parse_json, read_body, require_json
from services.logs import get_logger

log = get_logger(component="intake")

LEAD_KEYS = (
    "lead_id", "event_id", "source", "status", "tier", "score", "reasons", "owner", "team", "queue",
    "rule_id", "briefing", "config_version", "model_version", "received_at", "decided_at",
    "written_at", "crm", "crm_record_id",
)  # fmt: skip


def authenticate(request: Request) -> None:
    expected: str = request.app.state.api_token
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing 'Authorization: Bearer <token>' header")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Unauthorized("the bearer token is not valid")


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


async def post_lead(request: Request) -> JSONResponse:
    authenticate(request)
    require_json(request)
    data = parse_json(await read_body(request, request.app.state.max_body_bytes))
    if not isinstance(data, dict):
        raise NotALead("a lead is a JSON object")
    try:
        lead = Lead.model_validate(data)
    except ValidationError as exc:
        errors = _field_errors(exc)
        raise NotALead(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors), {"fields": errors}
        ) from exc
    # A client may set Idempotency-Key so that its retries are decided once.
    event_id = request.headers.get("idempotency-key", "").strip()[:200] or str(uuid.uuid4())
    lead_id = lead_id_for(lead.identity or f"event:{event_id}")
    event = LeadReceived(event_id=event_id, lead_id=lead_id, received_at=datetime.now(UTC), lead=lead)
    container = request.app.state.container
    await container.bus.publish(TOPIC_RECEIVED, lead.identity or lead_id, event.model_dump_json().encode())
    log.info("lead_accepted", lead_id=lead_id, event_id=event_id, source=lead.source)
    return JSONResponse({"event_id": event_id, "lead_id": lead_id}, status_code=202)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: utc_iso(v) if isinstance(v, datetime) else v for k, v in row.items() if k in LEAD_KEYS}


async def get_lead(request: Request) -> JSONResponse:
    authenticate(request)
    lead_id = request.path_params["lead_id"]
    row = await request.app.state.container.store.get_lead(lead_id)
    if row is None:
        return JSONResponse(
            {
                "error": "not_found",
                "detail": f"no decision for lead '{lead_id}' yet (it may still be in flight)",
            },
            status_code=404,
        )
    return JSONResponse(_public(row))


def _filter(request: Request) -> LeadFilter:
    q = request.query_params
    unknown = set(q) - {"source", "status", "tier", "since", "limit"}
    if unknown:
        raise Malformed(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    try:
        since = datetime.fromisoformat(q["since"].replace("Z", "+00:00")) if q.get("since") else None
    except ValueError as exc:
        raise Malformed("'since' must be an ISO 8601 timestamp, e.g. 2026-11-20T10:00:00Z") from exc
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    limit = q.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise Malformed("'limit' must be a whole number from 1 to 1000")
    return LeadFilter(q.get("source"), q.get("status"), q.get("tier"), since, int(limit))


async def list_leads(request: Request) -> JSONResponse:
    authenticate(request)
    rows = await request.app.state.container.store.list_leads(_filter(request))
    return JSONResponse({"leads": [_public(r) for r in rows], "count": len(rows)})


ROUTES = [
    Route("/v1/leads", post_lead, methods=["POST"]),
    Route("/v1/leads", list_leads, methods=["GET"]),
    Route("/v1/leads/{lead_id}", get_lead, methods=["GET"]),
]
