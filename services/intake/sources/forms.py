"""Web forms: browser posts and form tools, urlencoded, multipart or JSON, one config per form.

Forms are unsigned, so the checks are the browser's own: the Origin header against the form's
``allowed_origins`` (CORS), a honeypot field that only bots fill in, and the usual limits. A
post without an Origin header comes from a server-side form tool and is allowed. A browser
post (urlencoded or multipart, ``Accept: text/html``) to a form with ``redirect_url`` is
answered 303 See Other to that page once the lead is on the bus; anything else gets JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from schemas.lead import Lead, lead_id_for
from schemas.sources import FormSource, SourcesConfig
from services.errors import Forbidden, InvalidWebhook, Malformed, NotALead, NotFound, UnsupportedMediaType
from services.intake.body import parse_json
from services.intake.formdata import FormData, parse_form
from services.intake.guard import admit
from services.intake.mapping import apply_mapping
from services.intake.openapi_parts import ACCEPTED, WEBHOOK_ERRORS, error
from services.intake.publish import lead_inbound
from services.intake.respond import accept_all, parse_lead, publish_all
from services.logs import get_logger

log = get_logger(component="intake")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_SUBMISSION_ID = 150  # the event id is "forms:<form>:<submission_id>", at most 200 characters
PREFLIGHT_MAX_AGE = 3600
# For a form configured without `fields`: the names most forms use.
DEFAULT_FIELDS = {
    "email": "person.email",
    "name": "person.name",
    "first_name": "person.first_name",
    "last_name": "person.last_name",
    "phone": "person.phone",
    "job_title": "person.title",
    "company": "company.name",
    "message": "message",
}


@dataclass(frozen=True)
class Posted:
    """What a form post said: its fields (repeated names become lists) and how many files it had."""

    fields: dict[str, Any]
    files: int
    browser_form: bool  # urlencoded or multipart: what an HTML <form> sends


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _collect(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    return fields


def _decoded(form: FormData) -> dict[str, Any]:
    pairs = []
    for name, value in form.pairs:
        try:
            pairs.append((name, value.decode()))
        except UnicodeDecodeError as exc:
            raise Malformed(f"field '{name}' is not UTF-8 text") from exc
    return _collect(pairs)


def parse_post(body: bytes, content_type: str) -> Posted:
    """The fields of a urlencoded, multipart or JSON post; 415 for any other type."""
    kind = media_type(content_type)
    if kind in FORM_TYPES:
        form = parse_form(content_type, body)
        return Posted(_decoded(form), form.files, browser_form=True)
    if kind == "application/json" or kind.endswith("+json"):
        data = parse_json(body)
        if not isinstance(data, dict):
            raise NotALead("a form post in JSON is an object of field names to values")
        return Posted(data, 0, browser_form=False)
    raise UnsupportedMediaType(
        f"expected {', '.join(FORM_TYPES)} or application/json, got '{kind or 'none'}'"
    )


def origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    return origin.rstrip("/").lower() in {a.rstrip("/").lower() for a in allowed}


def check_origin(origin: str | None, allowed: Sequence[str]) -> None:
    """No Origin: a server-side form tool, allowed. A browser's Origin must be configured."""
    if origin is not None and not origin_allowed(origin, allowed):
        raise Forbidden(f"origin '{origin}' may not post to this form (allowed_origins)")


def cors_headers(origin: str | None, allowed: Sequence[str]) -> dict[str, str]:
    if origin is None or not origin_allowed(origin, allowed):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def submission_id(fields: Mapping[str, Any]) -> str | None:
    """A form's own submission id, when it posts one: the only dedupe key a form has."""
    value = fields.get("submission_id")
    if value is None or isinstance(value, dict | list) or not str(value).strip():
        return None
    value = str(value).strip()
    if len(value) > MAX_SUBMISSION_ID:
        raise Malformed(f"submission_id is longer than {MAX_SUBMISSION_ID} characters")
    return value


def is_bot(fields: Mapping[str, Any], honeypot: str | None) -> bool:
    value = fields.get(honeypot) if honeypot else None
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def to_lead(posted: Posted, form_id: str, source: FormSource) -> Lead:
    """Map the posted fields (unmapped ones land in attributes) into a Lead of the form's source."""
    fields = {k: v for k, v in posted.fields.items() if k != source.honeypot}
    data = apply_mapping(fields, source.fields or DEFAULT_FIELDS)
    data["attributes"]["form_id"] = form_id
    if posted.files:
        data["attributes"]["file_parts"] = posted.files
    return parse_lead(data, default_source=source.source)


def _forms(request: Request) -> Mapping[str, FormSource]:
    config: SourcesConfig = request.app.state.container.config.sources
    return config.forms


async def receive(request: Request) -> Response:
    source = _forms(request).get(request.path_params["form_id"])
    cors = cors_headers(request.headers.get("origin"), source.allowed_origins if source else ())
    try:
        response = await _accept(request, source)
    except InvalidWebhook as exc:
        exc.headers.update(cors)  # so the page's script can read why it was refused
        raise
    response.headers.update(cors)
    return response


async def _accept(request: Request, source: FormSource | None) -> Response:
    form_id = request.path_params["form_id"]
    name = f"forms:{form_id}"
    body = await admit(request, name, source)
    assert source is not None  # admit answered 404 otherwise
    check_origin(request.headers.get("origin"), source.allowed_origins)
    posted = parse_post(body, request.headers.get("content-type", ""))
    redirect = source.redirect_url is not None and posted.browser_form
    redirect = redirect and "text/html" in request.headers.get("accept", "").lower()
    sub_id = submission_id(posted.fields)
    if is_bot(posted.fields, source.honeypot):
        log.info("dropped", source=name, outcome="honeypot")
        return _see_other(source) if redirect else _decoy(name, sub_id)
    lead = to_lead(posted, form_id, source)
    item = lead_inbound(name, sub_id, lead, request.app.state.clock())
    if not redirect:
        return await accept_all(request, [item])
    await publish_all(request, [item])
    return _see_other(source)


def _see_other(source: FormSource) -> Response:
    return RedirectResponse(str(source.redirect_url), status_code=303)


def _decoy(name: str, sub_id: str | None) -> Response:
    """What accept_all would answer, with nothing published: a bot learns nothing."""
    event_id = f"{name}:{sub_id}" if sub_id else str(uuid.uuid4())
    events = [{"event_id": event_id, "lead_id": lead_id_for(f"event:{event_id}"), "outcome": "published"}]
    return JSONResponse({"events": events}, status_code=202)


async def preflight(request: Request) -> Response:
    """The browser's CORS preflight: allowed origins may POST with a Content-Type header."""
    form_id = request.path_params["form_id"]
    source = _forms(request).get(form_id)
    if source is None or not source.enabled:
        raise NotFound(f"source 'forms:{form_id}' is not configured")
    origin = request.headers.get("origin")
    if origin is None or not origin_allowed(origin, source.allowed_origins):
        raise Forbidden(f"origin '{origin or 'none'}' may not post to this form (allowed_origins)")
    headers = {
        **cors_headers(origin, source.allowed_origins),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
    }
    return Response(status_code=204, headers=headers)


ROUTES = [
    Route("/webhooks/forms/{form_id}", receive, methods=["POST"]),
    Route("/webhooks/forms/{form_id}", preflight, methods=["OPTIONS"]),
]


def _header(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": {"type": "string"},
        "description": description,
    }


_FORM_ID = {"name": "form_id", "in": "path", "required": True, "schema": {"type": "string"}}
_FIELDS = {"type": "object", "additionalProperties": {"type": "string"}}
_ALLOW_ORIGIN = {
    "Access-Control-Allow-Origin": {"schema": {"type": "string"}, "description": "The Origin, echoed"}
}

OPENAPI = {
    "/webhooks/forms/{form_id}": {
        "post": {
            "summary": "A web form post (fields mapped by forms.<form_id>.fields in sources.yaml)",
            "parameters": [
                _FORM_ID,
                _header("Origin", "A browser's origin; must be in allowed_origins (absent: a form tool)"),
                _header(
                    "Accept", "text/html from a browser form post: answered 303 when redirect_url is set"
                ),
            ],
            "requestBody": {
                "required": True,
                "description": "Form fields; a 'submission_id' field makes repeats publish once; no files",
                "content": {
                    "application/x-www-form-urlencoded": {"schema": _FIELDS},
                    "multipart/form-data": {"schema": _FIELDS},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "202": {"description": "Published (also what a honeypot post is told)", **ACCEPTED},
                "200": {"description": "A repeat of a submission_id already published", **ACCEPTED},
                "303": {
                    "description": "Published; a browser form post goes on to redirect_url",
                    "headers": {"Location": {"schema": {"type": "string"}, "description": "redirect_url"}},
                },
                "403": error("The Origin is not in the form's allowed_origins"),
                **{k: v for k, v in WEBHOOK_ERRORS.items() if k != "401"},  # forms are unsigned
            },
        },
        "options": {
            "summary": "CORS preflight for a browser post from an allowed origin",
            "parameters": [_FORM_ID, _header("Origin", "The page's origin", required=True)],
            "responses": {
                "204": {
                    "description": "The origin may POST with a Content-Type header",
                    "headers": {
                        **_ALLOW_ORIGIN,
                        "Access-Control-Allow-Methods": {"schema": {"type": "string"}},
                        "Access-Control-Allow-Headers": {"schema": {"type": "string"}},
                        "Access-Control-Max-Age": {"schema": {"type": "string"}},
                    },
                },
                "403": error("The Origin is missing or not in the form's allowed_origins"),
                "404": error("The form is not configured"),
            },
        },
    }
}
