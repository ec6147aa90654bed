"""HubSpot webhooks: HubSpot's documented signature examples, v1/v2/v3 end to end, batches, and
every way a delivery is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.lead import lead_id_for
from schemas.sources import HubSpotSource
from services.errors import NotALead, Unauthorized
from services.intake.openapi import document
from services.intake.sources.hubspot import (
    contact_feedback,
    parse_batch,
    sign_v1,
    sign_v2,
    sign_v3,
    signed_uri,
    v3_uri,
    verify,
)
from tests.services.webhooks.conftest import NOW, SECRETS, Hooks, assert_json_error

URL = "/webhooks/hubspot"
# The placeholder client secret of HubSpot's own examples, which the hooks fixture also uses.
SECRET: str = SECRETS["hubspot_client_secret"]

# HubSpot "Validating requests", v1 example (a webhook batch): body and expected X-HubSpot-Signature.
DOC_V1_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)
DOC_V1_SIGNATURE = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
# The same page, v2 examples: a GET without a body and a POST with one.
DOC_V2_URI = "https://www.example.com/webhook_uri"
DOC_V2_GET = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
DOC_V2_POST_BODY = b'{"example_field":"example_value"}'
DOC_V2_POST = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"

# ../shared/contracts/hubspot/webhook-events.example.json, as HubSpot would send it.
CONTRACT_BATCH = [
    {
        "eventId": 3816279340, "subscriptionId": 25, "portalId": 33, "appId": 1160452,
        "occurredAt": 1462216307945, "subscriptionType": "contact.creation", "attemptNumber": 0,
        "objectId": 1246978, "changeFlag": "NEW", "changeSource": "FORM",
    },
    {
        "eventId": 3816279341, "subscriptionId": 26, "portalId": 33, "appId": 1160452,
        "occurredAt": 1462216307950, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": 1246978, "propertyName": "lifecyclestage", "propertyValue": "lead",
        "changeSource": "CRM_UI", "sourceId": "userId:45678",
    },
]  # fmt: skip


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def creation(event_id: int, object_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id, "subscriptionId": 25, "portalId": 62515, "appId": 54321,
        "occurredAt": _ms(NOW) - 2000, "subscriptionType": "contact.creation", "attemptNumber": 0,
        "objectId": object_id, "changeFlag": "NEW", "changeSource": "CRM", **extra,
    }  # fmt: skip


def change(event_id: int, object_id: int, prop: str, value: str, kind: str = "contact") -> dict[str, Any]:
    return {
        "eventId": event_id, "subscriptionId": 26, "portalId": 62515, "appId": 54321,
        "occurredAt": _ms(NOW) - 1000, "subscriptionType": f"{kind}.propertyChange", "attemptNumber": 0,
        "objectId": object_id, "propertyName": prop, "propertyValue": value, "changeSource": "CRM_UI",
    }  # fmt: skip


def v3_headers(hooks: Hooks, body: bytes, at: datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(_ms(at))
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", hooks.base_url + URL, body, timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


async def post(hooks: Hooks, events: Any, at: datetime = NOW) -> Any:
    body = json.dumps(events).encode()
    return await hooks.client.post(URL, content=body, headers=v3_headers(hooks, body, at))


def use(hooks: Hooks, **changes: Any) -> None:
    """Run the app with other sources.hubspot settings, as a config reload would."""
    container = hooks.app.state.container
    config = container.config
    hubspot = HubSpotSource.model_validate({**config.sources.hubspot.model_dump(), **changes})
    sources = config.sources.model_copy(update={"hubspot": hubspot})
    container.config = config.model_copy(update={"sources": sources})


# --- signatures as pure functions -------------------------------------------------------------


def test_the_documented_v1_example_signs_and_verifies() -> None:
    assert sign_v1(SECRET, DOC_V1_BODY) == DOC_V1_SIGNATURE
    headers = {"x-hubspot-signature": DOC_V1_SIGNATURE, "x-hubspot-signature-version": "v1"}
    verify("v1", SECRET, method="POST", uri="ignored by v1", body=DOC_V1_BODY, headers=headers, now=0)


def test_the_documented_v2_examples_sign_and_verify() -> None:
    assert sign_v2(SECRET, "GET", DOC_V2_URI, b"") == DOC_V2_GET
    assert sign_v2(SECRET, "POST", DOC_V2_URI, DOC_V2_POST_BODY) == DOC_V2_POST
    headers = {"x-hubspot-signature": DOC_V2_POST, "x-hubspot-signature-version": "v2"}
    verify("v2", SECRET, method="POST", uri=DOC_V2_URI, body=DOC_V2_POST_BODY, headers=headers, now=0)


def test_v3_is_base64_hmac_of_method_uri_body_and_timestamp() -> None:
    # Computed independently of the module, straight from HubSpot's description.
    message = b"POST" + DOC_V2_URI.encode() + DOC_V1_BODY + b"1564113600000"
    expected = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()
    assert sign_v3(SECRET, "POST", DOC_V2_URI, DOC_V1_BODY, "1564113600000") == expected
    headers = {"x-hubspot-signature-v3": expected, "x-hubspot-request-timestamp": "1564113600000"}
    verify("v3", SECRET, method="POST", uri=DOC_V2_URI, body=DOC_V1_BODY, headers=headers, now=1564113660)


def test_v3_signs_the_uri_with_hubspots_listed_escapes_decoded() -> None:
    uri = "https://leads.example/webhooks/hubspot?a=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B&b=%20%26%3a"
    decoded = "https://leads.example/webhooks/hubspot?a=:/?@!$'()*,;&b=%20%26:"  # %20, %26 stay
    assert v3_uri(uri) == decoded
    raw = b"POST" + decoded.encode() + b"[]" + b"1"
    expected = base64.b64encode(hmac.new(b"k", raw, hashlib.sha256).digest()).decode()
    assert sign_v3("k", "POST", uri, b"[]", "1") == expected


def test_the_signed_uri_is_the_public_url_when_set() -> None:
    public = HubSpotSource.model_validate({"public_url": "https://leads.example/webhooks/hubspot"}).public_url
    assert (
        signed_uri("http://10.0.0.7:8000/webhooks/hubspot", public)
        == "https://leads.example/webhooks/hubspot"
    )
    assert (
        signed_uri("http://10.0.0.7:8000/webhooks/hubspot", None) == "http://10.0.0.7:8000/webhooks/hubspot"
    )


V3_TS = "1564113600000"
V3_GOOD = sign_v3(SECRET, "POST", DOC_V2_URI, DOC_V1_BODY, V3_TS)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"x-hubspot-signature-v3": None}, "missing header x-hubspot-signature-v3"),
        ({"x-hubspot-request-timestamp": None}, "missing header x-hubspot-request-timestamp"),
        ({"x-hubspot-request-timestamp": "2019-07-26"}, "not a Unix time in milliseconds"),
        ({"x-hubspot-request-timestamp": str(int(V3_TS) - 301_000)}, "replay window"),
        ({"x-hubspot-request-timestamp": str(int(V3_TS) + 301_000)}, "replay window"),
        ({"x-hubspot-request-timestamp": str(int(V3_TS) + 1)}, "does not match"),
        (
            {"x-hubspot-signature-v3": sign_v3("other", "POST", DOC_V2_URI, DOC_V1_BODY, V3_TS)},
            "does not match",
        ),
        (
            {"x-hubspot-signature-v3": sign_v3(SECRET, "PUT", DOC_V2_URI, DOC_V1_BODY, V3_TS)},
            "does not match",
        ),
        (
            {"x-hubspot-signature-v3": sign_v3(SECRET, "POST", DOC_V2_URI + "/", DOC_V1_BODY, V3_TS)},
            "does not match",
        ),
        ({"x-hubspot-signature-v3": sign_v3(SECRET, "POST", DOC_V2_URI, b"[]", V3_TS)}, "does not match"),
    ],
)
def test_each_broken_v3_field_is_refused_saying_which(change: dict[str, str | None], says: str) -> None:
    headers = {"x-hubspot-signature-v3": V3_GOOD, "x-hubspot-request-timestamp": V3_TS}
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(Unauthorized, match=says):
        verify("v3", SECRET, method="POST", uri=DOC_V2_URI, body=DOC_V1_BODY, headers=headers, now=1564113600)


@pytest.mark.parametrize(
    ("version", "headers", "says"),
    [
        ("v1", {}, "missing header x-hubspot-signature"),
        ("v1", {"x-hubspot-signature": DOC_V1_SIGNATURE[:-1] + "f"}, "does not match"),
        ("v1", {"x-hubspot-signature": DOC_V1_SIGNATURE, "x-hubspot-signature-version": "v2"}, "is 'v2'"),
        ("v2", {"x-hubspot-signature": DOC_V1_SIGNATURE}, "does not match"),  # a v1 signature is not v2
    ],
)
def test_each_broken_v1_or_v2_field_is_refused(version: Any, headers: dict[str, str], says: str) -> None:
    with pytest.raises(Unauthorized, match=says):
        verify(version, SECRET, method="POST", uri=DOC_V2_URI, body=DOC_V1_BODY, headers=headers, now=0)


def test_a_batch_keeps_unknown_event_types_and_refuses_what_is_not_one() -> None:
    [known, other] = parse_batch(
        [creation(1, 2), {"eventId": 9, "subscriptionType": "conversation.creation"}]
    )
    assert (known.event_id, known.object_id, other.object_id) == (1, 2, None)
    for bad in (
        {"eventId": 1},
        [],
        [1],
        [{"subscriptionType": "contact.creation"}],
        [creation(i, i) for i in range(101)],
    ):
        with pytest.raises(NotALead):
            parse_batch(bad)


def test_feedback_keys_like_the_contacts_lead() -> None:
    [event] = parse_batch([change(7, 1246978, "hs_lead_status", "UNQUALIFIED")])
    feedback = contact_feedback(event, NOW)
    assert feedback.lead_id == lead_id_for("hubspot:1246978")
    assert feedback.occurred_at == datetime.fromtimestamp((_ms(NOW) - 1000) / 1000, UTC)


# --- end to end -------------------------------------------------------------------------------


async def test_the_contract_batch_becomes_a_lead_and_a_feedback(hooks: Hooks) -> None:
    hooks.set_now(datetime(2016, 5, 2, 19, 11, 50, tzinfo=UTC))  # when the example was sent
    response = await post(hooks, CONTRACT_BATCH, at=hooks.now)
    assert response.status_code == 202, response.text
    [lead] = hooks.leads()
    assert (lead.event_id, lead.source_event_id) == ("hubspot:3816279340:33:1246978", "3816279340:33:1246978")
    assert lead.lead_id == lead_id_for("hubspot:1246978")
    assert lead.lead.source == "hubspot" and lead.lead.source_record_id == "1246978"
    assert lead.lead.attributes == {"hubspot_portal_id": 33, "change_source": "FORM"}
    assert lead.received_at == hooks.now
    [feedback] = hooks.feedback()
    assert feedback.model_dump(exclude={"schema_version", "type"}) == {
        "event_id": "hubspot:3816279341:33:1246978:lifecyclestage",
        "lead_id": lead.lead_id,  # the same lead as the contact's creation
        "received_at": hooks.now,
        "source": "hubspot",
        "source_event_id": "3816279341:33:1246978:lifecyclestage",
        "object_id": "1246978",
        "property": "lifecyclestage",
        "value": "lead",
        "occurred_at": datetime(2016, 5, 2, 19, 11, 47, 950000, tzinfo=UTC),
        "kind": None,  # lifecyclestage 'lead' is neither a correction nor an outcome
        "label": None,
    }
    body = response.json()
    assert body["ignored"] == 0
    assert [e["outcome"] for e in body["events"]] == ["published", "published"]
    assert hooks.bus.topics["leads.received"][0].key == "hubspot:1246978"
    assert hooks.bus.topics["leads.feedback"][0].key == lead.lead_id


async def test_the_documented_v1_example_is_accepted_end_to_end(hooks: Hooks) -> None:
    use(hooks, signature_version="v1")
    hooks.set_now(datetime(2019, 7, 26, 4, 0, 5, tzinfo=UTC))  # v1 has no timestamp: time is moot
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature": DOC_V1_SIGNATURE,
        "X-HubSpot-Signature-Version": "v1",
    }
    response = await hooks.client.post(URL, content=DOC_V1_BODY, headers=headers)
    assert response.status_code == 202, response.text
    [event] = hooks.leads()
    assert (event.event_id, event.lead.source_record_id) == ("hubspot:1:62515:123", "123")
    assert event.lead.attributes == {"hubspot_portal_id": 62515, "change_source": "CRM"}
    tampered = DOC_V1_BODY.replace(b'"objectId":123', b'"objectId":124')
    assert_json_error(await hooks.client.post(URL, content=tampered, headers=headers), 401, "unauthorized")
    assert len(hooks.leads()) == 1


async def test_v2_signs_the_request_url_or_the_public_url(hooks: Hooks) -> None:
    use(hooks, signature_version="v2")
    body = json.dumps([creation(21, 2101)]).encode()
    local = {"Content-Type": "application/json", "X-HubSpot-Signature-Version": "v2"}
    signed = {**local, "X-HubSpot-Signature": sign_v2(SECRET, "POST", hooks.base_url + URL, body)}
    assert (await hooks.client.post(URL, content=body, headers=signed)).status_code == 202

    public = "https://leads.northwind-ops.example/webhooks/hubspot"
    use(hooks, signature_version="v2", public_url=public)
    body = json.dumps([creation(22, 2202)]).encode()
    by_request_url = {**local, "X-HubSpot-Signature": sign_v2(SECRET, "POST", hooks.base_url + URL, body)}
    assert_json_error(await hooks.client.post(URL, content=body, headers=by_request_url), 401, "unauthorized")
    by_public_url = {**local, "X-HubSpot-Signature": sign_v2(SECRET, "POST", public, body)}
    assert (await hooks.client.post(URL, content=body, headers=by_public_url)).status_code == 202
    assert [e.lead.source_record_id for e in hooks.leads()] == ["2101", "2202"]


async def test_v3_behind_a_proxy_signs_the_public_url(hooks: Hooks) -> None:
    public = "https://leads.northwind-ops.example/webhooks/hubspot"
    use(hooks, public_url=public)
    body = json.dumps([creation(31, 3101)]).encode()
    timestamp = str(_ms(NOW))
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", public, body, timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
    assert (await hooks.client.post(URL, content=body, headers=headers)).status_code == 202
    assert_json_error(
        await hooks.client.post(URL, content=body, headers=v3_headers(hooks, body)), 401, "unauthorized"
    )


async def test_a_batch_of_100_mixed_events(hooks: Hooks) -> None:
    events: list[dict[str, Any]] = []
    for i in range(20):
        events += [
            creation(1000 + i, 5000 + i),
            creation(1100 + i, 5100 + i, changeSource="IMPORT"),
            change(1200 + i, 5000 + i, "lifecyclestage" if i % 2 else "hs_lead_status", "salesqualifiedlead"),
            change(1300 + i, 5000 + i, "firstname", "Ana"),  # not a feedback property: ignored
            {**creation(1400 + i, 9000 + i), "subscriptionType": "company.creation"},  # ignored
        ]
    assert len(events) == 100
    # HubSpot gives up after 5 s: how fast a batch is answered is a benchmark's business,
    # not a timed assertion here (machines are noisy).
    response = await post(hooks, events)
    assert response.status_code == 202, response.text
    assert len(hooks.leads()) == 40 and len(hooks.feedback()) == 20
    assert response.json()["ignored"] == 40 and len(response.json()["events"]) == 60
    assert {f.property for f in hooks.feedback()} == {"lifecyclestage", "hs_lead_status"}
    assert {e.lead.source_record_id for e in hooks.leads()} == {str(5000 + i) for i in range(20)} | {
        str(5100 + i) for i in range(20)
    }


async def test_101_events_are_422(hooks: Hooks) -> None:
    response = await post(hooks, [creation(i, i) for i in range(101)])
    assert "at most 100" in assert_json_error(response, 422, "not_a_lead")["detail"]
    assert hooks.published() == 0


async def test_only_ignored_events_are_accepted_and_nothing_is_published(hooks: Hooks) -> None:
    response = await post(
        hooks, [change(41, 1, "email", "ana@freight.example"), change(42, 2, "name", "x", "company")]
    )
    assert response.status_code == 202 and response.json() == {"events": [], "ignored": 2}
    assert hooks.published() == 0


async def test_a_replayed_event_is_published_once_and_answered_2xx(hooks: Hooks) -> None:
    batch = [creation(51, 5101), change(52, 5101, "lifecyclestage", "customer")]
    first = await post(hooks, batch)
    # HubSpot's retry: same eventIds, next attemptNumber, a fresh timestamp and signature.
    retry = [{**event, "attemptNumber": 1} for event in batch]
    again = await post(hooks, retry, at=NOW + timedelta(minutes=1))
    assert (first.status_code, again.status_code) == (202, 200)
    assert [e["outcome"] for e in again.json()["events"]] == ["duplicate", "duplicate"]
    # A repeat inside one batch, next to a new event: published once, answered 202.
    mixed = await post(hooks, [creation(51, 5101), creation(53, 5301), creation(53, 5301)])
    assert mixed.status_code == 202
    assert [e["outcome"] for e in mixed.json()["events"]] == ["duplicate", "published", "duplicate"]
    assert len(hooks.leads()) == 2 and len(hooks.feedback()) == 1


async def test_an_event_id_shared_by_other_notifications_publishes_each(hooks: Hooks) -> None:
    """HubSpot documents eventId as "not guaranteed to be unique": one change can notify a creation
    and a property change under one eventId, and each portal that installed the app counts its own.
    Each notification is published (a 409 would refuse the whole batch, retried then dropped)."""
    other_portal = {**creation(61, 6201), "portalId": 99}
    batch = [creation(61, 6101), change(61, 6101, "lifecyclestage", "lead"), other_portal]
    response = await post(hooks, batch)
    assert response.status_code == 202, response.text
    assert [e["outcome"] for e in response.json()["events"]] == ["published"] * 3
    assert sorted(e.lead.source_record_id or "" for e in hooks.leads()) == ["6101", "6201"]
    assert len(hooks.feedback()) == 1
    retry = [{**event, "attemptNumber": 1} for event in batch]
    again = await post(hooks, retry, at=NOW + timedelta(minutes=1))
    assert again.status_code == 200 and hooks.published() == 3  # HubSpot's retry: each a repeat


async def test_wrong_signature_is_401(hooks: Hooks) -> None:
    body = json.dumps([creation(61, 6101)]).encode()
    headers = v3_headers(hooks, body, secret="not-the-apps-client-secret")
    assert_json_error(await hooks.client.post(URL, content=body, headers=headers), 401, "unauthorized")
    assert hooks.published() == 0


async def test_stale_timestamp_is_401(hooks: Hooks) -> None:
    body = json.dumps([creation(62, 6201)]).encode()
    headers = v3_headers(hooks, body, at=NOW - timedelta(minutes=5, seconds=1))
    response = await hooks.client.post(URL, content=body, headers=headers)
    assert "replay window" in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


async def test_no_client_secret_configured_is_401(hooks: Hooks) -> None:
    settings = hooks.app.state.settings
    hooks.app.state.settings = settings.model_copy(update={"hubspot_client_secret": None})
    response = await post(hooks, [creation(63, 6301)])
    assert "LEADFLOW_HUBSPOT_CLIENT_SECRET" in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


async def test_oversized_body_is_413(hooks: Hooks) -> None:
    big = [change(70 + i, 7000, "firstname", "x" * 120_000) for i in range(10)]  # over the 1 MiB limit
    assert_json_error(await post(hooks, big), 413, "too_large")
    assert hooks.published() == 0


async def test_wrong_content_type_is_415(hooks: Hooks) -> None:
    body = json.dumps([creation(71, 7101)]).encode()
    headers = {**v3_headers(hooks, body), "Content-Type": "application/x-www-form-urlencoded"}
    assert_json_error(
        await hooks.client.post(URL, content=body, headers=headers), 415, "unsupported_media_type"
    )
    assert hooks.published() == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'[{"eventId": ', 400, "malformed"),
        (b"[" * 100 + b"]" * 100, 400, "malformed"),
        (b'{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 1}', 422, "not_a_lead"),
        (b"[]", 422, "not_a_lead"),
        (b'["contact.creation"]', 422, "not_a_lead"),
        (b'[{"subscriptionType": "contact.creation", "objectId": 1}]', 422, "not_a_lead"),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation"}]', 422, "not_a_lead"),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation", "objectId": "abc"}]', 422, "not_a_lead"),
    ],
)
async def test_malformed_content_is_refused(hooks: Hooks, body: bytes, status: int, code: str) -> None:
    response = await hooks.client.post(URL, content=body, headers=v3_headers(hooks, body))
    assert_json_error(response, status, code)
    assert hooks.published() == 0


async def test_one_bad_event_refuses_the_whole_batch(hooks: Hooks) -> None:
    response = await post(hooks, [creation(81, 8101), {**creation(82, 8201), "objectId": None}])
    assert "event 82" in assert_json_error(response, 422, "not_a_lead")["detail"]
    assert hooks.published() == 0


async def test_bus_down_is_503_and_the_retry_is_taken(hooks: Hooks) -> None:
    batch = [creation(91, 9101), change(92, 9101, "hs_lead_status", "OPEN")]
    hooks.bus.available = False
    assert_json_error(await post(hooks, batch), 503, "unavailable")
    assert hooks.published() == 0
    hooks.bus.available = True
    retry = await post(hooks, [{**e, "attemptNumber": 1} for e in batch], at=NOW + timedelta(seconds=30))
    assert retry.status_code == 202, retry.text
    assert len(hooks.leads()) == 1 and len(hooks.feedback()) == 1


def test_the_route_is_in_the_openapi_document() -> None:
    post_op = document()["paths"]["/webhooks/hubspot"]["post"]
    schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert (schema["type"], schema["maxItems"]) == ("array", 100)
    assert {"200", "202", "400", "401", "413", "415", "422", "503"} <= set(post_op["responses"])
