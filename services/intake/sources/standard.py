"""Standard Webhooks (standardwebhooks.com): any sender that signs the way the spec says.

Signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256 with the base64 key
after ``whsec_``; ``webhook-signature`` holds space-separated ``v1,<base64>`` entries. Several
active secrets per source let a secret be rotated without downtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.errors import Unauthorized
from services.intake.body import parse_json
from services.intake.guard import admit
from services.intake.mapping import apply_mapping
from services.intake.openapi_parts import ACCEPTED, WEBHOOK_ERRORS, json_body
from services.intake.publish import lead_inbound
from services.intake.respond import accept_all, parse_lead
from services.intake.signatures import (
    b64,
    check_window,
    header,
    hmac_sha256,
    same,
    secret_keys,
    unix_digits,
)


def sign(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> str:
    return "v1," + b64(hmac_sha256(key, f"{msg_id}.{timestamp}.".encode() + body))


def verify(body: bytes, headers: Mapping[str, str], keys: Sequence[bytes], now: float, window: float) -> str:
    """Check one delivery; return its webhook-id. Raises Unauthorized saying which check failed."""
    msg_id = header(headers, "webhook-id")
    raw_timestamp = header(headers, "webhook-timestamp")
    signatures = header(headers, "webhook-signature")
    if not unix_digits(raw_timestamp):
        raise Unauthorized("webhook-timestamp is not a Unix timestamp in seconds")
    timestamp = int(raw_timestamp)
    check_window(timestamp, now, window, "webhook-timestamp")
    given = [s.partition(",")[2] for s in signatures.split() if s.startswith("v1,")]
    # The header as received, not int() of it: "0" + a valid timestamp is not what was signed.
    expected = [sign(key, msg_id, raw_timestamp, body).partition(",")[2] for key in keys]
    if not any(same(g, e) for g in given for e in expected):
        raise Unauthorized("webhook-signature does not match any active secret")
    return msg_id


async def receive(request: Request) -> JSONResponse:
    name = request.path_params["source"]
    state = request.app.state
    source = state.container.config.sources.standard.get(name)
    body = await admit(request, f"standard:{name}", source, media_types=("application/json",))
    secret = state.settings.standard_secrets.get(name)
    if secret is None:
        raise Unauthorized(f"no secret is configured for source '{name}' (LEADFLOW_STANDARD_SECRETS)")
    assert source is not None  # admit answered 404 otherwise
    window = state.container.config.sources.window_for(source)
    msg_id = verify(
        body, request.headers, secret_keys(secret.get_secret_value()), state.clock().timestamp(), window
    )
    payload = parse_json(body)
    data = apply_mapping(payload, source.fields) if source.fields and isinstance(payload, dict) else payload
    lead = parse_lead(data, default_source=name)
    return await accept_all(request, [lead_inbound(name, msg_id, lead, state.clock())])


ROUTES = [Route("/webhooks/standard/{source}", receive, methods=["POST"])]

OPENAPI = {
    "/webhooks/standard/{source}": {
        "post": {
            "summary": "A lead from any Standard Webhooks sender (payload: a Lead, or mapped fields)",
            "parameters": [
                {"name": "source", "in": "path", "required": True, "schema": {"type": "string"}},
                *(
                    {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                    for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
                ),
            ],
            "requestBody": json_body({"type": "object"}, "A lead, signed per standardwebhooks.com"),
            "responses": {
                "202": {"description": "Published", **ACCEPTED},
                "200": {"description": "A repeat of a webhook-id already published", **ACCEPTED},
                **WEBHOOK_ERRORS,
            },
        }
    }
}
