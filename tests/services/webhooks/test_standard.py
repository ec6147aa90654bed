"""Standard Webhooks: the spec's test vector, rotation, and every way a delivery is refused."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta

import pytest

from services.errors import Unauthorized
from services.intake.signatures import secret_keys
from services.intake.sources.standard import sign, verify
from tests.services.webhooks.conftest import NOW, Hooks, assert_json_error

# The Standard Webhooks spec's own test vector (libraries' test suites use it too).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
URL = "/webhooks/standard/partner-portal"
LEAD = {"email": "ana@freight.example", "first_name": "Ana", "company": {"name": "Freight"}}


def test_the_spec_test_vector_signs_and_verifies() -> None:
    [key] = secret_keys(SPEC_SECRET)
    assert sign(key, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE}
    assert verify(SPEC_BODY, headers, [key], now=SPEC_TS + 10, window=300) == SPEC_ID


def _headers(
    body: bytes, msg_id: str = "msg_1", at: datetime = NOW, secret: str = SPEC_SECRET
) -> dict[str, str]:
    [key] = secret_keys(secret)
    ts = int(at.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(key, msg_id, ts, body),
        "content-type": "application/json",
    }


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"webhook-id": None}, "missing header webhook-id"),
        ({"webhook-timestamp": None}, "missing header webhook-timestamp"),
        ({"webhook-signature": None}, "missing header webhook-signature"),
        ({"webhook-timestamp": "hello"}, "not a Unix timestamp"),
        ({"webhook-timestamp": str(SPEC_TS - 301)}, "replay window"),
        ({"webhook-timestamp": str(SPEC_TS + 301)}, "replay window"),
        ({"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="}, "does not match"),
        ({"webhook-signature": "v2," + SPEC_SIGNATURE[3:]}, "does not match"),
    ],
)
def test_each_broken_field_is_refused_saying_which(change: dict[str, str | None], says: str) -> None:
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE}
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(Unauthorized, match=says):
        verify(SPEC_BODY, headers, secret_keys(SPEC_SECRET), now=SPEC_TS, window=300)


def test_any_of_several_signatures_and_secrets_may_match() -> None:
    old, new = SPEC_SECRET, "whsec_" + base64.b64encode(b"a newer secret for rotation").decode()
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TS),
        "webhook-signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + SPEC_SIGNATURE,
    }
    assert verify(SPEC_BODY, headers, secret_keys(f"{new} {old}"), now=SPEC_TS, window=300) == SPEC_ID


async def test_a_signed_lead_is_published_with_its_source_and_id(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    response = await hooks.client.post(URL, content=body, headers=_headers(body, "msg_42"))
    assert response.status_code == 202, response.text
    [event] = hooks.leads()
    assert (event.event_id, event.source_event_id) == ("partner-portal:msg_42", "msg_42")
    assert event.lead.source == "partner-portal"
    assert event.lead.person.email == "ana@freight.example" and event.lead.company.name == "Freight"
    assert response.json()["events"] == [
        {"event_id": "partner-portal:msg_42", "lead_id": event.lead_id, "outcome": "published"}
    ]


async def test_a_replayed_id_is_answered_200_and_published_once(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    first = await hooks.client.post(URL, content=body, headers=_headers(body, "msg_7"))
    again = await hooks.client.post(
        URL, content=body, headers=_headers(body, "msg_7", NOW + timedelta(seconds=30))
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["events"][0]["outcome"] == "duplicate"
    assert len(hooks.leads()) == 1


async def test_wrong_signature_is_401(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    other = "whsec_" + base64.b64encode(b"not the partner's secret").decode()
    response = await hooks.client.post(URL, content=body, headers=_headers(body, secret=other))
    assert_json_error(response, 401, "unauthorized")
    assert hooks.published() == 0


async def test_a_webhook_id_too_long_to_key_an_event_is_400(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    response = await hooks.client.post(URL, content=body, headers=_headers(body, msg_id="m" * 300))
    assert "delivery id is 300 characters" in assert_json_error(response, 400, "malformed")["detail"]
    assert hooks.published() == 0


async def test_stale_timestamp_is_401(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    response = await hooks.client.post(
        URL, content=body, headers=_headers(body, at=NOW - timedelta(minutes=6))
    )
    assert "replay window" in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


async def test_oversized_body_is_413(hooks: Hooks) -> None:
    body = json.dumps({**LEAD, "message": "x" * 300_000}).encode()
    assert_json_error(await hooks.client.post(URL, content=body, headers=_headers(body)), 413, "too_large")
    assert hooks.published() == 0


async def test_wrong_content_type_is_415(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    headers = {**_headers(body), "content-type": "text/plain"}
    assert_json_error(
        await hooks.client.post(URL, content=body, headers=headers), 415, "unsupported_media_type"
    )
    assert hooks.published() == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"email": ', 400, "malformed"),
        (b"[" * 100 + b"]" * 100, 400, "malformed"),
        (b'{"title": "x"}', 422, "not_a_lead"),
    ],
)
async def test_malformed_content_is_refused(hooks: Hooks, body: bytes, status: int, code: str) -> None:
    assert_json_error(await hooks.client.post(URL, content=body, headers=_headers(body)), status, code)
    assert hooks.published() == 0


async def test_an_unknown_source_is_404(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    response = await hooks.client.post("/webhooks/standard/nobody", content=body, headers=_headers(body))
    assert_json_error(response, 404, "not_found")


async def test_over_the_rate_is_429_with_retry_after(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    statuses = [
        (await hooks.client.post(URL, content=body, headers=_headers(body, f"m{i}"))).status_code
        for i in range(105)
    ]
    assert statuses[:100] == [202] * 100  # the configured burst
    limited = await hooks.client.post(URL, content=body, headers=_headers(body, "one-more"))
    assert_json_error(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    hooks.monotonic += 60  # a minute later the bucket has refilled
    assert (await hooks.client.post(URL, content=body, headers=_headers(body, "later"))).status_code == 202


async def test_bus_down_is_503_and_the_retry_is_taken(hooks: Hooks) -> None:
    body = json.dumps(LEAD).encode()
    hooks.bus.available = False
    assert_json_error(
        await hooks.client.post(URL, content=body, headers=_headers(body, "m-retry")), 503, "unavailable"
    )
    hooks.bus.available = True
    retry = await hooks.client.post(URL, content=body, headers=_headers(body, "m-retry"))
    assert retry.status_code == 202  # the failed attempt released its claim
    assert len(hooks.leads()) == 1


async def test_concurrent_repeats_publish_exactly_once_per_id(hooks: Hooks) -> None:
    """1,000 deliveries of 100 distinct ids, all at once: exactly 100 published."""
    bodies = [
        (f"burst-{i % 100}", json.dumps({**LEAD, "email": f"p{i % 100}@freight.example"}).encode())
        for i in range(1000)
    ]
    gate = asyncio.Semaphore(64)
    hooks.unlimited()  # this test is about dedupe, not rate

    async def post(msg_id: str, body: bytes) -> int:
        async with gate:
            # Generous: on a loaded disk 200 fsync'ed claims queue up; this test is about exactness.
            response = await hooks.client.post(URL, content=body, headers=_headers(body, msg_id), timeout=120)
            return response.status_code

    statuses = await asyncio.gather(*(post(msg_id, body) for msg_id, body in bodies))
    assert len(hooks.leads()) == 100
    assert {e.source_event_id for e in hooks.leads()} == {f"burst-{i}" for i in range(100)}
    assert statuses.count(202) == 100 and set(statuses) <= {200, 202, 409}


async def test_a_per_source_replay_window_in_sources_yaml_is_honoured(hooks: Hooks) -> None:
    config = hooks.app.state.container.config
    wide = config.sources.standard["partner-portal"].model_copy(update={"replay_window_seconds": 3600})
    sources = config.sources.model_copy(update={"standard": {"partner-portal": wide}})
    hooks.app.state.container.config = config.model_copy(update={"sources": sources})
    body = json.dumps(LEAD).encode()
    response = await hooks.client.post(
        URL, content=body, headers=_headers(body, at=NOW - timedelta(minutes=30))
    )
    assert response.status_code == 202, response.text
