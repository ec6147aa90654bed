"""The lead API: POST /v1/leads, GET /v1/leads/{lead_id}, GET /v1/leads. Thin: check, build, publish."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.store.sql import LeadFilter
from schemas.config import TIERS
from schemas.decision import Status
from schemas.lead import utc_iso
from services.errors import Malformed, RateLimited, Unauthorized
from services.intake import guessing
from services.intake.body import parse_json, read_body, require_json
from services.intake.publish import Outcome, lead_inbound
from services.intake.respond import parse_lead, publish_all

LEAD_KEYS = (
    "lead_id", "event_id", "source", "status", "tier", "score", "reasons", "owner", "team", "queue",
    "rule_id", "briefing", "config_version", "model_version", "received_at", "decided_at",
    "written_at", "crm", "crm_record_id",
)  # fmt: skip


def authenticate(request: Request) -> None:
    """401 for a missing or wrong bearer token; 429 while this client has failed too often."""
    expected: str = request.app.state.api_token
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing 'Authorization: Bearer <token>' header")
    wait = guessing.retry_after(request)
    if wait:
        raise RateLimited(
            f"more than {guessing.FAILURES_PER_MINUTE} wrong tokens a minute from this address",
            headers={"Retry-After": str(wait)},
        )
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        guessing.failed(request)
        raise Unauthorized("the bearer token is not valid")


async def post_lead(request: Request) -> JSONResponse:
    authenticate(request)
    require_json(request)
    data = parse_json(await read_body(request, request.app.state.max_body_bytes))
    lead = parse_lead(data, default_source="api")
    # A client may set Idempotency-Key so that its retries are published (and decided) once.
    key = request.headers.get("idempotency-key", "").strip()[:150] or None
    item = lead_inbound("api", key, lead, request.app.state.clock())
    [(_, outcome)] = await publish_all(request, [item])
    status = 202 if outcome is Outcome.PUBLISHED else 200
    return JSONResponse({"event_id": item.event.event_id, "lead_id": item.event.lead_id}, status_code=status)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    view = {k: utc_iso(v) if isinstance(v, datetime) else v for k, v in row.items() if k in LEAD_KEYS}
    return {**view, **(row.get("details") or {})}


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


STATUSES = frozenset(s.value for s in Status)


def since_of(value: object) -> datetime | None:
    """An API's ``since``: ISO 8601, in UTC (naive taken as UTC); None when not given."""
    if value is None or value == "":
        return None
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # Overflow: in UTC past year 9999 or before year 1
        raise Malformed("'since' must be an ISO 8601 timestamp, e.g. 2026-11-20T10:00:00Z") from exc


def cursor_of(row: dict[str, Any]) -> str:
    """An opaque cursor for the page after ``row``: its (received_at, lead_id), the list's order."""
    raw = json.dumps([row["received_at"].isoformat(), row["lead_id"]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def after_of(value: str | None) -> tuple[datetime, str] | None:
    """The position a cursor from ``cursor_of`` names; Malformed for anything else."""
    if value is None:
        return None
    try:
        at, lead_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(lead_id, str):
            raise ValueError(value)
        return when.astimezone(UTC), lead_id
    except (ValueError, TypeError, binascii.Error, OverflowError, RecursionError) as exc:  # deep nesting too
        raise Malformed("'after' must be a 'next' cursor from an earlier page of GET /v1/leads") from exc


def _filter(request: Request) -> LeadFilter:
    q = request.query_params
    unknown = set(q) - {"source", "status", "tier", "since", "limit", "after"}
    if unknown:
        raise Malformed(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    since = since_of(q.get("since"))
    status = q.get("status")
    if status is not None and status not in STATUSES:  # a typo would answer an empty list
        raise Malformed(f"'status' must be one of {', '.join(sorted(STATUSES))}")
    limit = q.get("limit", "50")
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 1000:
        raise Malformed("'limit' must be a whole number from 1 to 1000")
    # One more than asked for: whether there is a next page, without a second query.
    return LeadFilter(q.get("source"), status, q.get("tier"), since, int(limit) + 1, after_of(q.get("after")))


async def list_leads(request: Request) -> JSONResponse:
    authenticate(request)
    where = _filter(request)
    store = request.app.state.container.store
    rows = await store.list_leads(where)
    if (
        not rows
        and where.tier is not None
        and where.tier not in TIERS
        and not await store.tier_in_use(where.tier)
    ):
        # Checked only when nothing matched: a typo would answer an empty list. A tier a config
        # no longer has stays queryable while decisions carry it.
        raise Malformed(f"'tier' must be one of {', '.join(TIERS)} (or a tier stored decisions still carry)")
    page, more = rows[: where.limit - 1], len(rows) == where.limit
    body = {
        "leads": [_public(r) for r in page],
        "count": len(page),
        "next": cursor_of(page[-1]) if more else None,
    }
    return JSONResponse(body)


ROUTES = [
    Route("/v1/leads", post_lead, methods=["POST"]),
    Route("/v1/leads", list_leads, methods=["GET"]),
    Route("/v1/leads/{lead_id}", get_lead, methods=["GET"]),
]
