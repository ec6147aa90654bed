"""Small pure helpers every signature check uses: HMACs, constant-time compare, time windows."""

from __future__ import annotations

import base64
import binascii
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


def unix_digits(raw: str) -> bool:
    """ASCII digits, at most 15 of them. ``str.isdigit`` alone also takes "\u00b2" (a header is
    Latin-1) and digit strings too long for a float: int() or the window check then raised, a 500."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 15


def header(headers: object, name: str) -> str:
    """A required header, or 401 naming it."""
    value = headers.get(name)  # type: ignore[attr-defined]
    if not value:
        raise Unauthorized(f"missing header {name}")
    return str(value)


def secret_keys(secrets: str) -> list[bytes]:
    """``"whsec_a whsec_b"`` -> the raw keys, newest first as configured."""
    keys = []
    for secret in secrets.split():
        try:
            keys.append(base64.b64decode(secret.removeprefix("whsec_"), validate=True))
        except binascii.Error as exc:
            raise ValueError("a Standard Webhooks secret is not base64 after 'whsec_'") from exc
    return keys
