"""A correctly signed delivery of each verified source, mutated by hypothesis (a byte of the body
flipped, inserted or deleted; the signature, timestamp or id header edited, renamed or dropped;
the URL path or the signed query edited), is never accepted: no 2xx, and no 5xx either.

Each example first sends its mutation, then the untouched delivery, which must be accepted: the
delivery was valid, so only the mutation can have been refused. Event ids are fresh per example,
so the original is never a replay. A mutation that leaves the request the same under the rules
of its encoding (hex is case-blind, HTTP header names are case-blind and values lose surrounding
blanks, Standard Webhooks lets several signatures share the header) is not a mutation, and is
filtered out.

What each scheme verifies bounds what is mutated: HubSpot v3 signs the method, the full URL, the
body and its timestamp; Standard Webhooks the id, timestamp and body; Typeform and LinkedIn the
body. Mailgun signs only its timestamp and token (the mail itself is not signed), and Salesforce
signs nothing: its OrganizationId is checked against an allow-list, so for those two only the
verified fields are mutated.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from services.intake.signatures import secret_keys
from services.intake.sources import linkedin, standard, typeform
from services.intake.sources.hubspot import sign_v3
from tests.security.live import intake_app, live
from tests.services.webhooks.conftest import NOW, SECRETS
from tests.services.webhooks.test_email import mailgun_fields
from tests.services.webhooks.test_hubspot import creation
from tests.services.webhooks.test_linkedin import notification
from tests.services.webhooks.test_salesforce import ORG, envelope
from tests.services.webhooks.test_salesforce import lead as sf_lead
from tests.services.webhooks.test_typeform import delivery as typeform_delivery

MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "40"))
# Event ids never repeat, across examples and shrinking. Every id is fixed-width, so a delivery's
# layout (what hypothesis draws positions in) is the same in every example.
FRESH = itertools.count(1)
BASE = 10**9


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    query: str = ""

    def send(self, client: httpx.Client) -> httpx.Response:
        url = self.path + (f"?{self.query}" if self.query else "")
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers]
        return client.post(url, content=self.body, headers=raw)


Span = tuple[int, int]


@dataclass(frozen=True)
class Scheme:
    build: Callable[[int, str], Delivery]  # (a fresh number, the base URL) -> a signed delivery
    checked: tuple[str, ...]  # lower-case names of the headers the scheme reads
    spans: Callable[[bytes], list[Span]]  # the body's verified byte ranges
    span_bytes: bytes | None = None  # bytes a mutation may put there (None: any)
    hex_headers: frozenset[str] = frozenset()
    signs_query: bool = False
    same_header: Callable[[str, str, str], bool] | None = None  # (name, original, mutated)
    same_body: Callable[[bytes, bytes], bool] = field(default=lambda a, b: a == b)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _all(body: bytes) -> list[Span]:
    return [(0, len(body))]


# --- each source's signed delivery ------------------------------------------------------------


def _hubspot(n: int, base: str) -> Delivery:
    body, path, timestamp = (
        _json([creation(BASE + n, BASE + n)]),
        "/webhooks/hubspot",
        str(int(NOW.timestamp() * 1000)),
    )
    signature = sign_v3(SECRETS["hubspot_client_secret"], "POST", base + path, body, timestamp)
    headers = (("Content-Type", "application/json"), ("X-HubSpot-Signature-v3", signature),
               ("X-HubSpot-Request-Timestamp", timestamp))  # fmt: skip
    return Delivery(path, headers, body)


def _standard(n: int, _base: str) -> Delivery:
    body = _json(
        {"email": f"ana{n:09d}@freight.example", "first_name": "Ana", "company": {"name": "Freight"}}
    )
    [key] = secret_keys(SECRETS["standard_secrets"]["partner-portal"])
    msg_id, ts = f"msg_{n:09d}", int(NOW.timestamp())
    headers = (("Content-Type", "application/json"), ("webhook-id", msg_id), ("webhook-timestamp", str(ts)),
               ("webhook-signature", standard.sign(key, msg_id, ts, body)))  # fmt: skip
    return Delivery("/webhooks/standard/partner-portal", headers, body)


def _standard_same_signature(name: str, original: str, mutated: str) -> bool:
    # The spec lets a header carry several space-separated signatures; one valid one suffices.
    return name == "webhook-signature" and original in mutated.split()


def _typeform(n: int, _base: str) -> Delivery:
    body = _json(typeform_delivery(event_id=f"EV{n:024d}"))
    signature = typeform.sign(SECRETS["typeform_secret"].encode(), body)
    headers = (("Content-Type", "application/json"), ("Typeform-Signature", signature))
    return Delivery("/webhooks/typeform/demo-request", headers, body)


def _linkedin(n: int, _base: str) -> Delivery:
    body = _json(notification(notificationId=f"notification-{n:09d}"))
    signature = linkedin.sign(SECRETS["linkedin_client_secret"].encode(), body)
    return Delivery(
        "/webhooks/linkedin", (("Content-Type", "application/json"), ("X-LI-Signature", signature)), body
    )


def _mailgun(n: int, _base: str) -> Delivery:
    fields = mailgun_fields(token=f"{n:050d}", message_id=f"mutation-{n:09d}@mail.example")
    headers = (("Content-Type", "application/x-www-form-urlencoded"),)
    return Delivery("/webhooks/email/mailgun", headers, urlencode(fields).encode())


def _mailgun_spans(body: bytes) -> list[Span]:
    # The values of the three fields Mailgun's signature covers.
    return [m.span(1) for m in re.finditer(rb"(?:^|&)(?:timestamp|token|signature)=([^&]*)", body)]


def _mailgun_same(a: bytes, b: bytes) -> bool:
    def norm(body: bytes) -> list[tuple[str, str]]:
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        return sorted((k, v.lower() if k == "signature" else v) for k, v in pairs)  # hex: case-blind

    return norm(a) == norm(b)


def _salesforce(n: int, _base: str) -> Delivery:
    headers = (("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", '""'))
    return Delivery(
        "/webhooks/salesforce", headers, envelope(sf_lead(n, LastName="Lead", Email="ana@freight.example"))
    )


def _salesforce_spans(body: bytes) -> list[Span]:
    start = body.index(ORG.encode())
    return [(start, start + len(ORG))]


ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SCHEMES: dict[str, Scheme] = {
    "hubspot-v3": Scheme(_hubspot, ("x-hubspot-signature-v3", "x-hubspot-request-timestamp"), _all,
                         signs_query=True),
    "standard-webhooks": Scheme(_standard, ("webhook-id", "webhook-timestamp", "webhook-signature"), _all,
                                same_header=_standard_same_signature),
    "typeform": Scheme(_typeform, ("typeform-signature",), _all),
    "linkedin": Scheme(_linkedin, ("x-li-signature",), _all, hex_headers=frozenset({"x-li-signature"})),
    "mailgun": Scheme(_mailgun, (), _mailgun_spans, span_bytes=ALNUM, same_body=_mailgun_same),
    "salesforce-org": Scheme(_salesforce, (), _salesforce_spans, span_bytes=ALNUM),
}  # fmt: skip


# --- mutations --------------------------------------------------------------------------------

HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
PATH_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_./~")
QUERY_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~=&")


def _edit_text(data: st.DataObject, text: str, chars: st.SearchStrategy[str], start: int = 0) -> str:
    """Flip, insert or delete one character of ``text[start:]``."""
    op = data.draw(st.sampled_from(["flip", "insert", "delete"] if len(text) > start else ["insert"]))
    if op == "insert":
        at = data.draw(st.integers(start, len(text)))
        return text[:at] + data.draw(chars) + text[at:]
    at = data.draw(st.integers(start, len(text) - 1))
    if op == "delete":
        return text[:at] + text[at + 1 :]
    return text[:at] + data.draw(chars) + text[at + 1 :]  # the same character: filtered as no mutation


def _edit_body(data: st.DataObject, body: bytes, spans: list[Span], allowed: bytes | None) -> bytes:
    start, end = data.draw(st.sampled_from(spans))
    byte = st.sampled_from(list(allowed)) if allowed else st.integers(0, 255)
    op = data.draw(st.sampled_from(["flip", "insert", "delete"] if end > start else ["insert"]))
    if op == "insert":
        at = data.draw(st.integers(start, end))
        return body[:at] + bytes([data.draw(byte)]) + body[at:]
    at = data.draw(st.integers(start, end - 1))
    if op == "delete":
        return body[:at] + body[at + 1 :]
    return body[:at] + bytes([data.draw(byte)]) + body[at + 1 :]


def mutate(data: st.DataObject, scheme: Scheme, signed: Delivery) -> Delivery:
    kinds = ["body", "path"]
    if scheme.checked:
        kinds += ["header value", "header name", "drop header"]
    if scheme.signs_query:
        kinds.append("query")
    kind = data.draw(st.sampled_from(kinds), label="mutation")
    headers = list(signed.headers)
    if kind == "body":
        return replace(
            signed, body=_edit_body(data, signed.body, scheme.spans(signed.body), scheme.span_bytes)
        )
    if kind == "path":
        return replace(signed, path=_edit_text(data, signed.path, PATH_CHARS, start=1))
    if kind == "query":
        return replace(signed, query=_edit_text(data, signed.query, QUERY_CHARS))
    at = data.draw(
        st.sampled_from([i for i, (name, _) in enumerate(headers) if name.lower() in scheme.checked])
    )
    name, value = headers[at]
    if kind == "drop header":
        del headers[at]
    elif kind == "header name":
        headers[at] = (_edit_text(data, name, NAME_CHARS), value)
    else:
        headers[at] = (name, _edit_text(data, value, HEADER_CHARS))
    return replace(signed, headers=tuple(headers))


def same_request(scheme: Scheme, a: Delivery, b: Delivery) -> bool:
    """Whether two deliveries mean the same under HTTP's and the encodings' own rules."""

    def header_map(d: Delivery) -> list[tuple[str, str]]:
        out = []
        for name, value in d.headers:
            key, text = name.lower(), value.strip(" \t")
            out.append((key, text.lower() if key in scheme.hex_headers else text))
        return sorted(out)

    def url(d: Delivery) -> httpx.URL:
        return httpx.URL("http://h" + d.path + (f"?{d.query}" if d.query else ""))

    if url(a).raw_path != url(b).raw_path or not scheme.same_body(a.body, b.body):
        return False
    ha, hb = header_map(a), header_map(b)
    if ha == hb:
        return True
    if scheme.same_header is None or len(ha) != len(hb):
        return False
    return all(
        x == y or (x[0] == y[0] and scheme.same_header(x[0], x[1], y[1])) for x, y in zip(ha, hb, strict=True)
    )


# --- the property -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        live(intake_app(Path(tmp_path_factory.mktemp("mutations")))) as url,
        httpx.Client(base_url=url, timeout=10) as http,
    ):
        yield http


@pytest.mark.parametrize("source", sorted(SCHEMES))
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_a_mutated_signed_delivery_is_never_accepted(
    client: httpx.Client, source: str, data: st.DataObject
) -> None:
    scheme = SCHEMES[source]
    signed = scheme.build(next(FRESH), str(client.base_url).rstrip("/"))
    mutated = mutate(data, scheme, signed)
    if same_request(scheme, signed, mutated):
        reject()  # not a mutation
    try:
        response = mutated.send(client)
    except httpx.LocalProtocolError:
        reject()  # not sendable over HTTP/1.1 (a blank at a header value's edge): no sender can
    assert not 200 <= response.status_code < 300, f"{source}: a mutated delivery was accepted: {mutated}"
    assert response.status_code < 500 and "Traceback" not in response.text, (
        response.status_code,
        response.text,
    )
    original = signed.send(client)
    assert 200 <= original.status_code < 300, (source, original.status_code, original.text)


@pytest.mark.parametrize("source", ["hubspot-v3", "standard-webhooks"])
@pytest.mark.parametrize("timestamp", ["\xb2", "1\xb9", "9" * 400, "0" + str(int(NOW.timestamp()))])
def test_odd_timestamps_are_refused_not_crashed(client: httpx.Client, source: str, timestamp: str) -> None:
    """Found by the property above (or its kin): "\\u00b2".isdigit() is true but int() refuses it,
    and a 400-digit time overflowed a float: both were 500s. A leading zero verified against the
    int() of the header, not the header as signed."""
    signed = SCHEMES[source].build(next(FRESH), str(client.base_url).rstrip("/"))
    headers = tuple((n, timestamp if n.lower().endswith("timestamp") else v) for n, v in signed.headers)
    response = replace(signed, headers=headers).send(client)
    assert response.status_code == 401, response.text
