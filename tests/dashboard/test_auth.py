"""The dashboard's session cookie: signed with the dashboard secret, bound to the login token."""

from __future__ import annotations

from http.cookies import SimpleCookie
from pathlib import Path

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from services.dashboard.auth import COOKIE, Sessions
from services.settings import Settings
from tests.conftest import CONFIG_DIR


def settings(tmp_path: Path, *, api: str = "api-token", dashboard: str | None = None) -> Settings:
    return Settings(
        api_token=SecretStr(api),
        dashboard_token=SecretStr(dashboard) if dashboard else None,
        dashboard_secret=SecretStr("shared-secret"),
        data_dir=tmp_path,
        config_dir=CONFIG_DIR,
    )


def request(cookie: str | None = None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    scope = {"type": "http", "scheme": "http", "method": "GET", "path": "/dashboard", "headers": headers,
             "query_string": b"", "server": ("testserver", 80)}  # fmt: skip
    return Request(scope)


def logged_in(sessions: Sessions) -> str:
    response = Response()
    sessions.start(request(), response)
    jar: SimpleCookie = SimpleCookie(response.headers["set-cookie"])
    return jar[COOKIE].value


def test_a_session_holds_on_every_replica_sharing_the_secret_and_token(tmp_path: Path) -> None:
    cookie = logged_in(Sessions(settings(tmp_path)))
    assert Sessions(settings(tmp_path)).current(request(cookie)) is not None


def test_rotating_the_login_token_ends_the_sessions_it_opened(tmp_path: Path) -> None:
    # A leaked token is rotated: whoever logged in with it must not stay in for 12 hours.
    cookie = logged_in(Sessions(settings(tmp_path)))
    assert Sessions(settings(tmp_path, api="rotated")).current(request(cookie)) is None
    dashboard = logged_in(Sessions(settings(tmp_path, dashboard="dash-1")))
    assert Sessions(settings(tmp_path, dashboard="dash-2")).current(request(dashboard)) is None
    same_dashboard_token = Sessions(settings(tmp_path, api="rotated", dashboard="dash-1"))
    assert same_dashboard_token.current(request(dashboard)) is not None
