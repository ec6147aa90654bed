"""A local webhook receiver (Slack-compatible or Standard Webhooks): keeps what it was sent and
can fail the first N deliveries, to see the notifier retry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Receiver:
    fail_first: int = 0
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    attempts: int = 0

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                return JSONResponse({"error": "try later"}, status_code=503)
            self.received.append((request.path_params["name"], dict(request.headers), await request.body()))
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])

    def bodies(self, name: str) -> list[Any]:
        import json

        return [json.loads(body) for n, _, body in self.received if n == name]
