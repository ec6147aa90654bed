"""The dead-letter queue as the dashboard sees it: read through the bus by a consumer group of
its own that never commits (like `leadflow replay`), and replay one letter or all of them."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass

from pydantic import ValidationError

from connectors.bus import Bus, Message
from schemas.events import TOPIC_DLQ, DeadLetter


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    letter: DeadLetter | None  # None: not a readable dead letter
    message: Message

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def lead_id(self) -> str | None:
        if self.letter is None or self.letter.encoding != "utf-8":
            return None
        try:
            value = json.loads(self.letter.value)
        except ValueError:
            return None
        lead = value.get("lead_id") if isinstance(value, dict) else None
        return str(lead) if lead is not None else None


async def read_letters(bus: Bus, *, limit: int = 1000, idle: float = 0.5, wait: float = 8.0) -> list[Letter]:
    """Every dead letter up to ``limit``, oldest first. Stops when the DLQ has been quiet for
    ``idle`` seconds after the first message, or after ``wait`` seconds when none came (a
    Kafka group takes a few seconds to join)."""
    depth = getattr(bus, "depth", None)  # an empty DLQ (the usual case) needs no group join
    if depth is not None and await depth(TOPIC_DLQ) == 0:
        return []
    consumer = await bus.consumer([TOPIC_DLQ], f"leadflow-dashboard-{uuid.uuid4().hex[:12]}")
    found: list[Letter] = []
    try:
        started = last = time.monotonic()
        while len(found) < limit:
            messages = await consumer.fetch(max_records=min(500, limit - len(found)), timeout=idle)
            now = time.monotonic()
            if messages:
                last = now
            elif (found and now - last >= idle) or now - started >= wait:
                break
            for m in messages:
                try:
                    letter: DeadLetter | None = DeadLetter.model_validate_json(m.value)
                except ValidationError:
                    letter = None
                found.append(Letter(m.partition, m.offset, letter, m))
    finally:
        await consumer.close()  # never committed: the next view reads from the start again
    return found


async def replay(bus: Bus, letters: list[Letter]) -> int:
    """Republish each letter on the topic it failed on, with its key and headers. Harmless
    twice: every consumer is idempotent by event_id."""
    done = 0
    for item in letters:
        if item.letter is None:
            continue
        letter = item.letter
        value = letter.value.encode() if letter.encoding == "utf-8" else base64.b64decode(letter.value)
        await bus.publish(letter.topic, letter.key, value, item.message.headers)
        done += 1
    return done
