"""Typeform webhooks: one per typeform, answers mapped by field ref (typeform.<form_id>.answers).

Signature (typeform.com/developers/webhooks/secure-your-webhooks): ``Typeform-Signature:
sha256=<base64 HMAC-SHA256(secret, raw body)>``, the secret set on the webhook in Typeform.

Typeform sends no timestamp header, so the replay window applies to the signed
``form_response.submitted_at``. Typeform retries a failed delivery for hours (every 2-3 min for
10 h after a 429/503, or after 5, 10, 20, 60 and 120 min otherwise: typeform.com/developers/
webhooks, "Delivery retries"), always with the original submitted_at; so the window here is
max(replay window, 24 h) and repeats are stopped by the event_id dedupe, not by the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.lead import Lead
from schemas.sources import SourcesConfig, TypeformSource
from services.errors import NotALead, Unauthorized
from services.intake.body import parse_json
from services.intake.guard import admit
from services.intake.mapping import apply_mapping
from services.intake.openapi_parts import ACCEPTED, WEBHOOK_ERRORS, json_body
from services.intake.publish import lead_inbound
from services.intake.respond import accept_all, parse_lead
from services.intake.signatures import b64, check_window, header, hmac_sha256, same
from services.logs import get_logger

log = get_logger(component="intake")

SIGNATURE_HEADER = "typeform-signature"
MIN_WINDOW_SECONDS = 24 * 3600  # covers Typeform's 10 h of retries with room for queued sends
LEAD_EVENT = "form_response"  # "form_response_partial" (unfinished typeforms) is not a lead
MAX_ID = 150


@dataclass(frozen=True)
class Submission:
    """The parts of a form_response delivery a lead is made of."""

    event_id: str
    submitted_at: datetime
    answers: dict[str, Any]  # field ref -> value
    attributes: dict[str, Any]
    token: str | None


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + b64(hmac_sha256(secret, body))


def verify(body: bytes, headers: Mapping[str, str], secret: bytes) -> None:
    """Raises Unauthorized saying which check failed."""
    given = header(headers, SIGNATURE_HEADER)
    if not given.startswith("sha256="):
        raise Unauthorized("Typeform-Signature is not 'sha256=<base64>'")
    if not same(given, sign(secret, body)):
        raise Unauthorized("Typeform-Signature does not match the configured secret")


def answer_value(answer: Mapping[str, Any]) -> Any:
    """The value of one answer: it sits under the key its ``type`` names (``{"type": "email",
    "email": ...}``); a choice gives its label, choices a list of labels (and "other" text)."""
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if kind == "choice" and isinstance(value, dict):
        return value.get("label") or value.get("other")
    if kind == "choices" and isinstance(value, dict):
        labels = [label for label in value.get("labels") or [] if isinstance(label, str)]
        return [*labels, value["other"]] if isinstance(value.get("other"), str) else labels
    return value


def answers_by_ref(answers: Any) -> dict[str, Any]:
    """``form_response.answers`` keyed by field ref (the field id when a field has no ref)."""
    if answers is None:
        return {}
    if not isinstance(answers, list):
        raise NotALead("form_response.answers is not a list")
    values: dict[str, Any] = {}
    for answer in answers:
        field = answer.get("field") if isinstance(answer, dict) else None
        key = (field.get("ref") or field.get("id")) if isinstance(field, dict) else None
        if isinstance(key, str) and key:
            values[key] = answer_value(answer)
    return values


def submitted_at(response: Mapping[str, Any]) -> datetime:
    raw = response.get("submitted_at")
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise Unauthorized("form_response.submitted_at is not an ISO 8601 time: no replay window check")
    return at


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() and len(value) <= MAX_ID else None


def parse_submission(payload: Any) -> Submission | None:
    """A form_response delivery; None for event types that are not a finished response."""
    if not isinstance(payload, dict):
        raise NotALead("a Typeform delivery is a JSON object")
    if payload.get("event_type") != LEAD_EVENT:
        return None
    response = payload.get("form_response")
    if not isinstance(response, dict):
        raise NotALead("form_response is missing or not an object")
    token = _text(response.get("token"))
    event_id = _text(payload.get("event_id")) or token
    if event_id is None:
        raise NotALead("neither event_id nor form_response.token is there to tell deliveries apart")
    at = submitted_at(response)
    calculated = response.get("calculated")
    attributes = {
        "typeform_form_id": response.get("form_id"),
        "submitted_at": response["submitted_at"],
        "hidden": response.get("hidden") or None,  # hidden fields: utm_*, ids passed in the URL
        "score": calculated.get("score") if isinstance(calculated, dict) else None,
    }
    attributes = {k: v for k, v in attributes.items() if v is not None}
    return Submission(event_id, at, answers_by_ref(response.get("answers")), attributes, token)


def to_lead(submission: Submission, form_id: str, source: TypeformSource) -> Lead:
    """Answers mapped by ref (the rest in attributes); the response token is the record id, so the
    lead is valid even when the form asks no email."""
    data = apply_mapping(submission.answers, source.answers)
    data["attributes"].update(form_id=form_id, **submission.attributes)
    if submission.token:
        data["source_record_id"] = submission.token
    return parse_lead(data, default_source=source.source)


async def receive(request: Request) -> JSONResponse:
    form_id = request.path_params["form_id"]
    state = request.app.state
    config: SourcesConfig = state.container.config.sources
    source = config.typeform.get(form_id)
    name = f"typeform:{form_id}"
    body = await admit(request, name, source, media_types=("application/json",))
    assert source is not None  # admit answered 404 otherwise
    secret = state.settings.typeform_secret
    if secret is None:
        raise Unauthorized("no secret is configured for Typeform (LEADFLOW_TYPEFORM_SECRET)")
    verify(body, request.headers, secret.get_secret_value().encode())
    submission = parse_submission(parse_json(body))
    if submission is None:
        log.info("ignored", source=name, outcome="ignored")
        return await accept_all(request, [])
    window = max(config.window_for(source), MIN_WINDOW_SECONDS)
    now = state.clock()
    check_window(submission.submitted_at.timestamp(), now.timestamp(), window, "form_response.submitted_at")
    lead = to_lead(submission, form_id, source)
    return await accept_all(request, [lead_inbound(name, submission.event_id, lead, now)])


ROUTES = [Route("/webhooks/typeform/{form_id}", receive, methods=["POST"])]

OPENAPI = {
    "/webhooks/typeform/{form_id}": {
        "post": {
            "summary": "A Typeform response (answers mapped by typeform.<form_id>.answers in sources.yaml)",
            "parameters": [
                {"name": "form_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "Typeform-Signature",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "sha256=<base64 HMAC-SHA256 of the body with LEADFLOW_TYPEFORM_SECRET>",
                },
            ],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["event_id", "event_type", "form_response"],
                    "properties": {
                        "event_id": {"type": "string"},
                        "event_type": {"type": "string"},
                        "form_response": {"type": "object"},
                    },
                },
                "Typeform's webhook payload",
            ),
            "responses": {
                "202": {
                    "description": "Published, or an event type that is not a lead (no events)",
                    **ACCEPTED,
                },
                "200": {"description": "A repeat of an event_id already published", **ACCEPTED},
                **WEBHOOK_ERRORS,
            },
        }
    }
}
