"""A limit on guessing credentials: failed bearer tokens and dashboard logins per client address.

After ``FAILURES_PER_MINUTE`` failures (a burst of as many, then that many a minute) the address
is answered 429 with Retry-After, before its credential is even compared, so that a right guess
is not told apart from a wrong one while it is limited. A success costs nothing. The API and the
dashboard share one budget per address (the dashboard token may be the API token). In-process,
like the sources' limits: each replica counts its own share.
"""

from __future__ import annotations

import math

from starlette.requests import Request

FAILURES_PER_MINUTE = 10


def _key(request: Request) -> str:
    # The peer, or the client a trusted proxy names (uvicorn's forwarded_allow_ips).
    return "auth-failures:" + (request.client.host if request.client else "unknown")


def retry_after(request: Request) -> int:
    """Seconds the client must wait before another attempt; 0 when it may try now."""
    state = request.app.state
    wait = state.rate_limiter.wait(_key(request), FAILURES_PER_MINUTE, FAILURES_PER_MINUTE, state.monotonic())
    return max(1, math.ceil(wait)) if wait > 0 else 0


def failed(request: Request) -> None:
    """Count one failed attempt from this client."""
    state = request.app.state
    state.rate_limiter.take(_key(request), FAILURES_PER_MINUTE, FAILURES_PER_MINUTE, state.monotonic())
