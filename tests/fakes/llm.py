"""A fake OpenAI-compatible /v1/chat/completions endpoint: answers, hangs past the timeout, or
answers 200 with no choices at all (as a provider's content filter can) when the prompt mentions
one of ``no_choices_for``."""

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
    no_choices_for: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        async def completions(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append({"headers": dict(request.headers), "body": body})
            await asyncio.sleep(self.delay)
            # This request's own prompt: requests[-1] may be another one by now (concurrent calls).
            prompt = json.dumps(body.get("messages"))
            if any(needle in prompt for needle in self.no_choices_for):
                return JSONResponse({"id": "chatcmpl-1", "object": "chat.completion", "choices": []})
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
