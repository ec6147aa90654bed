"""Small pure helpers every signature check uses: HMACs, constant-time compare, time windows."""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.errors import Unauthorized


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def same(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time equality of two signatures."""
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check_window(timestamp: float, now: float, window: float, what: str = "timestamp") -> None:
    """Refuse deliveries outside ``window`` seconds of now, either way (a replay or a bad clock)."""
    if abs(now - timestamp) > window:
        raise Unauthorized(f"{what} is outside the {int(window)} s replay window")


def header(headers: object, name: str) -> str:
    """A required header, or 401 naming it."""
    value = headers.get(name)  # type: ignore[attr-defined]
    if not value:
        raise Unauthorized(f"missing header {name}")
    return str(value)
