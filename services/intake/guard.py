"""What every webhook route checks before any work: the source is on, rate, size, content type."""

from __future__ import annotations

import math

from starlette.requests import Request

from schemas.sources import Source
from services.errors import NotFound, RateLimited, UnsupportedMediaType
from services.intake.body import read_body


async def admit(
    request: Request, key: str, source: Source | None, media_types: tuple[str, ...] = ()
) -> bytes:
    """Refuse a disabled source (404), a sender over its rate (429), a content type not in
    ``media_types`` (415, when given), a body over its size (413); return the body otherwise."""
    if source is None or not source.enabled:
        raise NotFound(f"source '{key}' is not configured")
    state = request.app.state
    limits = state.container.config.sources.limits_for(source)
    wait = state.rate_limiter.take(key, limits.rate_per_minute, limits.burst, state.monotonic())
    if wait > 0:
        raise RateLimited(
            f"source '{key}' is over {limits.rate_per_minute} requests per minute",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    if media_types:
        given = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if given not in media_types:
            expected = " or ".join(media_types)
            raise UnsupportedMediaType(f"expected Content-Type {expected}, got '{given or 'none'}'")
    return await read_body(request, limits.max_body_bytes)
