"""Auto-send of first-touch drafts against a local SMTP server (aiosmtpd): sent once with a
Message-ID from the event id, never without auto_send, retried then failed when the server is
away, and left pending (with a reason) when no sender is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.config import EmailConfig, Member, RoutingConfig, Rule, Team
from schemas.decision import EmailDraft, Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.events import LeadRouted
from schemas.lead import Lead
from services.email_send import EmailSender, SmtpServer, auto_send_problem, sender_for
from tests.servers import free_port

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ROUTING = RoutingConfig(
    teams=(Team(name="Pool", members=(Member(id="ana", name="Ana Garcia", email="ana@example.com"),)),),
    rules=(Rule(id="hot", team="Pool", draft_email=True, auto_send=True),),
    email=EmailConfig(from_address="sales@example.com", max_attempts=3),
)


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.refuse = False  # answer DATA with a permanent 554

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "554 5.7.1 Message rejected"
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"leadflow",
        b"s3cr3t",
    )
    return AuthResult(success=ok)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    store = SqlStore(engine)
    await store.start()
    yield store
    await store.close()
    await engine.dispose()


def routed(n: int, *, auto_send: bool = True, email: str | None = "maria@acme-logistics.com") -> LeadRouted:
    fit = FitResult(status=Fit.YES, reason="fits")
    draft = EmailDraft(
        subject="Acme and Leadflow", body="Hi Maria,\n\nA call this week?\n\nAna", auto_send=auto_send
    )
    person = (
        {"email": email, "first_name": "Maria"} if email else {"first_name": "Maria", "phone": "+34600123456"}
    )
    return LeadRouted(
        event_id=f"ev-{n}",
        lead_id=f"lead-{n}",
        received_at=T0,
        decided_at=T0,
        config_version="cfg1",
        lead=Lead(person=person, source="web"),  # type: ignore[arg-type]
        evaluation=Evaluation(
            icp=fit,
            persona=fit,
            engagement=10,
            score=80,
            tier="hot",
            status=Status.QUALIFIED,
            reasons=("fits",),
        ),
        routing=RoutingDecision(rule_id="hot", owner="ana", team="Pool", reason="next", draft=draft),
        briefing="Maria at Acme.",
    )


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


def sender(store: SqlStore, port: int, clock: Clock) -> EmailSender:
    server = SmtpServer.from_url(f"smtp://leadflow:s3cr3t@127.0.0.1:{port}")
    return EmailSender(store, lambda: ROUTING, server, clock=clock)


async def test_an_auto_send_draft_is_sent_once_with_a_message_id_from_its_event(
    store: SqlStore, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    await store.record_routed(routed(1))
    await store.record_routed(routed(1))  # a redelivered decision: still one draft
    clock = Clock()
    mailer = sender(store, port, clock)
    assert await mailer.tick() == 1
    clock.now += timedelta(hours=1)
    assert await mailer.tick() == 0  # sent is final: never again
    [(mail_from, rcpts, msg)] = inbox.messages
    assert (mail_from, rcpts) == ("sales@example.com", ["maria@acme-logistics.com"])
    assert msg["Subject"] == "Acme and Leadflow" and msg["Reply-To"] == "ana@example.com"
    assert msg["From"] == "Ana Garcia <sales@example.com>"
    assert msg["Message-ID"] == "<leadflow.ev-1.draft@example.com>"
    assert "A call this week?" in msg.get_payload()
    [draft] = await store.drafts_for("lead-1")
    assert draft["state"] == "sent" and draft["message_id"] == msg["Message-ID"] and draft["attempts"] == 1


async def test_a_draft_without_auto_send_is_never_sent(store: SqlStore, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    await store.record_routed(routed(1, auto_send=False))
    clock = Clock()
    mailer = sender(store, port, clock)
    for _ in range(3):
        assert await mailer.tick() == 0
        clock.now += timedelta(days=1)
    assert inbox.messages == []
    [draft] = await store.drafts_for("lead-1")
    assert draft["state"] == "pending_approval" and draft["to_address"] is None and draft["attempts"] == 0


async def test_two_senders_send_a_draft_once(store: SqlStore, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    for n in range(1, 6):
        await store.record_routed(routed(n))
    clock = Clock()
    first, second = sender(store, port, clock), sender(store, port, clock)
    assert await first.tick() + await second.tick() == 5
    assert sorted(m["Message-ID"] for _, _, m in inbox.messages) == [
        f"<leadflow.ev-{n}.draft@example.com>" for n in range(1, 6)
    ]


async def test_failures_are_retried_then_recorded_without_the_address(
    store: SqlStore, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    await store.record_routed(routed(1))
    clock = Clock()
    mailer = sender(store, free_port(), clock)  # nothing listens there
    for _ in range(5):
        await mailer.tick()
        clock.now += timedelta(minutes=10)
    [draft] = await store.drafts_for("lead-1")
    assert (draft["state"], draft["attempts"]) == ("failed", ROUTING.email.max_attempts)
    assert "maria" not in (draft["last_error"] or "") and draft["last_error"]
    assert inbox.messages == []


async def test_a_permanent_refusal_is_final(store: SqlStore, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    await store.record_routed(routed(1))
    inbox.refuse = True
    clock = Clock()
    mailer = sender(store, port, clock)
    assert await mailer.tick() == 0
    [draft] = await store.drafts_for("lead-1")
    assert (draft["state"], draft["attempts"], draft["last_error"]) == ("failed", 1, "SMTPDataError 554")
    inbox.refuse = False
    clock.now += timedelta(days=1)
    assert await mailer.tick() == 0 and inbox.messages == []


async def test_a_lead_without_email_fails_its_draft_and_sends_nothing(
    store: SqlStore, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    await store.record_routed(routed(1, email=None))
    assert await sender(store, port, Clock()).tick() == 0
    [draft] = await store.drafts_for("lead-1")
    assert draft["state"] == "failed" and inbox.messages == []


async def test_without_a_configured_sender_drafts_stay_pending_and_it_says_why(store: SqlStore) -> None:
    assert sender_for(None, lambda: ROUTING, store) is None
    assert "LEADFLOW_SMTP_URL" in (auto_send_problem(None, ROUTING) or "")
    no_from = ROUTING.model_copy(update={"email": EmailConfig()})
    assert "from_address" in (auto_send_problem("smtp://h:25", no_from) or "")
    assert "smtp://" in (auto_send_problem("http://h", ROUTING) or "")
    assert auto_send_problem("smtps://u:p@h", ROUTING) is None
    assert sender_for("smtp://127.0.0.1:25", lambda: ROUTING, store) is not None


def test_smtp_urls() -> None:
    plain = SmtpServer.from_url("smtp://user%40x:p%2Fw@mail.example.com")
    assert (plain.host, plain.port, plain.username, plain.password, plain.implicit_tls) == (
        "mail.example.com", 587, "user@x", "p/w", False,
    )  # fmt: skip
    tls = SmtpServer.from_url("smtps://mail.example.com:2465")
    assert (tls.port, tls.implicit_tls, tls.username) == (2465, True, None)
