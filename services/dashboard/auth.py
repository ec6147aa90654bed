"""The dashboard's login: a signed session cookie and a per-session CSRF token.

The cookie holds only a random session id and the CSRF token, signed (itsdangerous) with the
dashboard secret and timestamped, so it expires without server state. It is HttpOnly,
SameSite=Strict, and Secure when the request came over https. A new login token ends every
session opened with the old one. Logging out ends the session for good: the store keeps its id
as ended until the cookie would have expired (connectors/store/sessions.py), and every page
checks it (routes._current).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from services.settings import Settings

COOKIE = "leadflow_dashboard"


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str


class Sessions:
    def __init__(self, settings: Settings) -> None:
        token = settings.dashboard_token or settings.api_token
        self._token = token.get_secret_value() if token else ""
        secret = settings.dashboard_secret
        # Unset: a fresh key per process, so a restart ends every session (documented).
        key = secret.get_secret_value() if secret else secrets.token_urlsafe(32)
        # Bound to the login token too: rotating a leaked token ends the sessions opened with it.
        bound = hashlib.sha256(self._token.encode()).hexdigest()
        self._signer = URLSafeTimedSerializer(key, salt=f"leadflow-dashboard:{bound}")
        self.max_age = int(settings.dashboard_session_hours * 3600)

    def token_ok(self, given: str) -> bool:
        return bool(self._token) and hmac.compare_digest(given.strip().encode(), self._token.encode())

    def current(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._signer.loads(raw, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or not {"sid", "csrf"} <= data.keys():
            return None
        return Session(str(data["sid"]), str(data["csrf"]))

    def start(self, request: Request, response: Response) -> Session:
        session = Session(secrets.token_urlsafe(16), secrets.token_urlsafe(24))
        response.set_cookie(
            COOKIE,
            self._signer.dumps({"sid": session.sid, "csrf": session.csrf}),
            max_age=self.max_age,
            path="/dashboard",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return session

    @staticmethod
    def end(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/dashboard", httponly=True, samesite="strict")


def csrf_ok(session: Session, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), session.csrf.encode())
