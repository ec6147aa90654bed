"""The message bus: one interface, adapters for the embedded SQLite queue and for Kafka.

Semantics shared by every adapter (checked by tests/connectors/bus/test_contract.py):
- ``publish`` returns only once the message is durable (SQLite committed, Kafka acks=all).
- Messages with the same key keep their order.
- Each consumer group sees every message; a group resumes from its last committed offset,
  so whatever was fetched but not committed is delivered again after a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: Headers = field(default=())


class Consumer(Protocol):
    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_records`` messages, waiting at most ``timeout`` seconds for the first."""
        ...

    async def commit(self, messages: Sequence[Message]) -> None:
        """Mark these messages (and all before them in their partitions) as done."""
        ...

    async def lag(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition) this consumer reads: messages after its position (metrics)."""
        ...

    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        """Durably append one message; raises BusUnavailable when it cannot."""
        ...

    async def consumer(self, topics: Sequence[str], group: str) -> Consumer:
        """A started consumer in ``group``, positioned at the group's committed offsets."""
        ...

    async def ping(self) -> None:
        """Raise BusUnavailable unless the bus is reachable."""
        ...


def last_per_partition(messages: Sequence[Message]) -> dict[tuple[str, int], int]:
    """The highest offset in each (topic, partition): what a commit of ``messages`` stores."""
    last: dict[tuple[str, int], int] = {}
    for m in messages:
        last[(m.topic, m.partition)] = max(m.offset, last.get((m.topic, m.partition), -1))
    return last
