"""A scriptable provider and a clock for the waterfall tests: what each call saw is recorded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from schemas.enrichment import Enrichment, Patch
from schemas.lead import Lead


@dataclass
class FakeProvider:
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    cost_per_call: float = 0.0
    delay: float = 0.0
    error: Exception | None = None
    cannot_help: bool = False
    fills: frozenset[str] = frozenset()
    seen: list[Enrichment] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        self.fills = self.fills or frozenset(self.values)

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        return None if self.cannot_help else f"{self.name}:{lead.company.name or lead.company.domain}"

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        self.seen.append(so_far)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return Patch(values=self.values, confidence=self.confidence) if self.values else None

    async def aclose(self) -> None:
        self.closed = True


class Clock:
    """A monotonic clock a test moves by hand (the caches' TTL runs on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
