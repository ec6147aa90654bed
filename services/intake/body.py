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
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _depth(value: Any) -> int:
    """Nesting depth, iteratively: a hostile document must not exhaust the stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def parse_json(body: bytes) -> Any:
    try:
        data = json.loads(body)
        # Lone surrogates ("\ud800") parse but cannot be re-encoded: refuse them here.
        json.dumps(data, ensure_ascii=False).encode()
    except RecursionError as exc:
        raise Malformed(f"JSON is nested deeper than {MAX_DEPTH} levels") from exc
    except (UnicodeError, ValueError) as exc:  # JSONDecodeError is a ValueError; so are huge ints
        raise Malformed(f"body is not valid JSON: {exc}"[:300]) from exc
    if _depth(data) > MAX_DEPTH:
        raise Malformed(f"JSON is nested deeper than {MAX_DEPTH} levels")
    return data
