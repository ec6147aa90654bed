"""An intake on a real loopback port, in a thread with its own event loop, for sync tests
(hypothesis and schemathesis drive requests synchronously)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from connectors.bus.memory import MemoryBus
from services.bootstrap import bootstrap
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.servers import serve
from tests.services.webhooks.conftest import NOW, SECRETS

TOKEN = "security-token"


def intake_app(data_dir: Path) -> Starlette:
    """The intake with every source's secret set, the in-memory bus, the webhook tests' fixed
    clock, and no rate limit (generated traffic is not a flood)."""
    settings = Settings(api_token=TOKEN, data_dir=data_dir, config_dir=CONFIG_DIR, **SECRETS)
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=MemoryBus()))
    app.state.rate_limiter.take = lambda *_: 0.0
    app.state.clock = lambda: NOW
    return app


@contextlib.contextmanager
def live(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a background thread; yields its base URL."""
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
    if "url" not in ready:
        raise RuntimeError("the intake did not start")
    try:
        yield ready["url"]
    finally:
        stop.set()
        thread.join(timeout=10)
