"""Typeform (deploy/config/sources.yaml typeform.demo-request), payloads in Typeform's documented shape
(typeform.com/developers/webhooks/example-payload)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.errors import Unauthorized
from services.intake.sources.typeform import answer_value, sign, verify
from tests.services.webhooks.conftest import NOW, SECRETS, Hooks, assert_json_error

URL = "/webhooks/typeform/demo-request"
SECRET = SECRETS["typeform_secret"]


def _field(ref: str, kind: str) -> dict[str, str]:
    return {"id": f"id_{ref}", "type": kind, "ref": ref}


def delivery(
    event_id: str = "01JD3X7Q9M2R8T5V6W4Y1Z0ABC", at: datetime = NOW - timedelta(minutes=1)
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j",
            "token": "a3a12ec67a1365927098a606107fac15",
            "landed_at": (at - timedelta(minutes=3)).isoformat().replace("+00:00", "Z"),
            "submitted_at": at.isoformat().replace("+00:00", "Z"),
            "calculated": {"score": 9},
            "hidden": {"utm_source": "linkedin", "utm_campaign": "fleet-q4"},
            "definition": {
                "id": "lT4Z3j",
                "title": "Book a demo",
                "fields": [
                    {"id": "id_full_name", "title": "Your name?", "type": "short_text", "ref": "full_name"},
                    {"id": "id_email", "title": "Work email?", "type": "email", "ref": "email"},
                ],
            },
            "answers": [
                {"type": "text", "text": "Grace Hopper Smith", "field": _field("full_name", "short_text")},
                {"type": "email", "email": "grace@navalfleet.example", "field": _field("email", "email")},
                {"type": "text", "text": "VP Operations", "field": _field("role", "short_text")},
                {"type": "text", "text": "Naval Fleet Ltd", "field": _field("company", "short_text")},
                {"type": "number", "number": 420, "field": _field("team_size", "number")},
                {
                    "type": "phone_number",
                    "phone_number": "+15551234567",
                    "field": _field("phone", "phone_number"),
                },
                {
                    "type": "choice",
                    "choice": {"label": "Routing"},
                    "field": _field("interest", "multiple_choice"),
                },
                {
                    "type": "choices",
                    "choices": {"labels": ["EU", "US"], "other": "LATAM"},
                    "field": _field("regions", "multiple_choice"),
                },
                {"type": "boolean", "boolean": True, "field": _field("consent", "yes_no")},
                {"type": "url", "url": "https://navalfleet.example", "field": _field("site", "website")},
            ],
        },
    }


def _headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    # Built here independently of the module under test, the way Typeform documents it.
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "typeform-signature": "sha256=" + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }


async def _post(hooks: Hooks, payload: Any, url: str = URL) -> Any:
    body = json.dumps(payload).encode()
    return await hooks.client.post(url, content=body, headers=_headers(body))


# Pure parts


def test_sign_matches_typeforms_documented_scheme() -> None:
    body = b'{"event_id":"LtWXD3crgy"}'
    assert sign(SECRET.encode(), body) == _headers(body)["typeform-signature"]
    verify(body, _headers(body), SECRET.encode())


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "missing header typeform-signature"),
        ({"typeform-signature": "v1,abc"}, "not 'sha256=<base64>'"),
        ({"typeform-signature": "sha256=AAAA"}, "does not match"),
    ],
)
def test_each_broken_signature_is_refused_saying_which(headers: dict[str, str], says: str) -> None:
    with pytest.raises(Unauthorized, match=says):
        verify(b"{}", headers, SECRET.encode())


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ({"type": "text", "text": "hi"}, "hi"),
        ({"type": "email", "email": "a@b.co"}, "a@b.co"),
        ({"type": "phone_number", "phone_number": "+15550001111"}, "+15550001111"),
        ({"type": "number", "number": 7}, 7),
        ({"type": "boolean", "boolean": False}, False),
        ({"type": "url", "url": "https://x.example"}, "https://x.example"),
        ({"type": "date", "date": "2026-11-30"}, "2026-11-30"),
        ({"type": "choice", "choice": {"label": "Yes"}}, "Yes"),
        ({"type": "choice", "choice": {"other": "Something else"}}, "Something else"),
        ({"type": "choices", "choices": {"labels": ["A", "B"]}}, ["A", "B"]),
        ({"type": "mystery"}, None),
    ],
)
def test_each_answer_type_gives_its_value(answer: dict[str, Any], value: Any) -> None:
    assert answer_value(answer) == value


# Over real HTTP


async def test_a_response_is_mapped_by_field_ref_into_a_lead(hooks: Hooks) -> None:
    response = await _post(hooks, delivery())
    assert response.status_code == 202, response.text
    [event] = hooks.leads()
    assert event.source_event_id == "01JD3X7Q9M2R8T5V6W4Y1Z0ABC"
    assert event.event_id == "typeform:demo-request:01JD3X7Q9M2R8T5V6W4Y1Z0ABC"
    lead = event.lead
    assert lead.source == "typeform"
    assert lead.source_record_id == "a3a12ec67a1365927098a606107fac15"
    assert (lead.person.first_name, lead.person.last_name) == ("Grace", "Hopper Smith")
    assert (lead.person.email, lead.person.title) == ("grace@navalfleet.example", "VP Operations")
    assert (lead.company.name, lead.company.employees) == ("Naval Fleet Ltd", 420)
    assert lead.attributes == {
        "form_id": "demo-request",
        "typeform_form_id": "lT4Z3j",
        "submitted_at": delivery()["form_response"]["submitted_at"],
        "hidden": {"utm_source": "linkedin", "utm_campaign": "fleet-q4"},
        "score": 9,
        "phone": "+15551234567",  # not mapped for this form: kept, not lost
        "interest": "Routing",
        "regions": ["EU", "US", "LATAM"],
        "consent": True,
        "site": "https://navalfleet.example",
    }


async def test_a_replayed_event_is_answered_200_and_published_once(hooks: Hooks) -> None:
    first = await _post(hooks, delivery())
    hooks.set_now(NOW + timedelta(minutes=20))  # Typeform's retry after 5 + 10 + ... minutes
    again = await _post(hooks, delivery())
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["events"][0]["outcome"] == "duplicate"
    assert len(hooks.leads()) == 1


async def test_without_event_id_the_response_token_dedupes(hooks: Hooks) -> None:
    payload = delivery()
    del payload["event_id"]
    assert [(await _post(hooks, payload)).status_code for _ in range(2)] == [202, 200]
    [event] = hooks.leads()
    assert event.source_event_id == "a3a12ec67a1365927098a606107fac15"


async def test_a_retry_hours_later_is_still_taken(hooks: Hooks) -> None:
    response = await _post(hooks, delivery(at=NOW - timedelta(hours=9)))
    assert response.status_code == 202


async def test_a_stale_submitted_at_is_401(hooks: Hooks) -> None:
    response = await _post(hooks, delivery(at=NOW - timedelta(days=3)))
    detail = assert_json_error(response, 401, "unauthorized")["detail"]
    assert "submitted_at" in detail and "replay window" in detail
    assert hooks.published() == 0


async def test_a_wrong_signature_is_401(hooks: Hooks) -> None:
    body = json.dumps(delivery()).encode()
    response = await hooks.client.post(URL, content=body, headers=_headers(body, secret="someone else's"))
    assert "does not match" in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


async def test_no_configured_secret_is_401(hooks: Hooks) -> None:
    hooks.app.state.settings = hooks.app.state.settings.model_copy(update={"typeform_secret": None})
    assert (
        "LEADFLOW_TYPEFORM_SECRET"
        in assert_json_error(await _post(hooks, delivery()), 401, "unauthorized")["detail"]
    )
    assert hooks.published() == 0


async def test_a_partial_response_is_accepted_and_ignored(hooks: Hooks) -> None:
    payload = {**delivery(), "event_type": "form_response_partial"}
    response = await _post(hooks, payload)
    assert (response.status_code, response.json()) == (202, {"events": []})
    assert hooks.published() == 0


async def test_oversized_body_is_413(hooks: Hooks) -> None:
    payload = delivery()
    payload["form_response"]["hidden"]["blob"] = "x" * 300_000
    assert_json_error(await _post(hooks, payload), 413, "too_large")
    assert hooks.published() == 0


async def test_wrong_content_type_is_415(hooks: Hooks) -> None:
    body = json.dumps(delivery()).encode()
    headers = {**_headers(body), "content-type": "application/x-www-form-urlencoded"}
    assert_json_error(
        await hooks.client.post(URL, content=body, headers=headers), 415, "unsupported_media_type"
    )
    assert hooks.published() == 0


def _broken(change: str) -> Any:
    payload = copy.deepcopy(delivery())
    if change == "no form_response":
        del payload["form_response"]
    elif change == "answers not a list":
        payload["form_response"]["answers"] = {"email": "x"}
    elif change == "no ids":
        del payload["event_id"]
        del payload["form_response"]["token"]
    elif change == "bad email":
        payload["form_response"]["answers"][1]["email"] = "not-an-email"
    return payload


@pytest.mark.parametrize("change", ["no form_response", "answers not a list", "no ids", "bad email"])
async def test_valid_json_that_is_not_a_response_is_422(hooks: Hooks, change: str) -> None:
    assert_json_error(await _post(hooks, _broken(change)), 422, "not_a_lead")
    assert hooks.published() == 0


@pytest.mark.parametrize("body", [b'{"event_id": ', b"[" * 100 + b"]" * 100])
async def test_malformed_json_is_400(hooks: Hooks, body: bytes) -> None:
    assert_json_error(await hooks.client.post(URL, content=body, headers=_headers(body)), 400, "malformed")
    assert hooks.published() == 0


async def test_an_unknown_form_is_404(hooks: Hooks) -> None:
    assert_json_error(await _post(hooks, delivery(), url="/webhooks/typeform/nope"), 404, "not_found")
    assert hooks.published() == 0
