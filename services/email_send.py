"""Auto-send: first-touch email drafts whose rule says ``auto_send: true``, sent over SMTP.

The qualifier writes the draft with its decision (``email_drafts``, in the decision's
transaction); for an auto_send draft that row is also its outbox entry (recipient, due time,
tries). This sender runs in the writer role's background, apart from the CRM write-back, so a
slow or broken mail server never holds it up. Each send is bracketed by compare-and-sets on the
row: claim (``pending_approval`` -> ``sending``, a lease) before, ``sent`` after. The Message-ID
is derived from the event id, so if a sender dies between handing the mail over and recording
it, the one resend after the lease carries the same Message-ID and reads as a repeat. Failures
are retried with capped exponential backoff, then the draft is marked ``failed``. Drafts without
auto_send are never selected: they wait for their owner in the CRM.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib

from connectors.errors import ConnectorError
from connectors.store.sql import SqlStore
from schemas.config import RoutingConfig
from services.logs import get_logger
from services.notify import retry_after

log = get_logger(component="email_sender")
LEASE = timedelta(minutes=5)  # longer than one SMTP conversation may take (timeout below)
TIMEOUT = 60.0


class SmtpUrlError(ValueError):
    """LEADFLOW_SMTP_URL is not smtp://[user:pass@]host[:port] or smtps://... (never echoes it)."""


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes, from ``smtp://user:pass@host:port`` (STARTTLS when offered, port 587 by
    default) or ``smtps://...`` (implicit TLS, port 465 by default)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpUrlError("LEADFLOW_SMTP_URL must look like smtp://user:pass@host:port or smtps://...")
        try:
            port = parts.port
        except ValueError:
            raise SmtpUrlError("LEADFLOW_SMTP_URL has a bad port") from None  # no URL in the trace
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if tls else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=tls,
        )


def message_id(event_id: str, from_address: str) -> str:
    """``<leadflow.EVENT@domain>``: the same for every try of one draft."""
    safe = re.sub(r"[^A-Za-z0-9.\-_:]", "-", event_id)
    domain = from_address.rpartition("@")[2] or "leadflow.invalid"
    return f"<leadflow.{safe}.draft@{domain}>"


def build(row: dict[str, Any], config: RoutingConfig, from_address: str, now: datetime) -> EmailMessage:
    """The email for one draft row: from the owner's name at the configured address, replying to
    the owner when their address is in routing.yaml."""
    found = config.member(row["owner"])
    member = found[1] if found else None
    msg = EmailMessage()
    msg["From"] = formataddr((member.name if member else "", from_address))
    msg["To"] = row["to_address"]
    if member is not None and member.email:
        msg["Reply-To"] = member.email
    msg["Subject"] = row["subject"]
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(row["event_id"], from_address)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders should not answer it
    msg.set_content(row["body"])
    return msg


def failure(exc: Exception) -> tuple[bool, str]:
    """(permanent?, why), without the recipient's address (servers often echo it)."""
    code = getattr(exc, "code", None)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return True, "SMTPRecipientsRefused"
    if isinstance(code, int) and 500 <= code < 600:
        return True, f"{exc.__class__.__name__} {code}"
    return False, f"{exc.__class__.__name__} {code}" if code else exc.__class__.__name__


class EmailSender:
    """Sends due auto_send drafts; ``run`` in the writer role, ``tick`` once from tests."""

    def __init__(
        self,
        store: SqlStore,
        config: Callable[[], RoutingConfig],
        server: SmtpServer,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tls_context: Any = None,  # tests: trust a local server's certificate
        retry_base: float = 2.0,
    ) -> None:
        self._store, self._config, self._server, self._clock = store, config, server, clock
        self._tls_context, self._retry_base = tls_context, retry_base

    async def run(self, stop: asyncio.Event, every: float = 2.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except ConnectorError as exc:
                log.warning("email_sender_unavailable", error=exc.__class__.__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def tick(self) -> int:
        """Send what is due; returns how many were sent."""
        config = self._config()
        from_address = config.email.from_address
        if not from_address:
            return 0  # warned at start; the drafts stay pending_approval
        sent = 0
        for row in await self._store.claim_drafts(self._clock(), LEASE):
            ok = await self._send_one(row, config, from_address)
            sent += ok
        return sent

    async def _send_one(self, row: dict[str, Any], config: RoutingConfig, from_address: str) -> bool:
        event_id, attempts = row["event_id"], row["attempts"]
        if not row["to_address"]:
            await self._store.finish_draft(event_id, attempts, error="the lead has no email address")
            log.warning("email_not_sent", lead_id=row["lead_id"], event_id=event_id, error="no address")
            return False
        now = self._clock()
        msg = build(row, config, from_address, now)
        server = self._server
        try:
            await aiosmtplib.send(
                msg,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.implicit_tls,
                start_tls=None if not server.implicit_tls else False,  # STARTTLS when offered
                tls_context=self._tls_context,
                timeout=TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            permanent, why = failure(exc)
            last = permanent or attempts >= config.email.max_attempts
            retry = None if last else now + retry_after(attempts, base=self._retry_base)
            await self._store.finish_draft(event_id, attempts, retry_at=retry, error=why)
            log.warning("email_send_failed", lead_id=row["lead_id"], event_id=event_id, error=why,
                        attempt=attempts, retrying=retry is not None)  # fmt: skip
            return False
        recorded = await self._store.finish_draft(
            event_id, attempts, sent_at=now, message_id=str(msg["Message-ID"])
        )
        log.info("email_sent", lead_id=row["lead_id"], event_id=event_id, recorded=recorded)
        return True


def sender_for(
    smtp_url: str | None, config: Callable[[], RoutingConfig], store: SqlStore
) -> EmailSender | None:
    """The writer role's sender, or None with a warning when an auto_send rule cannot be honoured
    (its drafts then stay pending_approval for the owner)."""
    routing = config()
    wanted = [rule.id for rule in routing.rules if rule.auto_send]
    why = auto_send_problem(smtp_url, routing)
    if why is not None:
        if wanted:
            log.warning("auto_send_off", rules=wanted, reason=why)
        return None
    assert smtp_url is not None
    return EmailSender(store, config, SmtpServer.from_url(smtp_url))


def auto_send_problem(smtp_url: str | None, routing: RoutingConfig) -> str | None:
    """Why auto_send drafts would not be sent (None: they will be), for the writer and config check."""
    if smtp_url is None:
        return "no SMTP server configured (LEADFLOW_SMTP_URL): auto_send drafts stay pending_approval"
    try:
        SmtpServer.from_url(smtp_url)
    except SmtpUrlError as exc:
        return f"{exc}: auto_send drafts stay pending_approval"
    if not routing.email.from_address:
        return "no email.from_address in routing.yaml: auto_send drafts stay pending_approval"
    return None
