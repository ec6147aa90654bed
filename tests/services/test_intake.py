"""The lead API over real HTTP: each bad input gets its status and a JSON error, nothing published."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from connectors.bus.memory import MemoryBus
from schemas.events import TOPIC_RECEIVED, LeadReceived
from services.bootstrap import bootstrap
from services.logs import configure
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.connectors.store.examples import routed
from tests.examples import EXAMPLE
from tests.servers import serve

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Intake:
    client: httpx.AsyncClient
    bus: MemoryBus
    app: Starlette

    def published(self) -> list[LeadReceived]:
        return [LeadReceived.model_validate_json(v) for v in self.bus.values(TOPIC_RECEIVED)]


@pytest.fixture
async def intake(tmp_path: Path) -> AsyncIterator[Intake]:
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR, max_body_bytes=8192)
    bus = MemoryBus()
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=bus))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Intake(client, bus, app)


async def test_accepts_the_example_lead_and_publishes_it(intake: Intake) -> None:
    response = await intake.client.post("/v1/leads", json=EXAMPLE, headers=AUTH)
    assert response.status_code == 202
    body = response.json()
    [event] = intake.published()
    assert (event.event_id, event.lead_id) == (body["event_id"], body["lead_id"])
    assert event.lead.person.email == EXAMPLE["email"]
    assert event.lead.company.employees == 150
    assert intake.bus.topics[TOPIC_RECEIVED][0].key == "maria.lopez@acme-logistics.com"


async def test_extra_fields_are_kept_in_attributes(intake: Intake) -> None:
    response = await intake.client.post("/v1/leads", json={**EXAMPLE, "utm_campaign": "q4"}, headers=AUTH)
    assert response.status_code == 202
    assert intake.published()[0].lead.attributes == {"utm_campaign": "q4"}


async def test_an_idempotency_key_makes_retries_publish_once(intake: Intake) -> None:
    headers = {**AUTH, "Idempotency-Key": "form-42"}
    first = await intake.client.post("/v1/leads", json=EXAMPLE, headers=headers)
    again = await intake.client.post("/v1/leads", json=EXAMPLE, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json() == again.json() and first.json()["event_id"] == "api:form-42"
    [event] = intake.published()
    assert event.source_event_id == "form-42"


def _assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}],
)
async def test_missing_or_wrong_token_is_401(intake: Intake, headers: dict[str, str]) -> None:
    _assert_error(await intake.client.post("/v1/leads", json=EXAMPLE, headers=headers), 401, "unauthorized")
    assert intake.published() == []


async def test_malformed_json_is_400(intake: Intake) -> None:
    response = await intake.client.post(
        "/v1/leads", content=b'{"email": ', headers={**AUTH, "Content-Type": "application/json"}
    )
    _assert_error(response, 400, "malformed")
    assert intake.published() == []


async def test_deeply_nested_json_is_400(intake: Intake) -> None:
    body = "[" * 200 + "]" * 200
    response = await intake.client.post(
        "/v1/leads", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    _assert_error(response, 400, "malformed")


async def test_wrong_content_type_is_415(intake: Intake) -> None:
    response = await intake.client.post("/v1/leads", data={"email": "a@b.co"}, headers=AUTH)
    _assert_error(response, 415, "unsupported_media_type")
    assert intake.published() == []


async def test_oversized_body_is_413_by_declared_length(intake: Intake) -> None:
    big = {**EXAMPLE, "message": "x" * 10_000}
    _assert_error(await intake.client.post("/v1/leads", json=big, headers=AUTH), 413, "too_large")
    assert intake.published() == []


async def test_oversized_chunked_body_is_413(intake: Intake) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a@b.co", "message": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}'

    response = await intake.client.post(
        "/v1/leads", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    _assert_error(response, 413, "too_large")
    assert intake.published() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"first_name": "Nobody"}, "(body)"),
        ({"email": "not-an-email"}, "person.email"),
        ({"email": "a@b.co", "company": {"employees": -3}}, "company.employees"),
        ({"email": "a@b.co", "activities": [{"url": "/x"}]}, "activities.0.type"),
    ],
)
async def test_schema_violation_is_422_naming_the_field(
    intake: Intake, body: dict[str, object], field: str
) -> None:
    response = await intake.client.post("/v1/leads", json=body, headers=AUTH)
    error = _assert_error(response, 422, "not_a_lead")
    assert field in [f["field"] for f in error["fields"]]  # type: ignore[index,union-attr]
    assert intake.published() == []


async def test_a_json_array_is_422(intake: Intake) -> None:
    _assert_error(await intake.client.post("/v1/leads", json=[EXAMPLE], headers=AUTH), 422, "not_a_lead")


async def test_bus_down_is_503_with_retry_after(intake: Intake) -> None:
    intake.bus.available = False
    response = await intake.client.post("/v1/leads", json=EXAMPLE, headers=AUTH)
    _assert_error(response, 503, "unavailable")
    assert response.headers["retry-after"]
    ready = await intake.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["bus"].startswith("unavailable")


async def test_health_and_readiness(intake: Intake) -> None:
    assert (await intake.client.get("/healthz")).json() == {"status": "ok"}
    ready = await intake.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"bus": "ok", "store": "ok"}


async def test_unknown_route_and_method_are_json(intake: Intake) -> None:
    _assert_error(await intake.client.get("/nope"), 404, "not_found")
    _assert_error(await intake.client.delete("/v1/leads", headers=AUTH), 405, "method_not_allowed")


async def test_unknown_lead_is_404(intake: Intake) -> None:
    _assert_error(await intake.client.get("/v1/leads/unknown", headers=AUTH), 404, "not_found")


async def test_reading_leads_needs_the_token(intake: Intake) -> None:
    _assert_error(await intake.client.get("/v1/leads"), 401, "unauthorized")


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "limit=0",
        "limit=abc",
        "colour=blue",
        # Valid ISO 8601 whose UTC time is outside what a datetime holds: was a 500.
        "since=9999-12-31T23:59:59-01:00",
        "since=0001-01-01T00:00:00%2B01:00",
        "status=Qualified",  # statuses are lower-case: it answered an empty list
        "limit=1001",
        "after=not-a-cursor",
        "after=WyJ5ZXN0ZXJkYXkiLCJsZWFkLTEiXQ",  # a cursor whose time is not a time
        "after=" + "W1tb" * 1000,  # a cursor of 3000 nested lists: json.loads hit the recursion limit (500)
    ],
)
async def test_bad_list_query_is_400(intake: Intake, query: str) -> None:
    _assert_error(await intake.client.get(f"/v1/leads?{query}", headers=AUTH), 400, "malformed")


async def test_pii_never_reaches_the_log(intake: Intake, capsys: pytest.CaptureFixture[str]) -> None:
    configure("info")
    await intake.client.post("/v1/leads", json=EXAMPLE, headers=AUTH)
    await intake.client.post(
        "/v1/leads", json={"email": "not-an-email", "phone": "+34 600 123 456"}, headers=AUTH
    )
    logged = capsys.readouterr().err
    assert '"accepted"' in logged
    assert "maria.lopez" not in logged and "600 123 456" not in logged
    for line in filter(None, logged.splitlines()):
        json.loads(line)


async def test_an_idempotency_key_reused_for_another_lead_is_409(intake: Intake) -> None:
    headers = {**AUTH, "Idempotency-Key": "k-1"}
    assert (await intake.client.post("/v1/leads", json=EXAMPLE, headers=headers)).status_code == 202
    other = await intake.client.post(
        "/v1/leads", json={**EXAMPLE, "email": "bob@other.example"}, headers=headers
    )
    assert "different content" in _assert_error(other, 409, "replayed")["detail"]  # type: ignore[operator]
    assert len(intake.published()) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "a@b.co", "n": ' + b"1" * 5000 + b"}",  # int over Python's digit limit
        b"[" * 400 + b"]" * 400,
        b'{"email": "a@b.co", "x": "\\ud800"}',  # a lone surrogate
    ],
)
async def test_hostile_json_is_400_not_500(intake: Intake, body: bytes) -> None:
    response = await intake.client.post(
        "/v1/leads", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    _assert_error(response, 400, "malformed")
    assert intake.published() == []


async def test_a_non_ascii_digit_limit_is_400(intake: Intake) -> None:
    _assert_error(await intake.client.get("/v1/leads?limit=\u00b2", headers=AUTH), 400, "malformed")


async def test_the_list_pages_on_with_the_next_cursor(intake: Intake) -> None:
    for n in range(1, 6):
        await intake.app.state.container.store.record_decision(routed(n))
    seen, after = [], None
    while True:
        query = {"limit": "2"} | ({"after": after} if after else {})
        body = (await intake.client.get("/v1/leads", params=query, headers=AUTH)).json()
        seen += [lead["lead_id"] for lead in body["leads"]]
        assert body["count"] == len(body["leads"])
        after = body["next"]
        if after is None:
            break
    assert seen == [f"lead-{n}" for n in range(5, 0, -1)]
    whole = (await intake.client.get("/v1/leads", params={"limit": "5"}, headers=AUTH)).json()
    assert whole["count"] == 5 and whole["next"] is None


async def test_a_tier_no_config_or_decision_has_is_400_naming_the_tiers(intake: Intake) -> None:
    store = intake.app.state.container.store
    await store.record_decision(routed(1))
    old = routed(2).model_copy(
        update={"evaluation": routed(2).evaluation.model_copy(update={"tier": "gold"})}
    )
    await store.record_decision(old)  # decided under a config whose tiers had other names
    typo = await intake.client.get("/v1/leads?tier=typo", headers=AUTH)
    assert "hot, warm, nurture, disqualified" in _assert_error(typo, 400, "malformed")["detail"]  # type: ignore[operator]
    gold = (await intake.client.get("/v1/leads?tier=gold", headers=AUTH)).json()
    assert [lead["lead_id"] for lead in gold["leads"]] == ["lead-2"]
    warm = await intake.client.get("/v1/leads?tier=warm", headers=AUTH)  # configured, none yet
    assert warm.status_code == 200 and warm.json()["leads"] == []


async def test_wrong_tokens_from_one_address_are_limited_and_right_ones_cost_nothing(
    intake: Intake, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("info")
    moment = [0.0]
    intake.app.state.monotonic = lambda: moment[0]
    for _ in range(20):  # successes are never counted
        assert (await intake.client.get("/v1/leads", headers=AUTH)).status_code == 200
    wrong = {"Authorization": "Bearer guess-1234"}
    for _ in range(10):
        _assert_error(await intake.client.get("/v1/leads", headers=wrong), 401, "unauthorized")
    limited = await intake.client.get("/v1/leads", headers=wrong)
    assert "wrong tokens" in _assert_error(limited, 429, "rate_limited")["detail"]  # type: ignore[operator]
    assert limited.headers["retry-after"] == "6" and "guess-1234" not in limited.text
    # While limited even the right token is refused unread: a right guess must look like a wrong one.
    _assert_error(await intake.client.get("/v1/leads", headers=AUTH), 429, "rate_limited")
    moment[0] += 6
    assert (await intake.client.get("/v1/leads", headers=AUTH)).status_code == 200
    assert "guess-1234" not in capsys.readouterr().err


@contextlib.asynccontextmanager
async def behind_a_proxy_trusted_as_any(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The intake as deploy/k8s runs it: LEADFLOW_FORWARDED_ALLOW_IPS='*', wrapped as uvicorn does."""
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR, forwarded_allow_ips="*")
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=MemoryBus()))
    async with (
        serve(ProxyHeadersMiddleware(app, trusted_hosts="*")) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        yield client


async def listed(client: httpx.AsyncClient, token: str, forwarded_for: str) -> int:
    """GET /v1/leads's status with this bearer token, from behind a proxy naming ``forwarded_for``."""
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded_for}
    return (await client.get("/v1/leads", headers=headers)).status_code


async def test_behind_a_proxy_trusted_as_any_the_client_cannot_name_its_own_address(tmp_path: Path) -> None:
    # deploy/k8s trusts every proxy ('*'), and uvicorn then takes the leftmost X-Forwarded-For
    # entry: the one the client wrote. A new made-up address per guess had a new budget each, and
    # a victim's address written there locked the victim out. The ingress appends the real one.
    async with behind_a_proxy_trusted_as_any(tmp_path) as client:
        for n in range(10):
            assert await listed(client, "guess-1234", f"10.9.9.{n}, 203.0.113.7") == 401
        assert await listed(client, "guess-1234", "10.9.9.99, 203.0.113.7") == 429
        assert await listed(client, TOKEN, "10.9.9.0, 198.51.100.4") == 200  # the victim


async def test_a_missing_bearer_header_is_a_plain_401_and_not_counted(intake: Intake) -> None:
    for _ in range(20):
        _assert_error(await intake.client.get("/v1/leads"), 401, "unauthorized")
        _assert_error(
            await intake.client.get("/v1/leads", headers={"Authorization": "Basic eDp5"}), 401, "unauthorized"
        )
    assert (await intake.client.get("/v1/leads", headers=AUTH)).status_code == 200


async def test_guesses_from_one_ipv6_network_share_one_budget(tmp_path: Path) -> None:
    # An IPv6 client holds a whole /64 (2^64 addresses): counted per address, each guess from a
    # new one had a fresh budget.
    async with behind_a_proxy_trusted_as_any(tmp_path) as client:
        for n in range(1, 11):
            assert await listed(client, "guess-1234", f"2001:db8:0:7::{n:x}") == 401
        assert await listed(client, "guess-1234", "2001:db8:0:7:ffff::1") == 429
        assert await listed(client, TOKEN, "2001:db8:0:8::1") == 200  # another network
