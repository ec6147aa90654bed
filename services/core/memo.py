"""Work done once per config object instead of once per lead.

Config models are frozen, so what is derived from one (compiled patterns, lower-cased
tables, sets) never goes stale; a reload makes a new object and so a new entry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

C = TypeVar("C")
R = TypeVar("R")

_KEEP = 8  # configs alive at once: the current one, and a few in tests or during a reload


def per_config(build: Callable[[C], R]) -> Callable[[C], R]:
    """Memoise ``build(config)`` by the config's identity (pydantic models with dicts can't be hashed)."""
    cache: dict[int, tuple[C, R]] = {}

    @functools.wraps(build)
    def cached(config: C) -> R:
        hit = cache.get(id(config))
        if hit is not None and hit[0] is config:
            return hit[1]
        if len(cache) >= _KEEP:
            cache.pop(next(iter(cache)))
        result = build(config)
        cache[id(config)] = (config, result)  # holding the config keeps its id from being reused
        return result

    return cached


class Bounded(dict[object, object]):
    """A memo table that forgets everything when full: cheap, and enough for repeating keys."""

    def __init__(self, limit: int = 65_536) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: object, value: R) -> R:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
