"""Request checks that come before any work: content type, size, JSON."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from services.errors import Malformed, TooLarge, UnsupportedMediaType

MAX_DEPTH = 32


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"expected Content-Type application/json, got '{media_type or 'none'}'")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing with 413 as soon as it passes ``limit`` (never buffering more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _depth(value: Any, level: int = 1) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def parse_json(body: bytes) -> Any:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise Malformed(f"JSON is nested deeper than {MAX_DEPTH} levels") from exc
    if _depth(data) > MAX_DEPTH:
        raise Malformed(f"JSON is nested deeper than {MAX_DEPTH} levels")
    return data
