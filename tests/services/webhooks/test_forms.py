"""Web forms (deploy/config/sources.yaml forms.contact-us): what a browser and a form tool post."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from services.errors import Forbidden, Malformed
from services.intake.sources.forms import check_origin, parse_post
from tests.services.webhooks.conftest import Hooks, assert_json_error

URL = "/webhooks/forms/contact-us"
SITE = "https://www.northwind-ops.example"
THANKS = "https://www.northwind-ops.example/thanks"
BROWSER = {"origin": SITE, "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FIELDS = {
    "email": "ana.lopez@freight.example",
    "name": "Ana María López",
    "job_title": "Head of Logistics",
    "phone": "+34 600 123 456",
    "company": "Freight Iberia",
    "company_size": "250",
    "country": "ES",
    "message": "We need routing for 40 trucks.",
    "utm_campaign": "q4-demo",
    "newsletter": "yes",
    "website": "",  # the honeypot, left empty by people
}
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def _multipart(fields: dict[str, str], boundary: str = "----WebKitFormBoundary7MA4YWxkTrZu0gW") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    attachment = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="brief"; filename="rfp.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.7 not a lead\r\n"
    )
    return ("".join(parts) + attachment + f"--{boundary}--\r\n").encode()


def _multipart_type(boundary: str = "----WebKitFormBoundary7MA4YWxkTrZu0gW") -> dict[str, str]:
    return {"content-type": f"multipart/form-data; boundary={boundary}"}


async def _post(hooks: Hooks, body: bytes | str, headers: dict[str, str], url: str = URL) -> httpx.Response:
    return await hooks.client.post(url, content=body, headers=headers)


# Pure parts


def test_multipart_keeps_text_fields_and_only_counts_files() -> None:
    posted = parse_post(_multipart({"email": "a@b.co", "tags": "x"}), _multipart_type()["content-type"])
    assert posted.fields == {"email": "a@b.co", "tags": "x"}
    assert posted.files == 1


def test_repeated_fields_become_lists() -> None:
    posted = parse_post(b"interest=routing&interest=telematics&email=a%40b.co", URLENCODED["content-type"])
    assert posted.fields == {"interest": ["routing", "telematics"], "email": "a@b.co"}
    assert posted.browser_form


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"email=%ff%fe", "application/x-www-form-urlencoded"),
        (b"not multipart at all", "multipart/form-data; boundary=xyz"),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\ncut off',
            "multipart/form-data; boundary=xyz",
        ),
        (b"--xyz--\r\n", "multipart/form-data"),
    ],
)
def test_malformed_bodies_say_so(body: bytes, content_type: str) -> None:
    with pytest.raises(Malformed):
        parse_post(body, content_type)


def test_origin_rules() -> None:
    check_origin(None, ())  # a form tool posting server to server
    check_origin("https://www.northwind-ops.example/", (SITE,))
    with pytest.raises(Forbidden):
        check_origin("https://evil.example", (SITE,))
    with pytest.raises(Forbidden):
        check_origin(SITE, ())  # no allowed_origins: no browser may post


# Over real HTTP


async def test_a_urlencoded_post_is_mapped_into_a_lead(hooks: Hooks) -> None:
    response = await _post(hooks, urlencode(FIELDS), {**URLENCODED, "origin": SITE})
    assert response.status_code == 202, response.text
    assert response.headers["access-control-allow-origin"] == SITE
    [event] = hooks.leads()
    lead = event.lead
    assert lead.source == "web" and event.source_event_id is None
    assert (lead.person.first_name, lead.person.last_name) == ("Ana", "María López")  # name split
    assert lead.person.email == "ana.lopez@freight.example"
    assert (lead.person.title, lead.person.phone) == ("Head of Logistics", "+34 600 123 456")
    assert (lead.company.name, lead.company.employees, lead.company.country) == ("Freight Iberia", 250, "ES")
    assert lead.message == "We need routing for 40 trucks."
    assert lead.attributes == {"form_id": "contact-us", "utm_campaign": "q4-demo", "newsletter": "yes"}
    assert response.json()["events"] == [
        {"event_id": event.event_id, "lead_id": event.lead_id, "outcome": "published"}
    ]


async def test_a_browser_post_is_sent_on_to_the_thank_you_page(hooks: Hooks) -> None:
    response = await _post(hooks, urlencode(FIELDS), {**URLENCODED, **BROWSER})
    assert response.status_code == 303
    assert response.headers["location"] == THANKS
    assert response.headers["access-control-allow-origin"] == SITE
    assert len(hooks.leads()) == 1


async def test_a_multipart_post_ignores_its_file(hooks: Hooks) -> None:
    response = await _post(hooks, _multipart(FIELDS), {**_multipart_type(), **BROWSER})
    assert response.status_code == 303
    [event] = hooks.leads()
    assert event.lead.person.email == "ana.lopez@freight.example"
    assert event.lead.attributes["file_parts"] == 1
    assert "PDF" not in event.model_dump_json()


async def test_a_json_post_from_a_form_tool_needs_no_origin(hooks: Hooks) -> None:
    body = json.dumps({"email": "li.wei@cargo.example", "name": "Li Wei", "company": "Cargo Co"})
    response = await _post(hooks, body, {"content-type": "application/json", "accept": "text/html"})
    assert response.status_code == 202  # JSON is never redirected
    assert "access-control-allow-origin" not in response.headers
    [event] = hooks.leads()
    assert (event.lead.person.first_name, event.lead.person.last_name) == ("Li", "Wei")
    assert event.lead.company.name == "Cargo Co"


@pytest.mark.parametrize("headers", [{**URLENCODED, "origin": SITE}, {**URLENCODED, **BROWSER}])
async def test_a_filled_honeypot_looks_accepted_but_publishes_nothing(
    hooks: Hooks, headers: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    body = urlencode({**FIELDS, "website": "http://cheap-pills.example"})
    response = await _post(hooks, body, headers)
    if "accept" in headers:
        assert (response.status_code, response.headers["location"]) == (303, THANKS)
    else:
        assert response.status_code == 202
        assert [set(e) for e in response.json()["events"]] == [{"event_id", "lead_id", "outcome"}]
    assert hooks.published() == 0
    out, err = capfd.readouterr()
    assert "honeypot" in out + err
    assert "ana.lopez@freight.example" not in out + err and "600 123 456" not in out + err


async def test_preflight_answers_allowed_origins_only(hooks: Hooks) -> None:
    ok = await hooks.client.options(URL, headers={"origin": SITE, "access-control-request-method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SITE
    assert ok.headers["access-control-allow-methods"] == "POST"
    assert ok.headers["access-control-allow-headers"] == "content-type"
    assert int(ok.headers["access-control-max-age"]) > 0
    refused = await hooks.client.options(URL, headers={"origin": "https://evil.example"})
    assert_json_error(refused, 403, "forbidden")
    assert "access-control-allow-origin" not in refused.headers
    assert_json_error(
        await hooks.client.options("/webhooks/forms/nope", headers={"origin": SITE}), 404, "not_found"
    )


async def test_a_disallowed_origin_is_403(hooks: Hooks) -> None:
    response = await _post(hooks, urlencode(FIELDS), {**URLENCODED, "origin": "https://evil.example"})
    assert "evil.example" in assert_json_error(response, 403, "forbidden")["detail"]
    assert "access-control-allow-origin" not in response.headers
    assert hooks.published() == 0


# A form post carries no signed timestamp, so there is no replay window (no stale-timestamp case);
# a replay is caught only when the form posts a submission_id.
async def test_a_repeated_submission_id_is_published_once(hooks: Hooks) -> None:
    body = urlencode({**FIELDS, "submission_id": "sub-8841"})
    first = await _post(hooks, body, {**URLENCODED, "origin": SITE})
    again = await _post(hooks, body, {**URLENCODED, "origin": SITE})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["events"][0]["outcome"] == "duplicate"
    [event] = hooks.leads()
    assert (event.event_id, event.source_event_id) == ("forms:contact-us:sub-8841", "sub-8841")


async def test_oversized_body_is_413(hooks: Hooks) -> None:
    body = urlencode({**FIELDS, "message": "x" * 300_000})
    assert_json_error(await _post(hooks, body, {**URLENCODED, "origin": SITE}), 413, "too_large")
    assert hooks.published() == 0


async def test_wrong_content_type_is_415(hooks: Hooks) -> None:
    response = await _post(hooks, "email=a@b.co", {"content-type": "text/plain", "origin": SITE})
    assert_json_error(response, 415, "unsupported_media_type")
    assert response.headers["access-control-allow-origin"] == SITE  # the page can read why
    assert hooks.published() == 0


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"email=%ff", URLENCODED, 400, "malformed"),
        (b"--nope\r\n", _multipart_type(), 400, "malformed"),
        (b'{"email": ', {"content-type": "application/json"}, 400, "malformed"),
        (b'["ana@freight.example"]', {"content-type": "application/json"}, 422, "not_a_lead"),
        (b"job_title=CTO&message=hello", URLENCODED, 422, "not_a_lead"),
        (b"email=not-an-email", URLENCODED, 422, "not_a_lead"),
    ],
)
async def test_malformed_content_is_refused(
    hooks: Hooks, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    assert_json_error(await _post(hooks, body, headers), status, code)
    assert hooks.published() == 0


async def test_an_unknown_form_is_404(hooks: Hooks) -> None:
    response = await _post(hooks, urlencode(FIELDS), URLENCODED, url="/webhooks/forms/nope")
    assert_json_error(response, 404, "not_found")
    assert hooks.published() == 0
