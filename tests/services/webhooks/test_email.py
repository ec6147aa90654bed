"""Inbound email over real HTTP: Mailgun routes, SendGrid Inbound Parse, raw MIME; every refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from schemas.events import LeadReceived
from schemas.sources import EmailSource
from services.errors import Malformed, Unauthorized
from services.intake.formdata import FormData, parse_form
from services.intake.sources.email import (
    basic_password,
    header_pairs,
    mailgun_signature,
    mime_mail,
    sendgrid_mail,
    verify_mailgun,
)
from services.logs import configure
from tests.services.test_email_parse import GERMAN_REPLY, GMAIL_MESSAGE, GMAIL_REPLY, OUTLOOK_ES_REPLY
from tests.services.webhooks.conftest import NOW, SECRETS, Hooks, assert_json_error

MAILGUN = "/webhooks/email/mailgun"
SENDGRID = "/webhooks/email/sendgrid"
RAW = "/webhooks/email/raw"
SENDGRID_SECRET = SECRETS["sendgrid_secret"]
RAW_SECRET = SECRETS["email_secret"]
JANE = "jane.doe@northwind-logistics.example"
TOKEN = "5b1e8a0c2f3d4e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f"  # Mailgun's tokens are 50 characters
# An attachment whose text must never reach the lead.
PDF = b"%PDF-1.7\n1 0 obj << /Title (CONFIDENTIAL PRICE LIST) >> endobj\n%%EOF\n"

GMAIL_HTML = (
    '<div dir="ltr">Hi Tom,<br><br>Thanks for the call last week. We&#39;d like to see a demo of lead '
    "routing for our sales team:<br>- 40 depots across Germany and Poland<br>- about 12 account "
    "executives<br><br>Could you do Thursday afternoon?<br><br>Best regards,<br>Jane Doe<br>Head of "
    'Operations<br>Northwind Logistics GmbH</div><br><div class="gmail_quote"><div dir="ltr" '
    'class="gmail_attr">On Tue, 17 Nov 2026 at 10:12, Tom Seller &lt;tom@leadflow.example&gt; wrote:<br>'
    '</div><blockquote class="gmail_quote">Hi Jane,<br>Great speaking with you.</blockquote></div>'
)


# Mailgun: a route's forward() post, urlencoded (multipart when the email has attachments).


def mailgun_fields(
    token: str = TOKEN,
    at: datetime = NOW,
    key: str = SECRETS["mailgun_signing_key"],
    message_id: str = "CAKx8mPq3vZ1Yd0w7dL@mail.gmail.com",
    text: str = GMAIL_REPLY,
    sender: str = f"Jane Doe <{JANE}>",
) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    headers = [
        ["X-Mailgun-Incoming", "Yes"],
        [
            "Received",
            "by mail-ej1-f41.google.com with SMTP id a640c23a62f3a; Sun, 22 Nov 2026 01:29:50 -0800",
        ],
        ["Mime-Version", "1.0"],
        ["From", sender],
        ["Date", "Sun, 22 Nov 2026 10:29:38 +0100"],
        ["Message-Id", f"<{message_id}>"],
        ["Subject", "Re: Leadflow demo"],
        ["To", "sales@inbound.leadflow.example"],
        ["Content-Type", 'multipart/alternative; boundary="000000000000d3c4a205f1b2c3d4"'],
    ]
    return {
        "recipient": "sales@inbound.leadflow.example",
        "sender": JANE,
        "from": sender,
        "subject": "Re: Leadflow demo",
        "body-plain": text,
        "stripped-text": GMAIL_MESSAGE,
        "stripped-signature": "Jane Doe\nHead of Operations\nNorthwind Logistics GmbH",
        "body-html": GMAIL_HTML,
        "stripped-html": GMAIL_HTML,
        "message-headers": json.dumps(headers),
        **{name: value for name, value in headers},  # Mailgun also posts every header as a field
        "timestamp": timestamp,
        "token": token,
        "signature": mailgun_signature(key.encode(), timestamp, token),
    }


async def post_mailgun(hooks: Hooks, fields: dict[str, str], url: str = MAILGUN) -> httpx.Response:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return await hooks.client.post(url, content=urlencode(fields).encode(), headers=headers)


# SendGrid Inbound Parse: always multipart; text in the charset `charsets` names.

Part = tuple[str, str | bytes, str | None, str | None]  # name, value, filename, content type


def multipart(parts: Sequence[Part], boundary: str = "xYzZY") -> tuple[bytes, str]:
    body = b""
    for name, value, filename, content_type in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += f"Content-Type: {content_type}\r\n".encode() if content_type else b""
        body += b"\r\n" + (value.encode() if isinstance(value, str) else value) + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


MARIA = "maria.lopez@transportes-ibericos.example"
SENDGRID_HEADERS = (
    "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Sun, 22 Nov 2026 09:29:41 +0000 (UTC)\n"
    "Received: from EUR05-AM6-obe.outbound.protection.outlook.com (40.107.22.54) by "
    "mx0047p1mdw1.sendgrid.net (Postfix) with ESMTPS id 3C6B0C1F; Sun, 22 Nov 2026 09:29:41 +0000 (UTC)\n"
    f"From: =?utf-8?q?L=C3=B3pez=2C_Mar=C3=ADa?= <{MARIA}>\n"
    "To: ventas@inbound.leadflow.example\n"
    "Subject: =?utf-8?q?Re:_Demo_de_Leadflow?=\n"
    "Date: Sun, 22 Nov 2026 09:29:38 +0000\n"
    "Message-ID: <AM0PR04MB6417C8A1E2B3@AM0PR04MB6417.eurprd04.prod.outlook.com>\n"
    'Content-Type: multipart/mixed; boundary="_004_AM0PR04MB6417C8A1E2B3_"\n'
    "MIME-Version: 1.0\n"
)


def sendgrid_parts(headers: str = SENDGRID_HEADERS, sender: str = f"López, María <{MARIA}>") -> list[Part]:
    charsets = {"to": "UTF-8", "html": "UTF-8", "subject": "UTF-8", "from": "UTF-8", "text": "iso-8859-1"}
    attachment_info = {"attachment1": {"filename": "presupuesto.pdf", "type": "application/pdf"}}
    return [
        ("headers", headers, None, None),
        ("dkim", "{@transportes-ibericos.example : pass}", None, None),
        ("to", "ventas@inbound.leadflow.example", None, None),
        ("html", "<p>Hola Tom,</p><p>Nos gustaría ver una demo.</p>", None, None),
        ("from", sender, None, None),
        ("text", OUTLOOK_ES_REPLY.encode("iso-8859-1"), None, None),
        ("sender_ip", "40.107.22.54", None, None),
        ("envelope", json.dumps({"to": ["ventas@inbound.leadflow.example"], "from": MARIA}), None, None),
        ("attachments", "1", None, None),
        ("attachment-info", json.dumps(attachment_info), None, None),
        ("subject", "Re: Demo de Leadflow", None, None),
        ("charsets", json.dumps(charsets), None, None),
        ("SPF", "pass", None, None),
        ("attachment1", PDF, "presupuesto.pdf", "application/pdf"),
    ]


async def post_sendgrid(
    hooks: Hooks, parts: Sequence[Part] | None = None, url: str = f"{SENDGRID}/{SENDGRID_SECRET}", **kw: Any
) -> httpx.Response:
    body, content_type = multipart(sendgrid_parts() if parts is None else parts)
    return await hooks.client.post(url, content=body, headers={"content-type": content_type}, **kw)


# Raw MIME, as a Postfix pipe or any MTA would post it.


def mime_email(message_id: str = "5f2c1e0a-8b1d-4c1e-9a57-0c2f1b7d9e11@mueller-spedition.example") -> bytes:
    message = EmailMessage()
    message["From"] = "Klaus Müller <k.mueller@mueller-spedition.example>"
    message["To"] = "vertrieb@inbound.leadflow.example"
    message["Subject"] = "Anfrage: Lead-Routing für 25 Standorte"
    message["Date"] = "Sun, 22 Nov 2026 10:31:02 +0100"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(GERMAN_REPLY)
    message.add_alternative("<p>Guten Tag Herr Seller,</p><p>wir suchen eine Lösung.</p>", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="Standorte.pdf")
    return message.as_bytes(policy=policy.SMTP)


async def post_raw(
    hooks: Hooks, body: bytes | None = None, auth: tuple[str, str] = ("leadflow", RAW_SECRET), **kw: Any
) -> httpx.Response:
    headers = {"content-type": "message/rfc822", **kw.pop("headers", {})}
    return await hooks.client.post(
        RAW, content=mime_email() if body is None else body, headers=headers, auth=auth
    )


def person(event: LeadReceived) -> tuple[str | None, ...]:
    p = event.lead.person
    return (p.first_name, p.last_name, p.email, p.phone, p.title)


# Verification, pure


def test_mailgun_signature_is_the_hex_hmac_of_timestamp_and_token() -> None:
    expected = hmac.new(b"key-mailgun-test", ("1798925400" + TOKEN).encode(), hashlib.sha256).hexdigest()
    assert mailgun_signature(b"key-mailgun-test", "1798925400", TOKEN) == expected
    fields = {"timestamp": "1798925400", "token": TOKEN, "signature": expected.upper()}
    assert verify_mailgun(fields, b"key-mailgun-test", now=1798925400 + 10, window=300) == TOKEN


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"timestamp": ""}, "missing field timestamp"),
        ({"token": ""}, "missing field token"),
        ({"signature": ""}, "missing field signature"),
        ({"token": "6b1e8a0c2f3d4e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f"}, "does not match"),
        ({"signature": "0" * 64}, "does not match"),
    ],
)
def test_each_broken_mailgun_field_is_refused_saying_which(change: dict[str, str], says: str) -> None:
    fields = {**mailgun_fields(), **change}
    with pytest.raises(Unauthorized, match=says):
        verify_mailgun(fields, SECRETS["mailgun_signing_key"].encode(), NOW.timestamp(), 300)


def test_basic_auth_gives_the_password_whatever_the_user() -> None:
    encoded = base64.b64encode(b"sendgrid:s3cret:with:colons").decode()
    assert basic_password(f"Basic {encoded}") == "s3cret:with:colons"
    assert basic_password("Bearer abc") is None and basic_password(None) is None
    with pytest.raises(Unauthorized, match="not base64"):
        basic_password("Basic not-base64!")


# Reading the bodies, pure


def test_a_multipart_form_keeps_text_fields_and_only_counts_files() -> None:
    body, content_type = multipart(sendgrid_parts())
    form = parse_form(content_type, body)
    assert form.files == 1 and "attachment1" not in form.fields
    assert form.fields["SPF"] == b"pass"
    assert form.text("text", "iso-8859-1") == OUTLOOK_ES_REPLY
    assert form.text("text") is not None and "\ufffd" in form.text("text")  # not UTF-8: replaced


def test_an_urlencoded_form_is_read_as_utf8() -> None:
    form = parse_form(
        "application/x-www-form-urlencoded", urlencode({"from": "María <m@x.example>"}).encode()
    )
    assert form.text("from") == "María <m@x.example>" and form.files == 0


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("multipart/form-data", b"--x\r\n", "without a boundary"),
        (
            "multipart/form-data; boundary=xYzZY",
            b'--xYzZY\r\nContent-Disposition: form-data; name="a"\r\n\r\nb',
            "ends",
        ),
        ("application/x-www-form-urlencoded", b"from=%C3%28\xff", "not UTF-8"),
        ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(1001)), "more than 1000"),
    ],
)
def test_unreadable_forms_are_malformed(content_type: str, body: bytes, says: str) -> None:
    with pytest.raises(Malformed, match=says):
        parse_form(content_type, body)


@pytest.mark.parametrize("value", ["[['From', 'x']]", '{"From": "x"}', '[["From"]]', "[" * 100 + "]" * 100])
def test_mailgun_message_headers_must_be_a_list_of_pairs(value: str) -> None:
    with pytest.raises(Malformed, match="message-headers"):
        header_pairs(value)


def test_a_mime_message_is_read_with_its_parts() -> None:
    mail = mime_mail(mime_email(), "raw")
    assert mail.headers["from"] == "Klaus =?utf-8?q?M=C3=BCller?= <k.mueller@mueller-spedition.example>"
    assert mail.text == GERMAN_REPLY  # CRLF on the wire, LF here
    assert mail.html is not None and "Lösung" in mail.html
    assert mail.attachments == 1
    assert mail.message_id == "5f2c1e0a-8b1d-4c1e-9a57-0c2f1b7d9e11@mueller-spedition.example"


def test_sendgrid_charsets_that_are_not_json_are_ignored() -> None:
    form = FormData((("headers", f"From: {JANE}\n".encode()), ("text", b"Call me."), ("charsets", b"{utf-8")))
    assert sendgrid_mail(form).text == "Call me."


# Each provider's delivery becomes the normalised lead


async def test_a_mailgun_route_post_becomes_a_lead(hooks: Hooks) -> None:
    response = await post_mailgun(hooks, mailgun_fields())
    assert response.status_code == 200, response.text  # Mailgun retries a 202
    [event] = hooks.leads()
    assert response.json()["events"] == [
        {"event_id": event.event_id, "lead_id": event.lead_id, "outcome": "published"}
    ]
    assert (event.event_id, event.source_event_id) == (
        "email:mailgun:CAKx8mPq3vZ1Yd0w7dL@mail.gmail.com",
        "CAKx8mPq3vZ1Yd0w7dL@mail.gmail.com",
    )
    assert event.lead.source == "email"
    assert person(event) == ("Jane", "Doe", JANE, "+49 30 1234 5678", "Head of Operations")
    assert (event.lead.company.name, event.lead.company.domain) == (
        "Northwind Logistics GmbH",
        "northwind-logistics.example",
    )
    assert event.lead.message == GMAIL_MESSAGE
    assert event.lead.attributes == {
        "provider": "mailgun",
        "subject": "Re: Leadflow demo",
        "message_id": "CAKx8mPq3vZ1Yd0w7dL@mail.gmail.com",
        "attachments": 0,
    }


async def test_a_mailgun_post_with_attachments_is_multipart_and_they_are_ignored(hooks: Hooks) -> None:
    fields = {**mailgun_fields(), "attachment-count": "2"}
    parts: list[Part] = [(name, value, None, None) for name, value in fields.items()]
    parts += [
        ("attachment-1", PDF, "price-list.pdf", "application/pdf"),
        ("attachment-2", b"\x89PNG\r\n\x1a\n", "logo.png", "image/png"),
    ]
    body, content_type = multipart(parts, boundary="----MailgunBoundary7f3c")
    response = await hooks.client.post(MAILGUN, content=body, headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    [event] = hooks.leads()
    assert event.lead.attributes["attachments"] == 2
    assert "CONFIDENTIAL" not in event.model_dump_json()


async def test_a_sendgrid_inbound_parse_post_becomes_a_lead(hooks: Hooks) -> None:
    response = await post_sendgrid(hooks)
    assert response.status_code == 202, response.text
    [event] = hooks.leads()
    assert event.source_event_id == "AM0PR04MB6417C8A1E2B3@AM0PR04MB6417.eurprd04.prod.outlook.com"
    assert person(event) == ("María", "López", MARIA, "+34 600 123 456", "Directora de Operaciones")
    assert (event.lead.company.name, event.lead.company.domain) == (
        "Transportes Ibéricos S.L.",
        "transportes-ibericos.example",
    )
    # The text came as ISO-8859-1, as `charsets` said; the quoted Outlook thread is gone.
    assert (
        event.lead.message
        == "Hola Tom,\n\nNos gustaría ver una demo. Tenemos 25 delegaciones y 8 comerciales."
    )
    assert event.lead.attributes == {
        "provider": "sendgrid",
        "subject": "Re: Demo de Leadflow",
        "message_id": "AM0PR04MB6417C8A1E2B3@AM0PR04MB6417.eurprd04.prod.outlook.com",
        "attachments": 1,
    }
    assert "CONFIDENTIAL" not in event.model_dump_json()


async def test_sendgrid_may_give_the_secret_as_the_basic_auth_password(hooks: Hooks) -> None:
    response = await post_sendgrid(hooks, url=SENDGRID, auth=("sendgrid", SENDGRID_SECRET))
    assert response.status_code == 202, response.text
    assert len(hooks.leads()) == 1


async def test_sendgrid_send_raw_posts_the_whole_message(hooks: Hooks) -> None:
    parts: list[Part] = [
        ("email", mime_email(), None, None),
        ("to", "vertrieb@inbound.leadflow.example", None, None),
        ("from", "Klaus Müller <k.mueller@mueller-spedition.example>", None, None),
        ("envelope", json.dumps({"to": ["vertrieb@inbound.leadflow.example"], "from": "k@x"}), None, None),
        ("charsets", json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}), None, None),
    ]
    response = await post_sendgrid(hooks, parts)
    assert response.status_code == 202, response.text
    [event] = hooks.leads()
    assert event.lead.person.email == "k.mueller@mueller-spedition.example"
    assert event.lead.attributes["provider"] == "sendgrid" and event.lead.attributes["attachments"] == 1


async def test_a_raw_mime_post_becomes_a_lead(hooks: Hooks) -> None:
    response = await post_raw(hooks)
    assert response.status_code == 202, response.text
    [event] = hooks.leads()
    assert person(event) == (
        "Klaus",
        "Müller",
        "k.mueller@mueller-spedition.example",
        "+49 89 123456 0",
        "Leiter Vertrieb",
    )
    assert (event.lead.company.name, event.lead.company.domain) == (
        "Müller Spedition",
        "mueller-spedition.example",
    )
    assert event.lead.message == (
        "Guten Tag Herr Seller,\n\nwir suchen eine Lösung, um Anfragen automatisch an unsere 14 "
        "Vertriebler zu verteilen.\nBitte rufen Sie mich an."
    )
    assert event.lead.attributes == {
        "provider": "raw",
        "subject": "Anfrage: Lead-Routing für 25 Standorte",
        "message_id": "5f2c1e0a-8b1d-4c1e-9a57-0c2f1b7d9e11@mueller-spedition.example",
        "attachments": 1,
    }
    assert "CONFIDENTIAL" not in event.model_dump_json()


async def test_raw_mime_may_give_the_secret_in_the_path(hooks: Hooks) -> None:
    response = await hooks.client.post(
        f"{RAW}/{RAW_SECRET}", content=mime_email(), headers={"content-type": "message/rfc822"}
    )
    assert response.status_code == 202, response.text


async def test_one_email_gives_the_same_lead_whichever_provider_brought_it(hooks: Hooks) -> None:
    """Same From, subject and body through each provider (distinct Message-IDs, so none is a repeat)."""
    await post_mailgun(hooks, mailgun_fields(message_id="m1@mail.gmail.com"))
    headers = f"From: Jane Doe <{JANE}>\nSubject: Re: Leadflow demo\nMessage-ID: <m2@mail.gmail.com>\n"
    parts: list[Part] = [("headers", headers, None, None), ("text", GMAIL_REPLY, None, None)]
    await post_sendgrid(hooks, parts)
    raw = f"From: Jane Doe <{JANE}>\r\nSubject: Re: Leadflow demo\r\nMessage-ID: <m3@mail.gmail.com>\r\n\r\n"
    await post_raw(hooks, raw.encode() + GMAIL_REPLY.replace("\n", "\r\n").encode())
    leads = [e.lead.model_dump(exclude={"attributes"}) for e in hooks.leads()]
    assert len(leads) == 3 and leads[0] == leads[1] == leads[2]
    assert [e.lead.attributes["provider"] for e in hooks.leads()] == ["mailgun", "sendgrid", "raw"]


# Replays: a repeat is answered 2xx and published once


async def test_a_replayed_mailgun_post_is_answered_200_and_published_once(hooks: Hooks) -> None:
    fields = mailgun_fields()
    first, again = await post_mailgun(hooks, fields), await post_mailgun(hooks, fields)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["events"][0]["outcome"] == "duplicate"
    assert len(hooks.leads()) == 1


async def test_a_mailgun_retry_with_a_new_token_is_still_the_same_email(hooks: Hooks) -> None:
    await post_mailgun(hooks, mailgun_fields(token="a" * 50))
    retry = await post_mailgun(hooks, mailgun_fields(token="b" * 50, at=NOW + timedelta(minutes=2)))
    assert retry.json()["events"][0]["outcome"] == "duplicate"
    assert len(hooks.leads()) == 1


async def test_without_a_message_id_mailgun_dedupes_by_its_token(hooks: Hooks) -> None:
    fields = mailgun_fields()
    fields = {k: v for k, v in fields.items() if k != "Message-Id"}
    fields["message-headers"] = json.dumps([["From", f"Jane Doe <{JANE}>"]])
    await post_mailgun(hooks, fields)
    await post_mailgun(hooks, fields)
    [event] = hooks.leads()
    assert event.source_event_id == f"mailgun-token:{fields['token']}"


@pytest.mark.parametrize("provider", ["sendgrid", "raw"])
async def test_a_replayed_unsigned_delivery_is_answered_200_and_published_once(
    hooks: Hooks, provider: str
) -> None:
    post = post_sendgrid if provider == "sendgrid" else post_raw
    first, again = await post(hooks), await post(hooks)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["events"][0]["outcome"] == "duplicate"
    assert len(hooks.leads()) == 1


async def test_each_provider_dedupes_its_own_deliveries(hooks: Hooks) -> None:
    """The same Message-ID from another provider is another delivery (its attributes differ), so
    it is not refused as an id reused for other content; both events carry the same lead_id."""
    await post_raw(hooks)
    fields = mailgun_fields(
        message_id="5f2c1e0a-8b1d-4c1e-9a57-0c2f1b7d9e11@mueller-spedition.example",
        sender="Klaus Müller <k.mueller@mueller-spedition.example>",
        text=GERMAN_REPLY,
    )
    assert (await post_mailgun(hooks, fields)).json()["events"][0]["outcome"] == "published"
    raw, mailgun = hooks.leads()
    assert raw.lead_id == mailgun.lead_id
    assert raw.event_id == "email:raw:5f2c1e0a-8b1d-4c1e-9a57-0c2f1b7d9e11@mueller-spedition.example"
    assert mailgun.event_id == "email:mailgun:5f2c1e0a-8b1d-4c1e-9a57-0c2f1b7d9e11@mueller-spedition.example"


async def test_without_a_message_id_the_same_content_is_one_lead(hooks: Hooks) -> None:
    parts: list[Part] = [
        ("headers", f"From: {JANE}\nSubject: Demo\n", None, None),
        ("text", "Call me.", None, None),
    ]
    first, again = await post_sendgrid(hooks, parts), await post_sendgrid(hooks, parts)
    assert (first.status_code, again.status_code) == (202, 200)
    assert len(hooks.leads()) == 1


# Wrong signature or secret: 401, nothing published


@pytest.mark.parametrize(
    "fields",
    [
        mailgun_fields(key="key-someone-else"),
        {**mailgun_fields(), "signature": "0" * 64},
        {k: v for k, v in mailgun_fields().items() if k != "signature"},
    ],
    ids=["other-key", "forged", "unsigned"],
)
async def test_a_wrong_mailgun_signature_is_401(hooks: Hooks, fields: dict[str, str]) -> None:
    assert_json_error(await post_mailgun(hooks, fields), 401, "unauthorized")
    assert hooks.published() == 0


async def test_a_mailgun_retry_hours_later_is_still_taken(hooks: Hooks) -> None:
    assert (await post_mailgun(hooks, mailgun_fields(at=NOW - timedelta(hours=7)))).status_code == 200
    assert len(hooks.leads()) == 1


# sources.yaml widens the email window to 8 hours, the time Mailgun keeps retrying.
@pytest.mark.parametrize("offset", [timedelta(hours=-8, minutes=-1), timedelta(hours=8, minutes=1)])
async def test_a_stale_mailgun_timestamp_is_401(hooks: Hooks, offset: timedelta) -> None:
    response = await post_mailgun(hooks, mailgun_fields(at=NOW + offset))
    assert "replay window" in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


# SendGrid Inbound Parse and raw MIME carry no timestamp, so there is no stale delivery to refuse;
# a replay is caught by its Message-ID (above) and the secret keeps everyone else out.


@pytest.mark.parametrize(
    ("url", "auth", "says"),
    [
        (f"{SENDGRID}/not-the-secret", None, "does not match"),
        (SENDGRID, ("sendgrid", "not-the-secret"), "does not match"),
        (SENDGRID, None, "no secret given"),
    ],
)
async def test_a_wrong_sendgrid_secret_is_401(
    hooks: Hooks, url: str, auth: tuple[str, str] | None, says: str
) -> None:
    response = await post_sendgrid(hooks, url=url, auth=auth)
    assert says in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


async def test_a_wrong_raw_secret_is_401(hooks: Hooks) -> None:
    assert_json_error(await post_raw(hooks, auth=("leadflow", "not-the-secret")), 401, "unauthorized")
    response = await hooks.client.post(RAW, content=mime_email(), headers={"content-type": "message/rfc822"})
    assert_json_error(response, 401, "unauthorized")
    assert hooks.published() == 0


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("mailgun_signing_key", "LEADFLOW_MAILGUN_SIGNING_KEY"),
        ("sendgrid_secret", "LEADFLOW_SENDGRID_SECRET"),
    ],
)
async def test_a_provider_without_its_secret_configured_is_401(hooks: Hooks, setting: str, says: str) -> None:
    hooks.app.state.settings = hooks.app.state.settings.model_copy(update={setting: None})
    response = await (
        post_mailgun(hooks, mailgun_fields()) if setting.startswith("mailgun") else post_sendgrid(hooks)
    )
    assert says in assert_json_error(response, 401, "unauthorized")["detail"]
    assert hooks.published() == 0


# Limits: size, content type


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "raw"])
async def test_an_oversized_email_is_413(hooks: Hooks, provider: str) -> None:
    huge = "We need a demo. " * 1_100_000  # 17.6 MB, over the 16 MiB sources.yaml allows email
    if provider == "mailgun":
        response = await post_mailgun(hooks, mailgun_fields(text=huge))
    elif provider == "sendgrid":
        response = await post_sendgrid(hooks, [("text", huge, None, None), *sendgrid_parts()])
    else:
        response = await post_raw(hooks, mime_email() + huge.encode())
    assert_json_error(response, 413, "too_large")
    assert hooks.published() == 0


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        (MAILGUN, "application/json"),
        (f"{SENDGRID}/{SENDGRID_SECRET}", "text/plain"),
        (f"{RAW}/{RAW_SECRET}", "text/plain"),
        (f"{RAW}/{RAW_SECRET}", "multipart/form-data; boundary=xYzZY"),
    ],
)
async def test_a_wrong_content_type_is_415(hooks: Hooks, url: str, content_type: str) -> None:
    response = await hooks.client.post(url, content=mime_email(), headers={"content-type": content_type})
    assert_json_error(response, 415, "unsupported_media_type")
    assert hooks.published() == 0


# Malformed content (400) and email that is not a lead (422)


async def test_a_multipart_post_without_a_boundary_is_400(hooks: Hooks) -> None:
    body, _ = multipart(sendgrid_parts())
    response = await hooks.client.post(
        f"{SENDGRID}/{SENDGRID_SECRET}", content=body, headers={"content-type": "multipart/form-data"}
    )
    assert "boundary" in assert_json_error(response, 400, "malformed")["detail"]
    assert hooks.published() == 0


async def test_a_truncated_multipart_post_is_400(hooks: Hooks) -> None:
    body, content_type = multipart(sendgrid_parts())
    response = await hooks.client.post(
        f"{SENDGRID}/{SENDGRID_SECRET}", content=body[:-200], headers={"content-type": content_type}
    )
    assert_json_error(response, 400, "malformed")
    assert hooks.published() == 0


async def test_signed_mailgun_headers_that_are_not_json_are_400(hooks: Hooks) -> None:
    response = await post_mailgun(hooks, {**mailgun_fields(), "message-headers": "[['From', 'x'"})
    assert "message-headers" in assert_json_error(response, 400, "malformed")["detail"]
    assert hooks.published() == 0


async def test_a_raw_body_that_is_not_an_email_is_400(hooks: Hooks) -> None:
    response = await post_raw(hooks, b"hello, this is not an email at all")
    assert_json_error(response, 400, "malformed")
    assert hooks.published() == 0


async def test_a_bounce_through_mailgun_is_406_so_mailgun_stops_retrying(hooks: Hooks) -> None:
    bounce = mailgun_fields(sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>")
    response = await post_mailgun(hooks, bounce)
    assert "automated mailbox" in assert_json_error(response, 406, "not_a_lead")["detail"]
    assert hooks.published() == 0


async def test_a_sendgrid_post_without_a_sender_is_422(hooks: Hooks) -> None:
    parts = [p for p in sendgrid_parts(headers="Subject: Hola\n") if p[0] != "from"]
    assert "no sender" in assert_json_error(await post_sendgrid(hooks, parts), 422, "not_a_lead")["detail"]
    assert hooks.published() == 0


async def test_an_out_of_office_reply_is_422(hooks: Hooks) -> None:
    raw = (
        f"From: Jane Doe <{JANE}>\r\nSubject: Automatic reply: Leadflow demo\r\n"
        "Auto-Submitted: auto-replied\r\nMessage-ID: <ooo-1@northwind-logistics.example>\r\n\r\n"
        "I am out of the office until Monday 30 November.\r\n"
    )
    response = await post_raw(hooks, raw.encode())
    assert "Auto-Submitted" in assert_json_error(response, 422, "not_a_lead")["detail"]
    assert hooks.published() == 0


# Routing: which providers exist


@pytest.mark.parametrize(
    "url", [f"{MAILGUN}/some-secret", "/webhooks/email/postmark", f"/webhooks/email/postmark/{RAW_SECRET}"]
)
async def test_unknown_providers_and_a_mailgun_path_secret_are_404(hooks: Hooks, url: str) -> None:
    response = await post_mailgun(hooks, mailgun_fields(), url=url)
    assert_json_error(response, 404, "not_found")
    assert hooks.published() == 0


async def test_a_provider_turned_off_in_sources_yaml_is_404(hooks: Hooks) -> None:
    container = hooks.app.state.container
    sources = container.config.sources.model_copy(update={"email": EmailSource(providers=("mailgun",))})
    container.config = container.config.model_copy(update={"sources": sources})
    assert_json_error(await post_raw(hooks), 404, "not_found")
    assert (await post_mailgun(hooks, mailgun_fields())).status_code == 200


async def test_bus_down_is_503_and_the_retry_is_taken(hooks: Hooks) -> None:
    hooks.bus.available = False
    assert_json_error(await post_raw(hooks), 503, "unavailable")
    hooks.bus.available = True
    assert (await post_raw(hooks)).status_code == 202
    assert len(hooks.leads()) == 1


async def test_over_the_rate_sendgrid_gets_503_so_it_retries_and_the_others_429(hooks: Hooks) -> None:
    """SendGrid retries only a 5xx (a 4xx drops the email for good): over the rate it gets 503 with
    Retry-After; Mailgun and a mail server retry a 429, so they keep getting that."""
    statuses = {(await post_sendgrid(hooks)).status_code for _ in range(50)}  # the email burst
    assert statuses == {200, 202}
    limited = await post_sendgrid(hooks)
    body = assert_json_error(limited, 503, "rate_limited")
    assert "over" in body["detail"] and int(limited.headers["retry-after"]) >= 1
    for _ in range(50):
        await post_raw(hooks)
    assert_json_error(await post_raw(hooks), 429, "rate_limited")
    assert len(hooks.leads()) == 2


async def test_no_address_phone_or_secret_reaches_the_log(
    hooks: Hooks, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("info")
    # As `leadflow intake` runs it: uvicorn's access log off (it would print the path).
    logging.getLogger("uvicorn.access").propagate = False
    await post_sendgrid(hooks)
    await post_sendgrid(hooks, url=f"{SENDGRID}/{SENDGRID_SECRET}x")  # refused: the path is not logged
    await post_mailgun(hooks, mailgun_fields())
    await post_raw(hooks, b"not an email")
    lines = [line for line in capsys.readouterr().err.splitlines() if '"logger": "httpx"' not in line]
    logged = "\n".join(lines)  # the test's own HTTP client logs the URLs it calls: not the service
    assert '"accepted"' in logged and '"request_refused"' in logged
    for secret in (MARIA, JANE, "600 123 456", "1234 5678", SENDGRID_SECRET, "maria.lopez", "jane.doe"):
        assert secret not in logged
    for line in filter(None, logged.splitlines()):
        json.loads(line)
