"""Every route the app serves gets generated input, and none answers 5xx or shows a stack trace.

The routes in the OpenAPI document are driven by schemathesis in tests/services/test_openapi.py;
the rest (the dashboard's HTML pages and forms) by the hypothesis test here, logged out and
logged in, with arbitrary path parameters, query strings, headers and bodies (forms, multipart,
raw bytes). The first test enumerates ``app.routes``: a new route that is in neither set fails it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from services.intake.openapi import document
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.security.live import TOKEN, intake_app, live

MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "25"))

# Served but not in the OpenAPI document: the dashboard, a browser UI. Each with the form
# fields its handler reads, so generated forms sometimes carry them.
HTML_ROUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/dashboard"): (),
    ("GET", "/dashboard/login"): (),
    ("POST", "/dashboard/login"): ("token",),
    ("POST", "/dashboard/logout"): (),
    ("GET", "/dashboard/stream"): (),
    ("GET", "/dashboard/leads/{lead_id}"): (),
    ("GET", "/dashboard/review"): (),
    ("POST", "/dashboard/review/{lead_id}"): ("action", "status", "tier", "owner", "note"),
    ("GET", "/dashboard/charts"): (),
    ("GET", "/dashboard/drift"): (),
    ("GET", "/dashboard/dlq"): (),
    ("POST", "/dashboard/dlq/replay"): ("ref",),
}
# Values the handlers act on, so generated forms also get past validation to the work itself.
MEANINGFUL = {
    "action": ["approve", "override"],
    "status": ["qualified", "unqualified"],
    "tier": ["hot", "nurture"],
    "owner": ["ana.garcia"],
    "ref": ["all", "0:1"],
    "token": [TOKEN],
}
TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/|\w+Error: ")


def served() -> set[tuple[str, str]]:
    """(method, path) of every route of an app with every role; HEAD is the GET handler's."""
    app = create_app(Settings(api_token="t", config_dir=CONFIG_DIR), ("intake", "qualifier", "writer"))
    found = set()
    for route in app.routes:
        assert isinstance(route, Route), f"{route!r}: a route kind this test does not know how to fuzz"
        found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def documented() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document()["paths"].items() for method in item}


def test_every_served_route_is_fuzzed_here_or_by_schemathesis() -> None:
    routes, in_document = served(), documented()
    assert in_document - routes == set(), "documented but not served"
    assert in_document & set(HTML_ROUTES) == set(), "fuzzed twice: drop it from HTML_ROUTES"
    missing = routes - in_document - set(HTML_ROUTES)
    assert not missing, f"served, but neither in the OpenAPI document nor in HTML_ROUTES: {sorted(missing)}"


@dataclass(frozen=True)
class Login:
    cookie: str  # "leadflow_dashboard=..."
    csrf: str


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Login]]:
    with (
        live(intake_app(Path(tmp_path_factory.mktemp("routes")))) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        response = client.post("/dashboard/login", data={"token": TOKEN}, follow_redirects=True)
        assert response.status_code == 200, response.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', response.text)
        assert csrf is not None, response.text
        login = Login(f"leadflow_dashboard={client.cookies['leadflow_dashboard']}", csrf.group(1))
        client.cookies.clear()
        yield client, login


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
LATIN1 = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
HEADERS = st.dictionaries(
    st.sampled_from(["Origin", "Referer", "Accept", "Cookie", "HX-Request", "X-Forwarded-Proto",
                     "Accept-Language", "If-None-Match", "X-Requested-With"]),
    LATIN1,
    max_size=3,
)  # fmt: skip
CONTENT_TYPES = st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data",
                                 "multipart/form-data; boundary=xyz", "application/json", "text/plain",
                                 "application/x-www-form-urlencoded; charset=latin-1", ""])  # fmt: skip


@st.composite
def requests(draw: st.DrawFn, method: str, path: str, fields: tuple[str, ...]) -> dict[str, object]:
    url = re.sub(r"\{\w+\}", lambda _: quote(draw(TEXT.filter(bool)), safe=""), path)
    query = draw(st.dictionaries(TEXT, TEXT, max_size=3))
    headers = dict(draw(HEADERS))
    request: dict[str, object] = {"method": method, "url": url + ("?" + urlencode(query) if query else "")}
    if method == "POST":
        values = {f: st.one_of(TEXT, st.sampled_from(MEANINGFUL.get(f, [""]))) for f in (*fields, "csrf")}
        form = {**draw(st.fixed_dictionaries({}, optional=values)),
                **draw(st.dictionaries(TEXT, TEXT, max_size=2))}  # fmt: skip
        kind = draw(st.sampled_from(["form", "multipart", "raw"]))
        if kind == "form":
            request["data"] = form
        elif kind == "multipart":
            request["files"] = {name: (None, value) for name, value in form.items() if name} or {
                "x": (None, "")
            }
        else:
            request["content"] = draw(st.binary(max_size=200))
            headers["Content-Type"] = draw(CONTENT_TYPES)
    request["headers"] = headers
    return request


@pytest.mark.parametrize(("method", "path"), sorted(HTML_ROUTES))
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_no_html_route_fails_on_generated_input(
    dashboard: tuple[httpx.Client, Login], method: str, path: str, data: st.DataObject
) -> None:
    client, login = dashboard
    request = data.draw(requests(method, path, HTML_ROUTES[(method, path)]))
    headers: dict[str, str] = request.pop("headers")  # type: ignore[assignment]
    mostly = st.sampled_from([True, True, True, False])
    if data.draw(mostly, label="logged in"):
        headers["Cookie"] = login.cookie
        if data.draw(mostly, label="with the CSRF token") and method == "POST":
            if "data" in request:
                request["data"] = {**request["data"], "csrf": login.csrf}  # type: ignore[dict-item]
            elif "files" in request:
                request["files"] = {**request["files"], "csrf": (None, login.csrf)}  # type: ignore[dict-item]
    try:
        raw = {name: value.encode("latin-1") for name, value in headers.items()}  # obs-text too
        response = client.request(**request, headers=raw)  # type: ignore[arg-type]
    finally:
        client.cookies.clear()  # each example brings its own cookie, or none
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: which paths were reached
    assert response.status_code < 500, (response.status_code, request, response.text[:500])
    assert not TRACE.search(response.text), response.text[:2000]
