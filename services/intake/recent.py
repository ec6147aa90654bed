"""What this process published lately: (source, sender event id) -> content digest.

Two plain dicts of strings, the older dropped whole when the newer is ``ttl`` old or full: an
entry lives between ``ttl`` and twice that. Strings are not tracked by Python's collector and a
dict of nothing but strings is untracked too, so a full cache costs a collection nothing (a
``cachetools.TTLCache`` of 100,000 entries is 100,000 linked nodes for it to walk, 30 ms a pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RecentDeliveries:
    def __init__(self, ttl: float, maxsize: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._half = ttl, max(1, maxsize // 2)
        self._clock = clock
        self._newer: dict[str, str] = {}
        self._older: dict[str, str] = {}
        self._since = clock()

    @staticmethod
    def _key(source: str, event_id: str) -> str:
        # A source name is a slug (schemas.sources.SourceName): the first separator ends it.
        return f"{source}\x1f{event_id}"

    def get(self, source: str, event_id: str) -> str | None:
        key = self._key(source, event_id)
        found = self._newer.get(key)
        return found if found is not None else self._older.get(key)

    def put(self, source: str, event_id: str, digest: str) -> None:
        now = self._clock()
        if now - self._since >= self._ttl or len(self._newer) >= self._half:
            self._older, self._newer, self._since = self._newer, {}, now
        self._newer[self._key(source, event_id)] = digest
