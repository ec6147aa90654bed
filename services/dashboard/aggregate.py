"""Pure figures for the dashboard: percentiles, shares, rates. No I/O; rows in, numbers out."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TIER_ORDER = ("hot", "warm", "nurture", "disqualified")


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (an observed value, as ops expect for latencies); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def speed_to_lead(pairs: Iterable[tuple[datetime, datetime | None]]) -> dict[str, Any]:
    """p50/p90/p99 seconds from received to written in the CRM, over the leads written so far."""
    seconds = [(w - r).total_seconds() for r, w in pairs if w is not None]
    return {
        "count": len(seconds),
        **{f"p{p}": percentile(seconds, p) for p in (50, 90, 99)},
    }


def tier_sorted(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Tiers in their natural order first, any other (custom) tier after, by name."""
    known = [(t, counts[t]) for t in TIER_ORDER if t in counts]
    return known + sorted((t, n) for t, n in counts.items() if t not in TIER_ORDER)


@dataclass(frozen=True)
class Conversion:
    tier: str
    labelled: int
    converted: int

    @property
    def rate(self) -> float:
        """Percent of the labelled leads of this tier that converted."""
        return 100 * self.converted / self.labelled if self.labelled else 0.0


def conversion_by_tier(rows: Iterable[tuple[str, int]]) -> list[Conversion]:
    """From (tier, label) per labelled lead: how many converted per tier."""
    seen: dict[str, list[int]] = {}
    for tier, label in rows:
        seen.setdefault(tier, []).append(1 if label else 0)
    order = [t for t, _ in tier_sorted({t: len(v) for t, v in seen.items()})]
    return [Conversion(t, len(seen[t]), sum(seen[t])) for t in order]


@dataclass(frozen=True)
class Adherence:
    owner: str
    met: int
    breached: int
    open: int

    @property
    def rate(self) -> float | None:
        """Percent of the decided deadlines (met or breached) that were met."""
        decided = self.met + self.breached
        return 100 * self.met / decided if decided else None


def adherence_by_owner(rows: Iterable[dict[str, Any]]) -> list[Adherence]:
    """Folds the store's per (owner, tier) SLA counts into one line per person."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        t = totals.setdefault(row["owner"] or "(none)", [0, 0, 0])
        t[0] += row["met"]
        t[1] += row["breached"]
        t[2] += row["open"]
    return [Adherence(o, *totals[o]) for o in sorted(totals)]


def routed_to(owner: str | None, queue: str | None) -> str:
    """Where a lead went, as one label: the person, else the queue."""
    if owner:
        return owner
    return f"queue: {queue}" if queue else "(nobody)"


def routing_distribution(rows: Iterable[tuple[str | None, str | None, int]]) -> list[tuple[str, int]]:
    """From (owner, queue, count): leads per destination, most first."""
    totals: dict[str, int] = {}
    for owner, queue, n in rows:
        key = routed_to(owner, queue)
        totals[key] = totals.get(key, 0) + n
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def human_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"
