"""A lead from one inbound email: who wrote, for which company, and what they said.

Pure functions over text, shared by every email provider (Mailgun, SendGrid, raw MIME), so the
same email gives the same Lead whichever way it arrived. The rules, decided here:

- **Contact**: ``Reply-To`` when it names one address other than ``From`` (a reply reaches that
  person: form relays, assistants, "sent on behalf of" tools), else ``From``.
- **Automated mail is not a lead** (422): ``Auto-Submitted`` other than ``no`` (RFC 3834:
  out-of-office and other auto-replies), ``Precedence: bulk|junk|auto_reply``, or a contact
  mailbox such as ``mailer-daemon``, ``postmaster`` or ``no-reply``.
- **Message**: text/plain, else the text of text/html; quoted replies removed (mail-parser-reply:
  Gmail, Apple Mail and Outlook headers in en/de/es/fr), then the signature cut off.
- **Signature**: the lines after a ``-- `` delimiter, or after a sign-off line ("Best regards,",
  "Un saludo,", "Mit freundlichen Grüßen") followed by a name. Title, company and phone are read
  from it; company falls back to a name made from the sender's domain unless it is free mail.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import AddressHeader, HeaderRegistry
from html import unescape
from html.parser import HTMLParser
from typing import Any

from mailparser_reply import EmailMessage

from services.errors import NotALead

MAX_MESSAGE = 20_000  # Lead.message's limit
MAX_SCAN = 50_000  # the newest reply is at the top: past this it is history, and would be cut anyway
MAX_MESSAGE_ID = 150  # the event id is "email:<provider>:<message id>", at most 200 characters
REPLY_LANGUAGES = ("en", "de", "es", "fr")  # quote headers: "On … wrote:", "Am … schrieb", "El … escribió"

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
        "protonmail.com", "pm.me", "web.de", "t-online.de", "freenet.de", "mail.com", "zoho.com",
        "fastmail.com", "tutanota.com", "hey.com", "yandex.com", "yandex.ru", "mail.ru", "qq.com",
        "163.com", "orange.fr", "free.fr", "laposte.net", "libero.it", "wp.pl", "telefonica.net",
    }
)  # fmt: skip
# Country variants of the same services: gmx.de, gmx.net, yahoo.co.uk, hotmail.es, outlook.de...
FREE_MAIL_PREFIXES = ("gmx.", "yahoo.", "hotmail.", "outlook.", "live.")

AUTOMATED_MAILBOXES = frozenset({"mailer-daemon", "postmaster", "bounce", "bounces", "daemon"})
_NO_REPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply)(?:[-_.+].*)?$", re.I)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})

_SIGN_OFFS = (
    "best regards", "kind regards", "warm regards", "warmest regards", "regards", "best wishes",
    "best", "all the best", "many thanks", "thanks", "thank you", "thanks again", "cheers",
    "sincerely", "yours sincerely", "yours truly",
    "saludos", "un saludo", "saludos cordiales", "un cordial saludo", "atentamente",
    "cordialmente", "gracias", "muchas gracias", "un abrazo",
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "viele grüße",
    "beste grüße", "liebe grüße", "grüße", "mfg", "vielen dank", "danke",
    "cordialement", "bien cordialement", "merci",
)  # fmt: skip
_SIGN_OFF = re.compile(
    r"^(?:" + "|".join(re.escape(s) for s in sorted(_SIGN_OFFS, key=len, reverse=True)) + r")"
    r"\s*[,.!]*\s*(?P<name>.*)$",
    re.I,
)
_FOOTER = re.compile(
    r"^(?:sent from my|get outlook for|enviado desde mi|von meinem .* gesendet|envoyé de mon)\b", re.I
)
_TITLE = re.compile(
    r"\b(?:head|director|directora|manager|vp|svp|evp|vice president|ceo|cto|cfo|coo|cmo|cio|cro"
    r"|chief|founder|co-?founder|owner|president|partner|lead|officer|operations|engineer"
    r"|consultant|buyer|procurement|purchasing|specialist|coordinator|analyst|administrator"
    r"|gerente|jefe|jefa|responsable|fundador|fundadora|socio|socia|consejero|consejera"
    r"|leiter|leiterin|geschäftsführer|geschäftsführerin|inhaber|inhaberin|vorstand|einkauf"
    r"|prokurist|directeur|directrice|gérant|gérante)\b",
    re.I,
)
_LEGAL_FORM = re.compile(
    r"[\s,](?:gmbh|ag|kg|ug|se|ltd|limited|llc|llp|inc|corp|corporation|plc|pty|co"
    r"|s\.?\s?l\.?u?|s\.?\s?a\.?|s\.?a\.?s|s\.?r\.?l|s\.?p\.?a|b\.?v|n\.?v|oy|ab|a/s|sarl|lda)\.?$",
    re.I,
)
_PHONE = re.compile(r"(?<![\w@])(?:\+|00)?\(?\d[\d ().\-/]{5,}\d(?!\w)")
_WEB = re.compile(r"@|https?://|www\.", re.I)
_DASHES = "\u2013\u2014"  # en and em dash
_SEGMENTS = re.compile(rf"\s+(?:[|·•{_DASHES}]|-|at|@)\s+|,\s+")


@dataclass(frozen=True)
class Mailbox:
    name: str | None
    address: str

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0].lower()

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()


@dataclass(frozen=True)
class InboundMail:
    """One email as a provider delivered it, before extraction. Header names are lower-cased."""

    provider: str
    headers: Mapping[str, str]
    text: str | None = None
    html: str | None = None
    attachments: int = 0  # counted, never read

    @property
    def message_id(self) -> str | None:
        return normalise_message_id(self.headers.get("message-id"))


@dataclass(frozen=True)
class SignatureFacts:
    name: str | None = None
    title: str | None = None
    company: str | None = None
    phone: str | None = None


_HEADERS = HeaderRegistry()


def header_text(name: str, value: str | None) -> str | None:
    """A header value with RFC 2047 encoded words decoded (``=?utf-8?q?Mar=C3=ADa?=`` -> María)."""
    if not value:
        return None
    try:
        return str(_HEADERS(name, value)).strip() or None
    except (HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        return value.strip() or None


def parse_mailbox(value: str | None) -> Mailbox | None:
    """The first mailbox of an address header, or None when it has no usable address."""
    if not value:
        return None
    try:
        header = _HEADERS("from", value)
    except (HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        # The stdlib header parser has raised these on hostile input; such a header has no address.
        return None
    if not isinstance(header, AddressHeader):
        return None
    for address in header.addresses:
        if address.username and "." in address.domain:
            name = address.display_name.strip()
            usable = name and "@" not in name and len(name) <= 200
            return Mailbox(name if usable else None, address.addr_spec)
    return None


def pick_contact(sender: Mailbox | None, reply_to: Mailbox | None) -> Mailbox | None:
    """Whom a reply reaches: Reply-To when it is another, non-automated address, else From."""
    if reply_to is None or automated_mailbox(reply_to):
        return sender
    if sender is None or reply_to.address.lower() != sender.address.lower():
        return reply_to
    return Mailbox(sender.name or reply_to.name, sender.address)


def automated_mailbox(mailbox: Mailbox) -> str | None:
    local = mailbox.local_part.partition("+")[0]
    if local in AUTOMATED_MAILBOXES:
        return local
    return "no-reply" if _NO_REPLY.match(local) else None


def automated_reason(contact: Mailbox, headers: Mapping[str, str]) -> str | None:
    """Why this email is machine-sent and not from a person, or None."""
    auto = headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto} (an automatic reply or notification)"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence} (bulk or automatic mail)"
    mailbox = automated_mailbox(contact)
    return f"the sender is an automated mailbox ({mailbox})" if mailbox else None


def is_free_mail(domain: str) -> bool:
    domain = domain.lower()
    return domain in FREE_MAIL_DOMAINS or domain.startswith(FREE_MAIL_PREFIXES)


def company_from_domain(domain: str) -> str | None:
    """``northwind-logistics.co.uk`` -> ``Northwind Logistics``: a readable guess, enrichment refines it."""
    labels = domain.lower().split(".")
    if len(labels) < 2:
        return None
    # Second-level registries (co.uk, com.au, com.br...) hide the name one label further left.
    second_level = len(labels) >= 3 and labels[-2] in {"co", "com", "org", "net", "ac", "gov", "edu"}
    label = labels[-3] if second_level else labels[-2]
    if not label:
        return None
    if len(label) <= 3:
        return label.upper()
    return " ".join(word.capitalize() for word in re.split(r"[-_]+", label) if word)


def normalise_message_id(value: str | None) -> str | None:
    """``<abc@mail.example>`` -> ``abc@mail.example``; a very long id is hashed to fit an event id."""
    if not value:
        return None
    mid = value.strip().strip("<>").strip()
    if not mid:
        return None
    if len(mid) > MAX_MESSAGE_ID:
        return "sha256:" + hashlib.sha256(mid.encode()).hexdigest()
    return mid


class _Text(HTMLParser):
    """The text a reader sees: block elements become line breaks; quotes, scripts, styles dropped."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
         "section", "article", "header", "footer", "hr", "pre"}
    )  # fmt: skip
    HIDDEN = frozenset({"blockquote", "script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (quoted ``<blockquote>`` replies left out)."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except AssertionError:  # html.parser gives up on some broken "<![" sections: strip tags instead
        text = unescape(re.sub(r"<[^>]*>", "\n", html))
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def latest_reply(text: str) -> str:
    """The newest part of a thread: quoted replies ("On … wrote:", Outlook's From:/Sent: block,
    "-----Original Message-----", "> " lines) removed. Hyphen lists are kept as text."""
    text = text[:MAX_SCAN]
    message = EmailMessage(text=text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True).read()
    newest = message.replies[0].content if message.replies else text
    return "\n".join(line for line in newest.splitlines() if not line.startswith(">")).strip()


def looks_like_name(line: str) -> bool:
    """``Jane Doe``, ``María López-Ruiz``: one to four capitalised words, nothing else."""
    words = line.strip(f" -,{_DASHES}").split()
    return (
        0 < len(words) <= 4
        and len(line) <= 60
        and all(w[0].isupper() and not any(c.isdigit() for c in w) for w in words)
        and not _WEB.search(line)
        and not _TITLE.search(line)
        and not _LEGAL_FORM.search(" " + line)
    )


def sign_off(lines: Sequence[str]) -> tuple[int, str | None] | None:
    """(index, name on the same line) of the last sign-off that ends the message: after some text,
    followed by a name or by nothing, at most 12 lines from the end. ``Thanks, that works`` is not one."""
    for i in range(len(lines) - 1, 0, -1):
        match = _SIGN_OFF.match(lines[i].strip())
        if match is None or len(lines) - i > 13 or not any(line.strip() for line in lines[:i]):
            continue
        inline = match["name"].strip() or None
        rest = [line for line in lines[i + 1 :] if line.strip()]
        if inline is not None and not looks_like_name(inline):
            continue
        if inline or not rest or looks_like_name(rest[0]):
            return i, inline
    return None


def _is_footer(line: str) -> bool:
    """A mail app's own line ("Sent from my iPhone"), not a sentence that starts the same way."""
    return len(line) <= 60 and bool(_FOOTER.match(line))


def split_signature(text: str) -> tuple[str, tuple[str, ...]]:
    """(message, signature lines): the message without its sign-off, signature and phone footer."""
    lines = [line.rstrip() for line in text.splitlines() if not _is_footer(line.strip())]
    signature: list[str] = []
    delimiter = next((i for i, line in enumerate(lines) if line.strip() == "--"), None)
    if delimiter is not None:  # "-- " (RFC 3676); mail clients and the reply parser strip its space
        lines, signature = lines[:delimiter], lines[delimiter + 1 :]
    found = sign_off(lines)
    if found is not None:
        at, inline = found
        signature = [*([inline] if inline else []), *lines[at + 1 :], *signature]
        lines = lines[:at]
    message = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return message, tuple(line.strip() for line in signature if line.strip())


def normalise_phone(raw: str) -> str | None:
    """Lightly: ``+49 (0)30 1234-5678`` -> ``+49 30 1234 5678``; ``0034…`` -> ``+34…``; 7-15 digits."""
    value = raw.strip().replace("(0)", " ")
    if value.startswith("00"):
        value = "+" + value[2:]
    groups = re.findall(r"\d+", value)
    if not 7 <= sum(len(g) for g in groups) <= 15:
        return None
    return ("+" if value.startswith("+") else "") + " ".join(groups)


def find_phone(lines: Sequence[str]) -> str | None:
    for line in lines:
        for match in _PHONE.finditer(line):
            phone = normalise_phone(match.group())
            if phone:
                return phone
    return None


def _plain(line: str) -> bool:
    """A line that could be a title or a company: no address, link, phone or long sentence."""
    return len(line) <= 120 and len(line.split()) <= 8 and not _WEB.search(line) and not _PHONE.search(line)


def _squash(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def _is_company(segment: str, domain: str | None) -> bool:
    if _LEGAL_FORM.search(" " + segment):
        return True
    label = _squash(domain.split(".")[0]) if domain else ""
    return len(label) >= 3 and label in _squash(segment)


def find_title(lines: Sequence[str], domain: str | None = None) -> tuple[int, str, str | None] | None:
    """(line index, title, company on the same line) of the first line that reads as a job title:
    ``Head of Operations``, ``VP Sales | Northwind``, ``CEO at Globex``, ``Directora de Operaciones``."""
    for i, line in enumerate(lines):
        if not _plain(line):
            continue
        segments = _SEGMENTS.split(line)
        separators = [s.strip() for s in _SEGMENTS.findall(line)]
        # "Northwind Operations GmbH" names a company, not a job.
        titles = (n for n, s in enumerate(segments) if _TITLE.search(s) and not _LEGAL_FORM.search(" " + s))
        at = next(titles, None)
        if at is None:
            continue
        company = segments[at + 1] if at + 1 < len(segments) else None
        # "VP Sales, EMEA": after a comma only a recognisable company counts.
        if company is not None and separators[at] == "," and not _is_company(company, domain):
            company = None
        return i, segments[at].strip(), company
    return None


def find_company(lines: Sequence[str], domain: str | None, title_at: int | None) -> str | None:
    """A line with a legal form (GmbH, S.L., Ltd), else one naming the sender's domain, else the
    line right after the title (Name / Title / Company)."""
    plain = [(i, line) for i, line in enumerate(lines) if _plain(line) and i != title_at]
    legal = next((line for _, line in plain if _LEGAL_FORM.search(" " + line)), None)
    if legal:
        return legal
    # Without a legal form, digits mean a street address or a postcode, title words a job.
    plain = [(i, line) for i, line in plain if not _TITLE.search(line) and not any(c.isdigit() for c in line)]
    for i, line in plain:
        if domain and _is_company(line, domain) and not (i == 0 and looks_like_name(line)):
            return line
    if title_at is not None:
        return next((line for i, line in plain if i == title_at + 1), None)
    return None


def read_signature(lines: Sequence[str], domain: str | None) -> SignatureFacts:
    """Name, title, company and phone from a signature block's lines."""
    if not lines:
        return SignatureFacts()
    name = lines[0] if looks_like_name(lines[0]) else None
    titled = find_title(lines, domain)
    title, company = (titled[1], titled[2]) if titled else (None, None)
    company = company or find_company(lines, domain, titled[0] if titled else None)
    return SignatureFacts(name, title, company, find_phone(lines))


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """``Jane Doe`` -> (Jane, Doe); ``López, María`` -> (María, López); ``Jane (Acme)`` -> (Jane, None)."""
    if not name:
        return None, None
    name = re.sub(r"\s*[(\[].*?[)\]]\s*", " ", name).strip(" '\"")
    if name.count(",") == 1:
        last, first = (part.strip() for part in name.split(","))
        name = f"{first} {last}".strip()
    first, _, last = name.partition(" ")
    return first or None, last.strip() or None


def message_of(mail: InboundMail) -> str:
    """The body a person wrote, as text: text/plain, else the text of text/html."""
    if mail.text and mail.text.strip():
        return mail.text
    return html_to_text(mail.html) if mail.html else ""


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def lead_data(mail: InboundMail) -> dict[str, Any]:
    """The Lead (as a dict for ``parse_lead``) an email stands for; NotALead (422) for mail no
    person sent or without a sender address."""
    contact = pick_contact(
        parse_mailbox(mail.headers.get("from")), parse_mailbox(mail.headers.get("reply-to"))
    )
    if contact is None:
        raise NotALead("the email has no sender address (From)")
    reason = automated_reason(contact, mail.headers)
    if reason:
        raise NotALead(f"not a lead: {reason}")
    message, signature = split_signature(latest_reply(message_of(mail)))
    free = is_free_mail(contact.domain)
    facts = read_signature(signature, None if free else contact.domain)
    first, last = split_name(contact.name or facts.name)
    return {
        "source": "email",
        "person": _drop_none(
            {
                "first_name": first,
                "last_name": last,
                "email": contact.address,
                "phone": facts.phone,
                "title": facts.title,
            }
        ),
        "company": _drop_none(
            {
                "name": facts.company or (None if free else company_from_domain(contact.domain)),
                "domain": None if free else contact.domain,
            }
        ),
        "message": message[:MAX_MESSAGE] or None,
        "attributes": {
            "provider": mail.provider,
            "subject": header_text("subject", mail.headers.get("subject")),
            "message_id": mail.message_id,
            "attachments": mail.attachments,
        },
    }
