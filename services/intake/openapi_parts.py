"""Pieces every source's OpenAPI paths share: the error body, the accepted body, request bodies."""

from __future__ import annotations

from typing import Any


def error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    """A response whose body is the JSON error every route uses."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
    return response


# The errors every webhook route can answer, before and after it reads the body.
WEBHOOK_ERRORS: dict[str, Any] = {
    "400": error("Malformed content (not parseable, nested too deep)"),
    "401": error("Missing or wrong signature or secret, or a timestamp outside the replay window"),
    "404": error("The source is not configured"),
    "409": error("The sender's event id was already used for different content; nothing published"),
    "413": error("Body over the source's limit"),
    "415": error("Wrong content type"),
    "422": error("Valid content that is not a lead"),
    "429": error("Over the source's rate", retry_after=True),
    "503": error(
        "The bus or store is unavailable, or another replica is accepting the same event right now"
        " (in_progress); nothing was accepted; retry",
        retry_after=True,
    ),
}

# Every bearer route's answer while its client has sent too many wrong tokens (services.intake.guessing).
GUESSING = error("Too many wrong bearer tokens from this address; retry after Retry-After", retry_after=True)
# What every bearer route can answer before it looks at the request itself.
BEARER_ERRORS: dict[str, Any] = {"401": error("Missing or wrong bearer token"), "429": GUESSING}

ACCEPTED: dict[str, Any] = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
}


def json_body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}
