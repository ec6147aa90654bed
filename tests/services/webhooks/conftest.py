"""A running intake (real HTTP, real SQLite store for dedupe) on the in-memory bus, with a
clock the test controls. Every webhook test module uses the ``hooks`` fixture."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.bus.memory import MemoryBus
from schemas.events import TOPIC_FEEDBACK, TOPIC_RECEIVED, LeadFeedback, LeadReceived
from services.bootstrap import bootstrap
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.servers import serve

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)

SECRETS: dict[str, Any] = {
    "hubspot_client_secret": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
    "mailgun_signing_key": "key-mailgun-test",
    "sendgrid_secret": "sendgrid-test-secret",
    "email_secret": "raw-email-test-secret",
    "linkedin_client_secret": "linkedin-test-secret",
    "typeform_secret": "typeform-test-secret",
    "standard_secrets": {"partner-portal": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
}


@dataclass
class Hooks:
    client: httpx.AsyncClient
    bus: MemoryBus
    app: Starlette
    base_url: str
    now: datetime = field(default=NOW)
    monotonic: float = 0.0  # frozen unless a test moves it: rate limits are deterministic

    def set_now(self, now: datetime) -> None:
        self.now = now
        self.app.state.clock = lambda: self.now
        self.app.state.monotonic = lambda: self.monotonic

    def unlimited(self) -> None:
        """Lift rate limits, for tests about something else."""
        self.app.state.rate_limiter.take = lambda *_: 0.0

    def leads(self) -> list[LeadReceived]:
        return [LeadReceived.model_validate_json(v) for v in self.bus.values(TOPIC_RECEIVED)]

    def feedback(self) -> list[LeadFeedback]:
        return [LeadFeedback.model_validate_json(v) for v in self.bus.values(TOPIC_FEEDBACK)]

    def published(self) -> int:
        return sum(len(v) for v in self.bus.topics.values())


def assert_json_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The documented status, a JSON body naming the problem, no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = json.loads(response.text)
    assert body["error"] == code and body["detail"]
    assert "Traceback" not in response.text
    return body


@pytest.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Hooks]:
    settings = Settings(api_token="t", data_dir=tmp_path, config_dir=CONFIG_DIR, **SECRETS)
    bus = MemoryBus()
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=bus))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        hooks = Hooks(client, bus, app, url)
        hooks.set_now(NOW)
        yield hooks
