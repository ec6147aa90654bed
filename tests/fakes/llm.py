"""A fake OpenAI-compatible /v1/chat/completions endpoint: answers, or hangs past the timeout."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class FakeLlm:
    delay: float = 0.0
    angle: str = "Lead with their 40-depot billing pain."
    next_step: str = "Book a 20-minute billing demo this week."
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def completions(request: Request) -> JSONResponse:
            self.requests.append({"headers": dict(request.headers), "body": await request.json()})
            await asyncio.sleep(self.delay)
            content = json.dumps({"angle": self.angle, "next_step": self.next_step})
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
