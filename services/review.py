"""The human review queue and first-touch webhook: thin routes over the store and the bus.

``POST /v1/review/{lead_id}`` records the reviewer's call as a new decision for the lead (its
own event id, so the writer puts it in the CRM like any other), keeps the change as feedback in
the store, and publishes one LeadFeedback per changed field on ``leads.feedback`` for training.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.config import TierName
from schemas.decision import Status
from schemas.events import TOPIC_FEEDBACK, TOPIC_ROUTED, LeadFeedback, LeadRouted
from schemas.lead import utc_iso
from services.core.routing import first_touch_due
from services.errors import Malformed, NotALead, NotFound
from services.intake.body import parse_json, read_body, require_json
from services.intake.openapi_parts import BEARER_ERRORS, error, json_body
from services.intake.routes import authenticate
from services.logs import get_logger
from services.notify import outgoing

log = get_logger(component="review")


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "override"]
    status: Status | None = None
    tier: TierName | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class TouchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = None


async def _body(request: Request, model: type[BaseModel], empty_ok: bool = False) -> Any:
    raw = await read_body(request, request.app.state.max_body_bytes)
    if not raw.strip() and empty_ok:
        return model()
    require_json(request)
    data = parse_json(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        raise NotALead("the body is not a valid review", extra={"fields": fields}) from exc


def _waiting(row: dict[str, Any]) -> dict[str, Any]:
    details = row.get("details") or {}
    return {
        "lead_id": row["lead_id"],
        "queue": row["queue"],
        "status": row["status"],
        "tier": row["tier"],
        "score": row["score"],
        "reasons": row["reasons"],
        "missing": details.get("missing", []),
        "briefing": row["briefing"],
        "received_at": utc_iso(row["received_at"]),
    }


async def list_review(request: Request) -> JSONResponse:
    authenticate(request)
    unknown = set(request.query_params) - {"limit"}
    limit = request.query_params.get("limit", "100")
    if unknown or not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 1000:
        raise Malformed("the only query parameter is 'limit', a whole number from 1 to 1000")
    container = request.app.state.container
    rows = await container.store.review_queue(container.config.routing.review_queues, int(limit))
    return JSONResponse({"leads": [_waiting(r) for r in rows], "count": len(rows)})


def reviewed(current: LeadRouted, body: ReviewBody, event_id: str, now: datetime, config: Any) -> LeadRouted:
    """The lead as the reviewer left it: pure, so the API and tests share it."""
    evaluation = current.evaluation.model_copy(
        update={k: v for k, v in {"status": body.status, "tier": body.tier}.items() if v is not None}
    )
    owner = body.owner or current.routing.owner
    found = config.member(owner) if owner else None
    verb = "approved" if body.action == "approve" else "overridden"
    given = (("status", body.status), ("tier", body.tier), ("owner", body.owner))
    changed = ", ".join(f"{k} {v}" for k, v in given if v)
    reason = f"review: {verb} by a person" + (f" ({changed})" if changed else "")
    routing = current.routing.model_copy(
        update={
            "rule_id": "review",
            "owner": owner,
            "team": found[0].name if found else None,
            "queue": None if owner else current.routing.queue,
            "reason": reason,
            "path": (*current.routing.path, reason),
            "first_touch_due": first_touch_due(config, evaluation.tier, owner, now) if body.owner else None,
            "notify": ("owner",) if body.owner else (),
            "draft": None,
        }
    )
    return current.model_copy(
        update={"event_id": event_id, "decided_at": now, "evaluation": evaluation, "routing": routing}
    )


async def _same_note(store: Any, current: LeadRouted, body: ReviewBody) -> bool:
    """No note, or the one the current review already keeps: a new note is worth recording."""
    if body.note is None:
        return True
    kept = [row for row in await store.feedback_for(current.lead_id) if row["event_id"] == current.event_id]
    return bool(kept) and kept[-1]["note"] == body.note


# One review of a lead at a time in this process: a double-click's two posts arrive together,
# and each would read the lead before the other recorded (replicas can still race).
_reviewing: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def unknown_owner(body: ReviewBody, routing: Any) -> NotALead | None:
    """The error for an owner no team in routing.yaml lists (a typo would have been written to
    the CRM as the lead's owner, with no team, deadline or notification reaching anyone)."""
    if body.owner is None or routing.member(body.owner) is not None:
        return None
    members = sorted({m.id for t in routing.teams for m in t.members})
    problem = f"'{body.owner}' is not a member of any team in routing.yaml (one of {', '.join(members)})"
    return NotALead(f"owner: {problem}", extra={"fields": [{"field": "owner", "problem": problem}]})


async def apply_review(container: Any, lead_id: str, body: ReviewBody, now: datetime) -> dict[str, Any]:
    """Record a reviewer's call and publish it (the API and the dashboard share this); NotFound
    for a lead with no decision, then NotALead for an owner routing.yaml does not list."""
    lock = _reviewing.setdefault(lead_id, asyncio.Lock())
    async with lock:
        return await _apply_review(container, lead_id, body, now)


async def _apply_review(container: Any, lead_id: str, body: ReviewBody, now: datetime) -> dict[str, Any]:
    current = await container.store.current_decision(lead_id)
    if current is None:
        raise NotFound(f"no decision for lead '{lead_id}' yet")
    refused = unknown_owner(body, container.config.routing)
    if refused is not None:
        raise refused
    event_id = f"review:{lead_id}:{uuid.uuid4().hex[:16]}"
    routed = reviewed(current, body, event_id, now, container.config.routing)
    changes = {
        field: [before, after]
        for field, before, after in (
            ("status", current.evaluation.status.value, routed.evaluation.status.value),
            ("tier", current.evaluation.tier, routed.evaluation.tier),
            ("owner", current.routing.owner, routed.routing.owner),
        )
        if before != after
    }
    repeat = not changes and current.routing.rule_id == "review"
    if repeat and await _same_note(container.store, current, body):
        # A person already reviewed it and this changes nothing (a double-clicked form, a
        # client's retry): answered as done, or the owner would get a second deadline and
        # notification, and training the same feedback twice.
        log.info("lead_review_repeated", lead_id=lead_id, event_id=current.event_id, action=body.action)
        return {"lead_id": lead_id, "event_id": current.event_id, "action": body.action, "changes": {}}
    review = {"action": body.action, "changes": changes, "note": body.note}
    await container.store.record_routed(
        routed, outgoing=outgoing(routed, container.config.routing), review=review
    )
    await container.bus.publish(TOPIC_ROUTED, lead_id, routed.model_dump_json().encode())
    for field, (_, after) in (changes or {"review": [None, body.action]}).items():
        feedback = LeadFeedback(
            event_id=f"{event_id}:{field}",
            lead_id=lead_id,
            received_at=now,
            source="review",
            object_id=lead_id,
            property=field,
            value=after if after is None else str(after),
            occurred_at=now,
        )
        await container.bus.publish(TOPIC_FEEDBACK, lead_id, feedback.model_dump_json().encode())
    log.info("lead_reviewed", lead_id=lead_id, event_id=event_id, action=body.action, changed=sorted(changes))
    return {"lead_id": lead_id, "event_id": event_id, "action": body.action, "changes": changes}


async def post_review(request: Request) -> JSONResponse:
    authenticate(request)
    lead_id = request.path_params["lead_id"]
    body: ReviewBody = await _body(request, ReviewBody)
    container = request.app.state.container
    return JSONResponse(await apply_review(container, lead_id, body, request.app.state.clock()))


async def post_touch(request: Request) -> JSONResponse:
    """The owner touched the lead (a call, an email): open first-touch deadlines are met."""
    authenticate(request)
    lead_id = request.path_params["lead_id"]
    body: TouchBody = await _body(request, TouchBody, empty_ok=True)
    store = request.app.state.container.store
    if await store.get_lead(lead_id) is None:
        raise NotFound(f"no decision for lead '{lead_id}' yet")
    at = body.at or request.app.state.clock()
    met = await store.record_touch(lead_id, at)
    return JSONResponse({"lead_id": lead_id, "touched_at": utc_iso(at), "deadlines_met": met})


ROUTES = [
    Route("/v1/review", list_review, methods=["GET"]),
    Route("/v1/review/{lead_id}", post_review, methods=["POST"]),
    Route("/v1/leads/{lead_id}/touch", post_touch, methods=["POST"]),
]


def _paths() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    lead_id = [{"name": "lead_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    review_body = {
        "type": "object",
        "additionalProperties": False,
        "required": ["action"],
        "properties": {
            "action": {"enum": ["approve", "override"]},
            "status": {"anyOf": [{"enum": [s.value for s in Status]}, {"type": "null"}]},
            "tier": {"anyOf": [{"enum": ["hot", "warm", "nurture", "disqualified"]}, {"type": "null"}]},
            "owner": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "null"}]},
            "note": {"anyOf": [{"type": "string", "maxLength": 2000}, {"type": "null"}]},
        },
    }
    waiting = {
        "type": "object",
        "required": ["lead_id", "queue", "status", "tier", "score", "briefing", "received_at"],
        "properties": {
            "lead_id": {"type": "string"},
            "queue": nullable,
            "status": {"type": "string"},
            "tier": {"type": "string"},
            "score": {"type": "integer"},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "missing": {"type": "array", "items": {"type": "string"}},
            "briefing": {"type": "string"},
            "received_at": {"type": "string"},
        },
    }

    def ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    common = {
        **BEARER_ERRORS,
        "404": error("No decision for this lead yet"),
        "413": error("Body too large"),
        "415": error("Not JSON"),
        "400": error("Malformed JSON"),
        "422": error("Valid JSON that is not a valid body"),
    }
    return {
        "/v1/review": {
            "get": {
                "summary": "Leads waiting in a review queue, oldest first",
                "security": bearer,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    }
                ],
                "responses": {
                    "200": ok(
                        "Waiting leads",
                        {
                            "type": "object",
                            "required": ["leads", "count"],
                            "properties": {
                                "leads": {"type": "array", "items": waiting},
                                "count": {"type": "integer"},
                            },
                        },
                    ),
                    "400": error("A bad query parameter"),
                    **BEARER_ERRORS,
                },
            }
        },
        "/v1/review/{lead_id}": {
            "post": {
                "summary": "Approve the lead's decision or override its status, tier or owner",
                "security": bearer,
                "parameters": lead_id,
                "requestBody": json_body(review_body),
                "responses": {
                    "200": ok(
                        "Recorded, and on its way to the CRM",
                        {
                            "type": "object",
                            "required": ["lead_id", "event_id", "action", "changes"],
                            "properties": {
                                "lead_id": {"type": "string"},
                                "event_id": {"type": "string"},
                                "action": {"type": "string"},
                                "changes": {"type": "object"},
                            },
                        },
                    ),
                    **common,
                },
            }
        },
        "/v1/leads/{lead_id}/touch": {
            "post": {
                "summary": "The owner first touched the lead: its first-touch deadline is met",
                "security": bearer,
                "parameters": lead_id,
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"at": {"type": "string", "format": "date-time"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": ok(
                        "Recorded",
                        {
                            "type": "object",
                            "required": ["lead_id", "touched_at", "deadlines_met"],
                            "properties": {
                                "lead_id": {"type": "string"},
                                "touched_at": {"type": "string"},
                                "deadlines_met": {"type": "integer"},
                            },
                        },
                    ),
                    **common,
                },
            }
        },
    }


OPENAPI_PATHS = _paths()
