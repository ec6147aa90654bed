"""Inbound email as a lead: Mailgun routes, SendGrid Inbound Parse, raw MIME from any MTA.

- **mailgun**: a route's ``forward("https://HOST/webhooks/email/mailgun")`` posts the parsed
  message (urlencoded, or multipart with attachments). ``signature`` is the hex HMAC-SHA256 of
  ``timestamp + token`` with the signing key; ``timestamp`` must be inside the replay window.
  Mailgun retries every answer but 200 and 406, so a published email is answered 200, not 202.
- **sendgrid**: Inbound Parse posts multipart (``from``, ``subject``, ``text``, ``html``, the raw
  ``headers``, ``charsets``, ``attachments`` and one file part per attachment; with "Send Raw",
  the whole message in ``email``). It is unsigned: the shared secret comes as the last path
  segment (``/webhooks/email/sendgrid/{secret}``) or as the basic-auth password. SendGrid retries
  only a 5xx and drops the email on any 4xx, so over the rate it gets 503, not 429.
- **raw**: ``Content-Type: message/rfc822``, the message as-is, with the same secret scheme.

Each provider's deliveries are deduplicated by Message-ID (a retry, a replay, one email sent to
two addresses on one route); without one, Mailgun's delivery token or a digest of the content
stands in. Event ids read ``email:<provider>:<id>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from email import policy
from email.errors import MessageError
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser, HeaderParser
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.errors import Malformed, NotALead, RateLimited, RateLimitedRetry, Rejected, Unauthorized
from services.intake.body import parse_json
from services.intake.email_parse import InboundMail, lead_data
from services.intake.formdata import FormData, parse_form
from services.intake.guard import admit
from services.intake.openapi_parts import ACCEPTED, WEBHOOK_ERRORS
from services.intake.publish import lead_inbound
from services.intake.respond import accept_all, parse_lead
from services.intake.signatures import check_window, hmac_sha256, same

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
MEDIA_TYPES = {"mailgun": FORM_TYPES, "sendgrid": FORM_TYPES, "raw": ("message/rfc822",)}
# The headers extraction reads; the rest of a message's headers is never kept.
HEADERS = ("from", "reply-to", "subject", "message-id", "date", "auto-submitted", "precedence")


def mailgun_signature(key: bytes, timestamp: str, token: str) -> str:
    return hmac_sha256(key, (timestamp + token).encode()).hex()


def verify_mailgun(fields: Mapping[str, str], key: bytes, now: float, window: float) -> str:
    """Check one Mailgun post; return its token. Raises Unauthorized saying which check failed."""
    timestamp, token, signature = (fields.get(name, "") for name in ("timestamp", "token", "signature"))
    for name, value in (("timestamp", timestamp), ("token", token), ("signature", signature)):
        if not value:
            raise Unauthorized(f"missing field {name}")
    if not same(signature.lower(), mailgun_signature(key, timestamp, token)):
        raise Unauthorized("signature does not match the Mailgun signing key")
    if not re.fullmatch(r"\d{1,12}", timestamp):
        raise Unauthorized("timestamp is not a Unix timestamp in seconds")
    check_window(int(timestamp), now, window, "timestamp")
    return token


def basic_password(authorization: str | None) -> str | None:
    """The password of ``Authorization: Basic base64(user:password)``, any user name; None without one."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        return None
    try:
        user_password = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("Authorization: Basic is not base64 of user:password") from exc
    _, colon, password = user_password.partition(":")
    if not colon:
        raise Unauthorized("Authorization: Basic is not base64 of user:password")
    return password


def check_secret(secret: SecretStr | None, given: str | None, setting: str) -> None:
    """The shared secret of an unsigned provider, compared in constant time."""
    if secret is None:
        raise Unauthorized(f"no secret is configured for this provider ({setting})")
    if given is None:
        raise Unauthorized("no secret given: add it as the last path segment or as the basic-auth password")
    if not same(given, secret.get_secret_value()):
        raise Unauthorized("the secret does not match")


def header_map(message: Message) -> dict[str, str]:
    """The headers extraction reads, first value each, as sent (encoded words are decoded later)."""
    headers: dict[str, str] = {}
    for name, value in message.raw_items():
        if name.lower() in HEADERS:
            headers.setdefault(name.lower(), re.sub(r"\r?\n[ \t]", " ", str(value)).strip())
    return headers


def parse_headers(block: str) -> dict[str, str]:
    return header_map(HeaderParser(policy=policy.default).parsestr(block, headersonly=True))


def _content(part: MIMEPart | None) -> str | None:
    if part is None:
        return None
    try:
        content = str(part.get_content())
    except (LookupError, UnicodeError):  # an unknown or lying charset: keep what can be read
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content.replace("\r\n", "\n")


def mime_mail(raw: bytes, provider: str) -> InboundMail:
    """An RFC 5322 message (with MIME parts) as an InboundMail; 400 when it is not one."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        if not message.keys():
            raise Malformed("the body is not an email message: it has no headers")
        assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
        return InboundMail(
            provider,
            header_map(message),
            text=_content(message.get_body(preferencelist=("plain",))),
            html=_content(message.get_body(preferencelist=("html",))),
            attachments=sum(
                1
                for part in message.walk()
                if not part.is_multipart()
                and (part.get_filename() or part.get_content_disposition() == "attachment")
            ),
        )
    except (MessageError, ValueError, IndexError) as exc:  # the stdlib parser's ways to give up
        raise Malformed("the email message cannot be parsed") from exc


def _count(value: str | None) -> int:
    return int(value) if value and re.fullmatch(r"\d{1,6}", value.strip()) else 0


def header_pairs(value: str | None) -> dict[str, str]:
    """Mailgun's ``message-headers``: a JSON list of [name, value], read for the headers we use."""
    try:
        pairs = parse_json((value or "[]").encode())
    except Malformed as exc:
        raise Malformed("message-headers is not valid JSON") from exc
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in pairs
    ):
        raise Malformed("message-headers is not a JSON list of [name, value] pairs")
    headers: dict[str, str] = {}
    for name, header in pairs:
        if name.lower() in HEADERS:
            headers.setdefault(name.lower(), header)
    return headers


def mailgun_mail(form: FormData) -> InboundMail:
    """Mailgun's parsed message: ``message-headers`` and the field it also posts for each header,
    ``body-plain``, ``body-html``, ``attachment-count`` and one file part per attachment."""
    fields = {name.lower(): value for name, value in form.texts().items()}
    headers = header_pairs(fields.get("message-headers"))
    for name in HEADERS:
        if fields.get(name) and name not in headers:
            headers[name] = fields[name]
    attachments = max(_count(fields.get("attachment-count")), form.files)
    return InboundMail("mailgun", headers, fields.get("body-plain"), fields.get("body-html"), attachments)


def sendgrid_mail(form: FormData) -> InboundMail:
    """SendGrid's parsed message (the raw ``headers`` block; ``text``, ``html`` and ``from``,
    ``subject`` in the charsets ``charsets`` names), or its raw message in ``email``."""
    if "email" in form.fields:
        return mime_mail(form.fields["email"], "sendgrid")
    try:
        charsets = parse_json((form.text("charsets") or "{}").encode())
    except Malformed:
        charsets = {}  # only a hint: the fields are then read as UTF-8
    charsets = {k: v for k, v in charsets.items() if isinstance(v, str)} if isinstance(charsets, dict) else {}
    headers = parse_headers(form.text("headers") or "")
    for name in ("from", "subject"):
        value = form.text(name, charsets.get(name))
        if value and name not in headers:
            headers[name] = value
    return InboundMail(
        "sendgrid",
        headers,
        form.text("text", charsets.get("text")),
        form.text("html", charsets.get("html")),
        max(_count(form.text("attachments")), form.files),
    )


def content_id(mail: InboundMail) -> str:
    """A stand-in for a missing Message-ID: the same email posted again gets the same id."""
    parts = [
        *(mail.headers.get(h, "") for h in ("from", "date", "subject")),
        mail.text or "",
        mail.html or "",
    ]
    return "sha256:" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def read_mailgun(request: Request, body: bytes) -> tuple[InboundMail, str]:
    """Verify and read a Mailgun post; dedupe by Message-ID, else by its delivery token."""
    state = request.app.state
    key = state.settings.mailgun_signing_key
    if key is None:
        raise Unauthorized("no Mailgun signing key is configured (LEADFLOW_MAILGUN_SIGNING_KEY)")
    form = parse_form(request.headers.get("content-type", ""), body)
    sources = state.container.config.sources
    window = sources.window_for(sources.email)
    token = verify_mailgun(form.texts(), key.get_secret_value().encode(), state.clock().timestamp(), window)
    mail = mailgun_mail(form)
    return mail, mail.message_id or f"mailgun-token:{token[:100]}"


def given_secret(request: Request) -> str | None:
    return request.path_params.get("key") or basic_password(request.headers.get("authorization"))


def read_sendgrid(request: Request, body: bytes) -> tuple[InboundMail, str]:
    check_secret(
        request.app.state.settings.sendgrid_secret, given_secret(request), "LEADFLOW_SENDGRID_SECRET"
    )
    mail = sendgrid_mail(parse_form(request.headers.get("content-type", ""), body))
    return mail, mail.message_id or content_id(mail)


def read_raw(request: Request, body: bytes) -> tuple[InboundMail, str]:
    check_secret(request.app.state.settings.email_secret, given_secret(request), "LEADFLOW_EMAIL_SECRET")
    mail = mime_mail(body, "raw")
    return mail, mail.message_id or content_id(mail)


READERS = {"mailgun": read_mailgun, "sendgrid": read_sendgrid, "raw": read_raw}


async def receive(request: Request) -> JSONResponse:
    provider = request.path_params["provider"]
    state = request.app.state
    email = state.container.config.sources.email
    # Mailgun signs its posts: a secret in its path is a mistake, not a second way in.
    on = provider in email.providers and not (provider == "mailgun" and "key" in request.path_params)
    try:
        body = await admit(request, f"email:{provider}", email if on else None, MEDIA_TYPES.get(provider, ()))
    except RateLimited as exc:
        if provider == "sendgrid":  # SendGrid retries only a 5xx: a 429 would drop the email
            raise RateLimitedRetry(exc.detail, exc.extra, exc.headers) from exc
        raise
    mail, delivery_id = READERS[provider](request, body)
    try:
        lead = parse_lead(lead_data(mail), default_source="email")
    except NotALead as exc:
        if provider == "mailgun":  # any other refusal makes Mailgun retry for 8 hours
            raise Rejected(exc.detail, exc.extra) from exc
        raise
    # Deduped per provider: a sender's retries and replays; the lead's source is "email" for all.
    inbound = lead_inbound(f"email:{provider}", delivery_id, lead, state.clock())
    response = await accept_all(request, [inbound])
    if provider == "mailgun":
        response.status_code = 200  # Mailgun retries any answer but 200 and 406, a 202 too
    return response


ROUTES = [
    Route("/webhooks/email/{provider}", receive, methods=["POST"]),
    Route("/webhooks/email/{provider}/{key}", receive, methods=["POST"]),
]

_FIELDS = (
    "timestamp", "token", "signature", "sender", "from", "recipient", "subject", "body-plain",
    "stripped-text", "stripped-signature", "body-html", "message-headers", "Message-Id",
    "attachment-count", "to", "text", "html", "headers", "envelope", "charsets", "SPF", "dkim",
    "attachments", "email",
)  # fmt: skip
_FORM = {
    "type": "object",
    "description": "Mailgun forward() fields, or SendGrid Inbound Parse fields; attachments as file "
    "parts (counted, never read)",
    "properties": {name: {"type": "string"} for name in _FIELDS},
}
_MIME = {"type": "string", "format": "binary", "description": "An RFC 5322 message as-is"}


def _operation(provider_values: list[str], summary: str, keyed: bool) -> dict[str, Any]:
    content: dict[str, Any] = {"message/rfc822": {"schema": _MIME}}
    content.update({media: {"schema": _FORM} for media in FORM_TYPES})
    parameters: list[dict[str, Any]] = [
        {
            "name": "provider",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": provider_values},
        }
    ]
    if keyed:
        parameters.append(
            {
                "name": "key",
                "in": "path",
                "required": True,
                "description": "The shared secret (LEADFLOW_SENDGRID_SECRET or LEADFLOW_EMAIL_SECRET)",
                "schema": {"type": "string"},
            }
        )
    return {
        "post": {
            "summary": summary,
            "description": "mailgun: form body signed with timestamp/token/signature. sendgrid: "
            "multipart form. raw: message/rfc822. sendgrid and raw need the shared secret, in the "
            "path or as the basic-auth password (Authorization: Basic).",
            "parameters": parameters,
            "requestBody": {"required": True, "content": content},
            "responses": {
                "202": {"description": "Published (sendgrid, raw)", **ACCEPTED},
                "200": {
                    "description": "mailgun: published or a repeat (Mailgun retries anything but 200); "
                    "sendgrid, raw: a repeat of a Message-ID already published",
                    **ACCEPTED,
                },
                **WEBHOOK_ERRORS,
            },
        }
    }


OPENAPI = {
    "/webhooks/email/{provider}": _operation(
        ["mailgun", "sendgrid", "raw"], "An inbound email as a lead (Mailgun, SendGrid, raw MIME)", False
    ),
    "/webhooks/email/{provider}/{key}": _operation(
        ["sendgrid", "raw"], "An inbound email as a lead, the shared secret in the path", True
    ),
}
