"""LinkedIn Lead Gen Forms: the validation handshake and Lead Sync notifications, in the shape
learn.microsoft.com/linkedin documents (shared/api-guide/webhook-validation, marketing/lead-sync)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.errors import Unauthorized
from services.intake.sources.linkedin import challenge_response, verify
from tests.services.webhooks.conftest import NOW, SECRETS, Hooks, assert_json_error

URL = "/webhooks/linkedin"
SECRET = SECRETS["linkedin_client_secret"]
URN = "urn:li:leadGenFormResponse:1a2b3c4d-5e6f-4a1b-9c8d-7e6f5a4b3c2d-4"
CHALLENGE = "890e4665-4dfe-4ab1-b689-ed553bceeed0"  # the docs' example code


def notification(
    action: str = "CREATED", at: datetime = NOW - timedelta(seconds=20), **extra: Any
) -> dict[str, Any]:
    return {
        "type": "LEAD_ACTION",
        "leadGenFormResponse": URN,
        "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5566,3)",
        "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:511849581"},
        "associatedEntity": {"sponsoredCreative": "urn:li:sponsoredCreative:369799186"},
        "leadType": "SPONSORED",
        "leadAction": action,
        "occurredAt": int(at.timestamp() * 1000),
        **extra,
    }


def _signature(body: bytes, secret: str = SECRET) -> str:
    # The documented scheme, written out here independently of the module under test.
    return hmac.new(secret.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()


async def _post(hooks: Hooks, payload: Any, signature: str | None = None) -> Any:
    body = json.dumps(payload).encode()
    headers = {"x-li-signature": signature or _signature(body), "content-type": "application/json"}
    return await hooks.client.post(URL, content=body, headers=headers)


# Pure parts


def test_the_challenge_response_is_hex_hmac_of_the_code() -> None:
    expected = hmac.new(SECRET.encode(), CHALLENGE.encode(), hashlib.sha256).hexdigest()
    assert challenge_response(SECRET.encode(), CHALLENGE) == expected


def test_both_readings_of_the_signature_scheme_verify() -> None:
    body = json.dumps(notification()).encode()
    verify(body, {"x-li-signature": _signature(body)}, SECRET.encode())
    plain = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    verify(body, {"x-li-signature": f"hmacsha256={plain}"}, SECRET.encode())
    with pytest.raises(Unauthorized, match="missing header x-li-signature"):
        verify(body, {}, SECRET.encode())
    with pytest.raises(Unauthorized, match="does not match"):
        verify(body + b" ", {"x-li-signature": _signature(body)}, SECRET.encode())


# The handshake


async def test_the_challenge_is_answered_with_the_client_secret(hooks: Hooks) -> None:
    response = await hooks.client.get(URL, params={"challengeCode": CHALLENGE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "challengeCode": CHALLENGE,
        "challengeResponse": hmac.new(SECRET.encode(), CHALLENGE.encode(), hashlib.sha256).hexdigest(),
    }


async def test_a_challenge_without_a_code_is_400(hooks: Hooks) -> None:
    assert_json_error(await hooks.client.get(URL), 400, "malformed")


async def test_a_challenge_without_a_configured_secret_is_401(hooks: Hooks) -> None:
    hooks.app.state.settings = hooks.app.state.settings.model_copy(update={"linkedin_client_secret": None})
    response = await hooks.client.get(URL, params={"challengeCode": CHALLENGE})
    assert "LEADFLOW_LINKEDIN_CLIENT_SECRET" in assert_json_error(response, 401, "unauthorized")["detail"]


# Notifications


async def test_a_new_lead_notification_becomes_a_lead_by_its_urn(hooks: Hooks) -> None:
    response = await _post(hooks, notification())
    assert response.status_code == 202, response.text
    [event] = hooks.leads()
    assert event.source_event_id == f"{URN}:CREATED"
    lead = event.lead
    assert (lead.source, lead.source_record_id) == ("linkedin", URN)
    assert lead.identity == f"linkedin:{URN}"
    assert lead.attributes == {
        "lead_gen_form": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5566,3)",
        "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:511849581"},
        "associated_entity": {"sponsoredCreative": "urn:li:sponsoredCreative:369799186"},
        "lead_type": "SPONSORED",
        "occurred_at": notification()["occurredAt"],
    }


async def test_a_notification_id_when_sent_is_the_dedupe_key(hooks: Hooks) -> None:
    response = await _post(hooks, notification(notificationId=9123456789))
    assert response.status_code == 202
    assert hooks.leads()[0].event_id == "linkedin:9123456789"


async def test_a_replayed_notification_is_answered_200_and_published_once(hooks: Hooks) -> None:
    first = await _post(hooks, notification())
    hooks.set_now(NOW + timedelta(minutes=5))
    again = await _post(hooks, notification())
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["events"][0]["outcome"] == "duplicate"
    assert len(hooks.leads()) == 1


@pytest.mark.parametrize(
    "payload",
    [
        notification(action="DELETED"),
        {"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": [{"notificationId": 1}]},
    ],
)
async def test_other_notifications_are_accepted_and_ignored(hooks: Hooks, payload: dict[str, Any]) -> None:
    response = await _post(hooks, payload)
    assert (response.status_code, response.json()) == (202, {"events": []})
    assert hooks.published() == 0


async def test_a_wrong_signature_is_401(hooks: Hooks) -> None:
    body = json.dumps(notification()).encode()
    response = await _post(hooks, notification(), signature=_signature(body, secret="another app's secret"))
    assert_json_error(response, 401, "unauthorized")
    assert hooks.published() == 0


async def test_a_stale_occurred_at_is_401(hooks: Hooks) -> None:
    # occurredAt is the only time a lead notification carries (there is no timestamp header).
    response = await _post(hooks, notification(at=NOW - timedelta(days=3)))
    assert "occurredAt" in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


async def test_oversized_body_is_413(hooks: Hooks) -> None:
    assert_json_error(await _post(hooks, notification(padding="x" * 300_000)), 413, "too_large")
    assert hooks.published() == 0


async def test_wrong_content_type_is_415(hooks: Hooks) -> None:
    body = json.dumps(notification()).encode()
    headers = {"x-li-signature": _signature(body), "content-type": "text/plain"}
    assert_json_error(
        await hooks.client.post(URL, content=body, headers=headers), 415, "unsupported_media_type"
    )
    assert hooks.published() == 0


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b'{"type": "LEAD_', 400, "malformed"),
        (b"[" * 100 + b"]" * 100, 400, "malformed"),
        (json.dumps(notification(leadGenFormResponse="urn:li:person:123")).encode(), 422, "not_a_lead"),
        (json.dumps([notification()]).encode(), 422, "not_a_lead"),
    ],
)
async def test_malformed_content_is_refused(hooks: Hooks, payload: bytes, status: int, code: str) -> None:
    headers = {"x-li-signature": _signature(payload), "content-type": "application/json"}
    assert_json_error(await hooks.client.post(URL, content=payload, headers=headers), status, code)
    assert hooks.published() == 0
