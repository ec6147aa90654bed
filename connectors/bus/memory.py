"""An in-memory bus for unit tests: same semantics as the others, state readable by tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence

from connectors.bus import Headers, Message, last_per_partition
from connectors.errors import BusUnavailable


class MemoryBus:
    def __init__(self) -> None:
        self.topics: dict[str, list[Message]] = defaultdict(list)
        self.committed: dict[tuple[str, str], int] = {}  # (group, topic) -> next offset
        self.available = True  # tests set False to simulate an outage
        self._new = asyncio.Event()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        if not self.available:
            raise BusUnavailable("memory bus switched off")

    async def publish(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        await self.ping()
        log = self.topics[topic]
        log.append(Message(topic, 0, len(log), key, value, headers))
        self._new.set()

    async def consumer(self, topics: Sequence[str], group: str) -> MemoryConsumer:
        return MemoryConsumer(self, tuple(topics), group)

    async def depth(self, topic: str) -> int:
        return len(self.topics[topic])

    def values(self, topic: str) -> list[bytes]:
        return [m.value for m in self.topics[topic]]


class MemoryConsumer:
    def __init__(self, bus: MemoryBus, topics: tuple[str, ...], group: str) -> None:
        self._bus, self._topics, self._group = bus, topics, group
        self._position = {t: bus.committed.get((group, t), 0) for t in topics}

    def _take(self, max_records: int) -> list[Message]:
        out: list[Message] = []
        for topic in self._topics:
            pending = self._bus.topics[topic][self._position[topic] :][: max_records - len(out)]
            self._position[topic] += len(pending)
            out += pending
        return out

    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Message]:
        out = self._take(max_records)
        if not out:
            self._bus._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bus._new.wait(), timeout)
            out = self._take(max_records)
        return out

    async def lag(self) -> dict[tuple[str, int], int]:
        return {(t, 0): len(self._bus.topics[t]) - self._position[t] for t in self._topics}

    async def commit(self, messages: Sequence[Message]) -> None:
        for (topic, _), offset in last_per_partition(messages).items():
            self._bus.committed[(self._group, topic)] = offset + 1

    async def close(self) -> None:
        return None
