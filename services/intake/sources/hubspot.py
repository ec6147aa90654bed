"""HubSpot webhooks (an app's Webhooks API subscriptions): batches of up to 100 CRM events.

Signatures, as HubSpot documents them ("Validating requests"), keyed by the app's client secret:

- v1: ``X-HubSpot-Signature`` = hex SHA-256 of ``client_secret + body``;
- v2: ``X-HubSpot-Signature`` = hex SHA-256 of ``client_secret + method + uri + body``;
- v3: ``X-HubSpot-Signature-v3`` = base64 HMAC-SHA256(client_secret, ``method + uri + body +
  timestamp``) with ``X-HubSpot-Request-Timestamp`` in ms, refused when older than 5 minutes;
  the URI is signed with some percent-escapes decoded (see ``V3_DECODED``).

Which one is checked is ``sources.hubspot.signature_version``. ``contact.creation`` becomes a Lead
that refers to the contact (the qualifier fetches its properties); ``contact.propertyChange`` on a
property in ``feedback_properties`` becomes a LeadFeedback on ``leads.feedback``; anything else is
accepted, counted as ignored and not published. A repeated notification (eventId with its portal,
object and property: see ``delivery_id``) is published once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.events import LeadFeedback
from schemas.lead import Lead, lead_id_for
from services.core.feedback import classify
from services.errors import NotALead, Unauthorized
from services.intake.body import parse_json
from services.intake.guard import admit
from services.intake.openapi_parts import WEBHOOK_ERRORS, json_body
from services.intake.publish import Inbound, feedback_inbound, lead_inbound
from services.intake.respond import accept_all, not_a_lead, parse_lead
from services.intake.signatures import b64, check_window, header, hmac_sha256, same, unix_digits
from services.logs import get_logger

log = get_logger(component="intake")

SOURCE = "hubspot"
MAX_EVENTS = 100  # HubSpot sends at most 100 events per request
MAX_AGE_SECONDS = 300  # v3: "reject the request if the timestamp is older than 5 minutes"
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: anything later is not a time

SIGNATURE = "x-hubspot-signature"
SIGNATURE_VERSION = "x-hubspot-signature-version"
SIGNATURE_V3 = "x-hubspot-signature-v3"
TIMESTAMP = "x-hubspot-request-timestamp"

# v3 signs the URI with these escapes decoded (HubSpot's table); hex digits match either case.
V3_DECODED = {
    "3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$",
    "27": "'", "28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";",
}  # fmt: skip
_V3_ESCAPE = re.compile("%(" + "|".join(V3_DECODED) + ")", re.IGNORECASE)

Version = Literal["v1", "v2", "v3"]


class HubSpotEvent(BaseModel):
    """One event of a batch: the fields every subscription type shares, plus the contact ones."""

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)

    event_id: int = Field(alias="eventId", ge=0)
    subscription_type: str = Field(alias="subscriptionType", min_length=1, max_length=200)
    object_id: int | None = Field(default=None, alias="objectId", ge=0)
    portal_id: int | None = Field(default=None, alias="portalId", ge=0)
    occurred_at: int | None = Field(default=None, alias="occurredAt", ge=0, le=MAX_MS)
    change_source: str | None = Field(default=None, alias="changeSource", max_length=200)
    property_name: str | None = Field(default=None, alias="propertyName", max_length=200)
    property_value: str | None = Field(default=None, alias="propertyValue")


_BATCH = TypeAdapter(list[HubSpotEvent])


def sign_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(f"{secret}{method}{uri}".encode() + body).hexdigest()


def v3_uri(uri: str) -> str:
    """The URI as v3 signs it: ``%3A`` -> ``:`` and the rest of HubSpot's table; other escapes stay."""
    return _V3_ESCAPE.sub(lambda m: V3_DECODED[m.group(1).upper()], uri)


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = f"{method}{v3_uri(uri)}".encode() + body + timestamp.encode()
    return b64(hmac_sha256(secret.encode(), message))


def verify(
    version: Version,
    secret: str,
    *,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
    window: float = MAX_AGE_SECONDS,
) -> None:
    """Check one delivery signed the ``version`` way (``now`` in Unix seconds; ``headers`` looked
    up by lower-case name). Raises Unauthorized saying which check failed."""
    if version == "v3":
        given = header(headers, SIGNATURE_V3)
        timestamp = header(headers, TIMESTAMP)
        if not unix_digits(timestamp):
            raise Unauthorized(f"{TIMESTAMP} is not a Unix time in milliseconds")
        check_window(int(timestamp) / 1000, now, window, TIMESTAMP)
        if not same(given.strip(), sign_v3(secret, method, uri, body, timestamp)):
            raise Unauthorized(f"{SIGNATURE_V3} does not match the app's client secret")
        return
    given = header(headers, SIGNATURE)
    declared = headers.get(SIGNATURE_VERSION)
    if declared and declared.strip().lower() != version:
        raise Unauthorized(
            f"{SIGNATURE_VERSION} is '{declared[:10]}' but sources.hubspot.signature_version is {version}"
        )
    expected = sign_v1(secret, body) if version == "v1" else sign_v2(secret, method, uri, body)
    if not same(given.strip().lower(), expected):
        raise Unauthorized(f"{SIGNATURE} ({version}) does not match the app's client secret")


def signed_uri(request_url: str, public_url: AnyHttpUrl | None) -> str:
    """The URI HubSpot signed: the configured public URL (behind a proxy), else the request's."""
    return str(public_url) if public_url is not None else request_url


def parse_batch(data: Any) -> list[HubSpotEvent]:
    """A batch of 1 to 100 events, or 422 naming what is wrong."""
    if not isinstance(data, list):
        raise NotALead("a HubSpot delivery is a JSON array of events")
    if not data:
        raise NotALead("the batch holds no events")
    if len(data) > MAX_EVENTS:
        raise NotALead(f"the batch holds {len(data)} events; HubSpot sends at most {MAX_EVENTS}")
    try:
        return _BATCH.validate_python(data)
    except ValidationError as exc:
        raise not_a_lead(exc) from exc


def _object_id(event: HubSpotEvent) -> int:
    if event.object_id is None:
        raise NotALead(f"event {event.event_id}: {event.subscription_type} without objectId")
    return event.object_id


def delivery_id(event: HubSpotEvent) -> str:
    """What tells one notification from another, the same across HubSpot's retries. HubSpot says
    eventId "is not guaranteed to be unique": one change can notify a creation and property changes
    under one eventId, and each portal that installed the app has its own. So the portal, the
    object and (for a property change) the property go with it: ``eventId:portal:object[:property]``."""
    parts: list[int | str | None] = [event.event_id, event.portal_id, _object_id(event)]
    if event.subscription_type != "contact.creation":
        parts.append(event.property_name)
    return ":".join("" if part is None else str(part) for part in parts)


def contact_lead(event: HubSpotEvent) -> Lead:
    """A lead that refers to the HubSpot contact; the qualifier fetches its properties."""
    attributes = {"hubspot_portal_id": event.portal_id, "change_source": event.change_source}
    data = {
        "source_record_id": str(_object_id(event)),
        "attributes": {k: v for k, v in attributes.items() if v is not None},
    }
    return parse_lead(data, default_source=SOURCE)


def contact_feedback(event: HubSpotEvent, now: datetime) -> LeadFeedback:
    """A property a person changed on the contact, keyed like the contact's lead."""
    object_id = str(_object_id(event))
    if event.property_name is None:
        raise NotALead(f"event {event.event_id}: {event.subscription_type} without propertyName")
    occurred = event.occurred_at
    kind, label = classify(event.property_name, event.property_value) or (None, None)
    source_event_id = delivery_id(event)
    return LeadFeedback(
        event_id=f"{SOURCE}:{source_event_id}",
        lead_id=lead_id_for(f"{SOURCE}:{object_id}"),
        received_at=now,
        source=SOURCE,
        source_event_id=source_event_id,
        object_id=object_id,
        property=event.property_name,
        value=event.property_value,
        occurred_at=datetime.fromtimestamp(occurred / 1000, UTC) if occurred is not None else None,
        kind=kind,
        label=label,
    )


def to_inbound(event: HubSpotEvent, feedback_properties: Sequence[str], now: datetime) -> Inbound | None:
    """What to publish for one event; None for the subscription types and properties we ignore."""
    if event.subscription_type == "contact.creation":
        return lead_inbound(SOURCE, delivery_id(event), contact_lead(event), now)
    if event.subscription_type == "contact.propertyChange" and event.property_name in feedback_properties:
        return feedback_inbound(contact_feedback(event, now))
    return None


async def receive(request: Request) -> JSONResponse:
    state = request.app.state
    source = state.container.config.sources.hubspot
    body = await admit(request, SOURCE, source, media_types=("application/json",))
    secret = state.settings.hubspot_client_secret
    if secret is None:
        raise Unauthorized("no HubSpot client secret is configured (LEADFLOW_HUBSPOT_CLIENT_SECRET)")
    now = state.clock()
    verify(
        source.signature_version,
        secret.get_secret_value(),
        method=request.method,
        uri=signed_uri(str(request.url), source.public_url),
        body=body,
        headers=request.headers,
        now=now.timestamp(),
        window=min(MAX_AGE_SECONDS, state.container.config.sources.window_for(source)),
    )
    events = parse_batch(parse_json(body))
    planned = [to_inbound(event, source.feedback_properties, now) for event in events]
    items = [item for item in planned if item is not None]
    ignored = len(planned) - len(items)
    log.info("batch", source=SOURCE, events=len(events), publishing=len(items), ignored=ignored)
    # accept_all answers {"events": [...]}; the framework has no slot for the ignored count.
    response = await accept_all(request, items)
    return JSONResponse(
        {**json.loads(bytes(response.body)), "ignored": ignored}, status_code=response.status_code
    )


ROUTES = [Route("/webhooks/hubspot", receive, methods=["POST"])]

_EVENT = {
    "type": "object",
    "required": ["eventId", "subscriptionType"],
    "properties": {
        **{
            name: {"type": "integer", "minimum": 0}
            for name in ("eventId", "subscriptionId", "portalId", "appId", "attemptNumber", "objectId")
        },
        "occurredAt": {"type": "integer", "minimum": 0, "description": "Unix time in ms"},
        "subscriptionType": {"type": "string", "examples": ["contact.creation", "contact.propertyChange"]},
        **{
            name: {"type": "string"}
            for name in ("changeSource", "changeFlag", "propertyName", "propertyValue", "sourceId")
        },
    },
}
_ANSWER = {
    "content": {
        "application/json": {
            "schema": {
                "allOf": [
                    {"$ref": "#/components/schemas/Accepted"},
                    {
                        "type": "object",
                        "required": ["ignored"],
                        "properties": {"ignored": {"type": "integer", "minimum": 0}},
                    },
                ]
            }
        }
    }
}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


OPENAPI = {
    "/webhooks/hubspot": {
        "post": {
            "summary": "A HubSpot webhook batch: contact.creation -> lead, propertyChange -> feedback",
            "description": (
                "Signed the way sources.hubspot.signature_version says (v3 by default, with the app's "
                "client secret). Other subscription types and properties are accepted and ignored; "
                "a repeated notification (eventId, portal, object, property) is published once."
            ),
            "parameters": [
                _header(
                    "X-HubSpot-Signature-v3", "v3: base64 HMAC-SHA256 of method + URI + body + timestamp"
                ),
                _header(
                    "X-HubSpot-Request-Timestamp", "v3: Unix time in ms; older than 5 minutes is refused"
                ),
                _header(
                    "X-HubSpot-Signature", "v1/v2: hex SHA-256 of the client secret + (method + URI +) body"
                ),
                _header("X-HubSpot-Signature-Version", "v1 or v2"),
            ],
            "requestBody": json_body(
                {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "items": _EVENT},
                "Up to 100 events, as HubSpot sends them",
            ),
            "responses": {
                "202": {"description": "Published (and the count of ignored events)", **_ANSWER},
                "200": {"description": "Every published event was a repeat (HubSpot's retry)", **_ANSWER},
                **WEBHOOK_ERRORS,
            },
        }
    }
}
