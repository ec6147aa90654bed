"""LinkedIn Lead Gen Forms (Lead Sync): the webhook validation handshake and lead notifications.

Contract (learn.microsoft.com/linkedin/shared/api-guide/webhook-validation):
- GET ``?challengeCode=<uuid>`` (revalidated every 2 h) is answered within 3 s with JSON
  ``{"challengeCode", "challengeResponse"}``, the response being the hex HMAC-SHA256 of the
  code keyed with the app's client secret. ``applicationId`` (parent-child apps) is ignored:
  one client secret is configured.
- POSTs carry ``X-LI-Signature``: "the HMACSHA256 hash of the JSON-encoded string
  representation of the POST body prefixed by ``hmacsha256=``", computed with the client
  secret. Read literally, the signed string is ``"hmacsha256=" + body`` and the header holds
  the hex digest; some integrations read it as ``hmacsha256=<hex of HMAC(body)>``. LinkedIn
  publishes no test vector, so both readings are accepted (either needs the secret).
- Notifications may arrive more than once; dedupe is ours.

A lead notification (learn.microsoft.com/linkedin/marketing/lead-sync/leadsync, "leadNotifications")
names the response but carries no answers: ``{"type": "LEAD_ACTION", "leadGenFormResponse":
"urn:li:leadGenFormResponse:...", "leadGenForm": ..., "owner": {...}, "associatedEntity": {...},
"leadType": "SPONSORED", "leadAction": "CREATED" | "DELETED", "occurredAt": <epoch ms>}``. The
qualifier fetches the answers (GET /rest/leadFormResponses/{id}) during enrichment. Only
``CREATED`` makes a lead; DELETED and other notification types are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.lead import Lead
from schemas.sources import SourcesConfig
from services.errors import Malformed, NotALead, Unauthorized
from services.intake.body import parse_json
from services.intake.guard import admit
from services.intake.openapi_parts import ACCEPTED, WEBHOOK_ERRORS, error, json_body
from services.intake.publish import lead_inbound
from services.intake.respond import accept_all, parse_lead
from services.intake.signatures import check_window, header, hmac_sha256, same
from services.logs import get_logger
from services.settings import Settings

log = get_logger(component="intake")

SOURCE = "linkedin"
SIGNED_PREFIX = b"hmacsha256="
# LinkedIn documents no retry schedule for lead notifications (social-action notifications are
# retried for 8 h); occurredAt is when the lead acted, so allow a day and rely on the dedupe.
MIN_WINDOW_SECONDS = 24 * 3600
MAX_CHALLENGE = 200
URN_PREFIX = "urn:li:leadGenFormResponse:"


@dataclass(frozen=True)
class LeadNotification:
    notification_id: str
    response_urn: str
    occurred_at: datetime
    attributes: dict[str, Any]


def challenge_response(secret: bytes, challenge_code: str) -> str:
    return hmac_sha256(secret, challenge_code.encode()).hex()


def sign(secret: bytes, body: bytes) -> str:
    """The documented X-LI-Signature: hex HMAC-SHA256 of ``hmacsha256=`` + the body."""
    return hmac_sha256(secret, SIGNED_PREFIX + body).hex()


def verify(body: bytes, headers: Mapping[str, str], secret: bytes) -> None:
    """Raises Unauthorized saying which check failed."""
    given = header(headers, "x-li-signature").strip().removeprefix("hmacsha256=").lower()
    expected = (sign(secret, body), hmac_sha256(secret, body).hex())  # see the module docstring
    if not any(same(given, candidate) for candidate in expected):
        raise Unauthorized("X-LI-Signature does not match the configured client secret")


def occurred_at(payload: Mapping[str, Any]) -> datetime:
    raw = payload.get("occurredAt")
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise Unauthorized("occurredAt is not epoch milliseconds: no replay window check")
    try:
        return datetime.fromtimestamp(raw / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Unauthorized("occurredAt is not epoch milliseconds: no replay window check") from exc


def parse_notification(payload: Any) -> LeadNotification | None:
    """A new-lead notification; None for anything else (a deletion, another event type)."""
    if not isinstance(payload, dict):
        raise NotALead("a LinkedIn notification is a JSON object")
    if payload.get("type", "LEAD_ACTION") != "LEAD_ACTION" or payload.get("leadAction") != "CREATED":
        return None
    urn = payload.get("leadGenFormResponse")
    if not isinstance(urn, str) or not urn.startswith(URN_PREFIX) or len(urn) > 150:
        raise NotALead(f"leadGenFormResponse is not a {URN_PREFIX}<id> URN")
    given_id = payload.get("notificationId")
    notification_id = str(given_id) if isinstance(given_id, str | int) and len(str(given_id)) <= 150 else None
    attributes = {
        "lead_gen_form": payload.get("leadGenForm"),
        "owner": payload.get("owner"),
        "associated_entity": payload.get("associatedEntity"),
        "lead_type": payload.get("leadType"),
        "occurred_at": payload.get("occurredAt"),
    }
    return LeadNotification(
        notification_id=notification_id or f"{urn}:CREATED",
        response_urn=urn,
        occurred_at=occurred_at(payload),
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def to_lead(notification: LeadNotification) -> Lead:
    """A lead known only by its response URN; the answers are fetched during enrichment."""
    data = {"source_record_id": notification.response_urn, "attributes": notification.attributes}
    return parse_lead(data, default_source=SOURCE)


def _secret(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    if settings.linkedin_client_secret is None:
        raise Unauthorized("no LinkedIn client secret is configured (LEADFLOW_LINKEDIN_CLIENT_SECRET)")
    return settings.linkedin_client_secret.get_secret_value().encode()


async def challenge(request: Request) -> JSONResponse:
    config: SourcesConfig = request.app.state.container.config.sources
    await admit(request, SOURCE, config.linkedin)
    secret = _secret(request)
    code = request.query_params.get("challengeCode", "")
    if not code or len(code) > MAX_CHALLENGE:
        raise Malformed("missing or oversized query parameter challengeCode")
    return JSONResponse({"challengeCode": code, "challengeResponse": challenge_response(secret, code)})


async def receive(request: Request) -> JSONResponse:
    state = request.app.state
    config: SourcesConfig = state.container.config.sources
    body = await admit(request, SOURCE, config.linkedin, media_types=("application/json",))
    verify(body, request.headers, _secret(request))
    notification = parse_notification(parse_json(body))
    if notification is None:
        log.info("ignored", source=SOURCE, outcome="ignored")
        return await accept_all(request, [])
    window = max(config.window_for(config.linkedin), MIN_WINDOW_SECONDS)
    now = state.clock()
    check_window(notification.occurred_at.timestamp(), now.timestamp(), window, "occurredAt")
    lead = to_lead(notification)
    return await accept_all(request, [lead_inbound(SOURCE, notification.notification_id, lead, now)])


ROUTES = [
    Route("/webhooks/linkedin", challenge, methods=["GET"]),
    Route("/webhooks/linkedin", receive, methods=["POST"]),
]

_CHALLENGE_BODY = {
    "type": "object",
    "required": ["challengeCode", "challengeResponse"],
    "properties": {"challengeCode": {"type": "string"}, "challengeResponse": {"type": "string"}},
}

OPENAPI = {
    "/webhooks/linkedin": {
        "get": {
            "summary": "LinkedIn's webhook validation: answer the challenge with the client secret",
            "parameters": [
                {"name": "challengeCode", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "applicationId", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "challengeResponse = hex HMAC-SHA256(client secret, challengeCode)",
                    "content": {"application/json": {"schema": _CHALLENGE_BODY}},
                },
                "400": error("challengeCode is missing or too long"),
                "401": error("No client secret is configured (LEADFLOW_LINKEDIN_CLIENT_SECRET)"),
                "404": error("The LinkedIn source is not enabled"),
                "429": WEBHOOK_ERRORS["429"],
            },
        },
        "post": {
            "summary": "A LinkedIn Lead Sync notification (a new lead becomes a Lead by its response URN)",
            "parameters": [
                {
                    "name": "X-LI-Signature",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "hex HMAC-SHA256 of 'hmacsha256=' + body with the client secret",
                }
            ],
            "requestBody": json_body({"type": "object"}, "A LinkedIn webhook notification"),
            "responses": {
                "202": {
                    "description": "Published, or a notification that is not a new lead (no events)",
                    **ACCEPTED,
                },
                "200": {"description": "A repeat of a notification already published", **ACCEPTED},
                **WEBHOOK_ERRORS,
            },
        },
    }
}
