"""Schemathesis against /openapi.json on a live intake: no 5xx, no response that breaks the spec.

Bounded (a few dozen examples per operation) so it fits the suite; run it longer with
`HYPOTHESIS_MAX_EXAMPLES=500 pytest tests/services/test_openapi.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connectors.bus.memory import MemoryBus
from services.bootstrap import bootstrap
from services.intake.openapi import document
from services.intake.openapi_parts import GUESSING
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.servers import serve

TOKEN = "schema-token"
MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The intake on a real port, in a thread with its own event loop (schemathesis is sync)."""
    data = Path(tmp_path_factory.mktemp("openapi"))
    config = Settings(api_token=TOKEN, data_dir=data, config_dir=CONFIG_DIR, hubspot_client_secret="s")
    app = create_app(config, ("intake",), build=lambda: bootstrap(config, bus=MemoryBus()))
    app.state.rate_limiter.take = lambda *_: 0.0  # generated traffic must not be throttled
    ready: dict[str, Any] = {}
    stop = threading.Event()

    async def main() -> None:
        async with serve(app) as url:
            ready["url"] = url
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    while "url" not in ready and thread.is_alive():
        threading.Event().wait(0.02)
    yield ready["url"]
    stop.set()
    thread.join(timeout=10)


# Built from the same function that serves /openapi.json (no I/O at import); a test below
# checks the served document is this one.
# Raw MIME email is text on the wire; schemathesis needs telling how to send it.
schemathesis.serializer.alias("message/rfc822", "text/plain")
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_every_operation_keeps_its_contract(case: Any, live_url: str) -> None:
    case.call_and_validate(base_url=live_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def test_the_served_document_is_the_one_tested(live_url: str) -> None:
    assert httpx.get(f"{live_url}/openapi.json").json() == json.loads(json.dumps(document()))


def test_every_bearer_operation_documents_the_guessing_limit() -> None:
    bearer = [
        (path, method, op["responses"])
        for path, ops in document()["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and op.get("security") == [{"bearer": []}]
    ]
    assert len(bearer) == 8
    for path, method, responses in bearer:
        assert responses.get("429") == GUESSING and "401" in responses, (method, path)
