"""A limit on guessing credentials: failed bearer tokens and dashboard logins per client address.

After ``FAILURES_PER_MINUTE`` failures (a burst of as many, then that many a minute) the address
is answered 429 with Retry-After, before its credential is even compared, so that a right guess
is not told apart from a wrong one while it is limited. A success costs nothing. The API and the
dashboard share one budget per address (the dashboard token may be the API token). In-process,
like the sources' limits: each replica counts its own share.
"""

from __future__ import annotations

import ipaddress
import math

from starlette.requests import Request

FAILURES_PER_MINUTE = 10


def _address(request: Request) -> str:
    """The peer, or the client a trusted proxy names (uvicorn's forwarded_allow_ips).

    Trusting every proxy ('*', as deploy/k8s does), uvicorn takes the leftmost X-Forwarded-For
    entry, which the client itself may have written: a made-up one per guess would get a fresh
    budget each time, and a victim's would lock the victim out. The rightmost entry is the one
    the nearest proxy (the ingress) appended, so that is the address counted then.
    """
    if request.app.state.settings.forwarded_allow_ips.strip() == "*":
        forwarded = request.headers.getlist("x-forwarded-for")
        nearest = forwarded[-1].rsplit(",", 1)[-1].strip() if forwarded else ""
        if nearest:
            return nearest
    return request.client.host if request.client else "unknown"


def _key(request: Request) -> str:
    return "auth-failures:" + _network(_address(request))


def _network(address: str) -> str:
    """An IPv6 client's /64 (one subscriber's allocation: each of its 2^64 addresses would
    otherwise have a budget of its own); any other address as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def retry_after(request: Request) -> int:
    """Seconds the client must wait before another attempt; 0 when it may try now."""
    state = request.app.state
    wait = state.rate_limiter.wait(_key(request), FAILURES_PER_MINUTE, FAILURES_PER_MINUTE, state.monotonic())
    return max(1, math.ceil(wait)) if wait > 0 else 0


def failed(request: Request) -> None:
    """Count one failed attempt from this client."""
    state = request.app.state
    state.rate_limiter.take(_key(request), FAILURES_PER_MINUTE, FAILURES_PER_MINUTE, state.monotonic())
