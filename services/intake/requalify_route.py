"""POST /v1/requalify: what `leadflow requalify` does, from an API call, so a CRM workflow or a
list action can send records through the pipeline again (services/requalify.py does the work).

One call reads at most ``limit`` records (default 500, at most 2,000) and answers once each is
on the bus (or, with ``accounts``, has its ICP status): ``truncated`` says there were more, to
be asked for with a narrower selection or `leadflow requalify`. A repeat over unchanged records
publishes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from connectors.crm.reader import UnsupportedSelection
from services.errors import Malformed
from services.intake.body import parse_json, read_body, require_json
from services.intake.openapi_parts import BEARER_ERRORS, error, json_body
from services.intake.routes import authenticate, since_of
from services.requalify import (
    CRMS,
    CannotRequalify,
    open_reader,
    requalify_accounts,
    requalify_records,
    selection_of,
)

DEFAULT_LIMIT, MAX_LIMIT = 500, 2000
FIELDS = {"crm", "ids", "query", "since", "accounts", "limit"}


def _request(data: Any) -> tuple[str, list[str], str | None, datetime | None, bool, int]:
    if not isinstance(data, dict):
        raise Malformed('the body is a JSON object: {"crm": ..., and one of "ids", "query", "since"}')
    unknown = set(data) - FIELDS
    if unknown:
        raise Malformed(f"unknown field(s): {', '.join(sorted(unknown))}")
    crm, ids, query = data.get("crm"), data.get("ids") or [], data.get("query")
    accounts, limit = data.get("accounts", False), data.get("limit", DEFAULT_LIMIT)
    if crm not in CRMS:
        raise Malformed(f"'crm' is one of {', '.join(CRMS)}")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > MAX_LIMIT:
        raise Malformed(f"'ids' is a list of at most {MAX_LIMIT} record ids")
    if query is not None and not isinstance(query, str):
        raise Malformed("'query' is a string")
    if not isinstance(accounts, bool):
        raise Malformed("'accounts' is true or false")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Malformed(f"'limit' is a whole number from 1 to {MAX_LIMIT}")
    return crm, ids, query, since_of(data.get("since")), accounts, limit


async def requalify_endpoint(request: Request) -> JSONResponse:
    authenticate(request)
    require_json(request)
    crm, ids, query, since, accounts, limit = _request(parse_json(await read_body(request, 256 * 1024)))
    container = request.app.state.container
    try:
        selection = selection_of(ids, query, since)
        reader = open_reader(crm, container)
    except CannotRequalify as exc:
        raise Malformed(str(exc)) from exc
    try:
        if accounts:
            counts = await requalify_accounts(reader, selection, container.config.icp, limit=limit)
        else:
            counts = await requalify_records(
                reader, request.app.state.publisher, selection,
                config_version=container.config.version, now=request.app.state.clock(), limit=limit,
            )  # fmt: skip
    except UnsupportedSelection as exc:  # raised at the first read, before anything is published
        raise Malformed(str(exc)) from exc
    result = {k: v for k, v in vars(counts).items() if k != "accounts" or accounts}
    return JSONResponse({"crm": crm, **result})


def _openapi() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    body = {
        "type": "object",
        "required": ["crm"],
        "additionalProperties": False,
        "properties": {
            "crm": {"enum": list(CRMS)},
            "ids": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_LIMIT},
            "query": {
                "type": "string",
                "description": "Salesforce: a SOQL WHERE expression; HubSpot: search text",
            },
            "since": {"type": "string", "format": "date-time"},
            "accounts": {"type": "boolean", "description": "Companies: an ICP status only"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        },
        "description": "Exactly one of ids, query, since.",
    }
    answer = {
        "type": "object",
        "required": ["crm", "read", "published", "duplicates", "locked", "truncated"],
        "properties": {
            "crm": {"type": "string"}, "read": count, "published": count, "duplicates": count,
            "locked": count, "truncated": {"type": "boolean"},
            "accounts": {"type": "array", "items": {"type": "object"}},
        },
    }  # fmt: skip
    return {
        "/v1/requalify": {
            "post": {
                "summary": "Send existing CRM records through the pipeline again (locked ones skipped)",
                "security": [{"bearer": []}],
                "requestBody": json_body(body),
                "responses": {
                    "200": {"description": "Every record read is on the bus (or has its ICP status)",
                            "content": {"application/json": {"schema": answer}}},
                    "400": error("Not parseable JSON, an unknown CRM or field, not exactly one selection, "
                                 "or a CRM this deployment has no credentials for"),
                    **BEARER_ERRORS,
                    "413": error("Body over 256 KiB"),
                    "415": error("Not JSON"),
                    "503": error("The CRM, store or bus is unavailable; retry", retry_after=True),
                },
            }
        }
    }  # fmt: skip


OPENAPI_PATHS = _openapi()
