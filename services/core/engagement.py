"""Engagement and intent: points per activity, halved every half-life, capped at 100."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from schemas.config import Engagement
from schemas.lead import Activity, Lead
from services.core.memo import per_config


@dataclass(frozen=True, slots=True)
class _Points:
    by_type: dict[str, int]  # lower-cased activity type -> points
    pages: tuple[tuple[str, int], ...]  # URL fragment -> points, in config order
    half_life_days: float
    message: int


@per_config
def _points(config: Engagement) -> _Points:
    return _Points(
        by_type={k.lower(): v for k, v in config.points.items()},
        pages=tuple(config.page_points.items()),
        half_life_days=config.half_life_days,
        message=config.message_points,
    )


def _age_days(activity: Activity, now: datetime) -> float:
    if activity.at is None:
        return 0.0  # undated: it came with the lead
    return max(0.0, (now - activity.at).total_seconds() / 86_400)


@functools.lru_cache(maxsize=4096)
def _describe(kind: str, page: str | None, days: int | None) -> str:
    what = f"visited the {page} page" if page else kind.replace("_", " ")
    return what if days is None else f"{what} ({days} days ago)"


def engagement(
    lead: Lead, config: Engagement, now: datetime, top: int | None = None
) -> tuple[int, list[str]]:
    """Points for what the lead did, decayed by age, and the signals, strongest first
    (only the ``top`` strongest distinct ones are put into words when ``top`` is given)."""
    points = _points(config)
    # (points, arrival order, activity or None for the message, page, age in days)
    scored: list[tuple[float, int, Activity | None, str | None, float]] = []
    for activity in lead.activities:
        kind = activity.type.lower()
        base = points.by_type.get(kind, 0)
        page = None
        if kind == "page_view" and activity.url:
            # Only a page view is a visit: a click on a pricing link may be a security scanner.
            url = activity.url.lower()
            page = next((p for p, _ in points.pages if p in url), None)
            if page is not None:
                base += config.page_points[page]
        if base == 0:
            continue
        age = _age_days(activity, now)
        scored.append((base * 0.5 ** (age / points.half_life_days), len(scored), activity, page, age))
    if points.message and lead.message and lead.message.strip():
        scored.append((float(points.message), len(scored), None, None, 0.0))
    scored.sort(key=lambda s: (-s[0], s[1]))  # strongest first; ties in the order they happened
    total = min(100, round(sum(s[0] for s in scored)))
    signals: dict[str, None] = {}
    for _, _, done, page, age in scored:
        if top is not None and len(signals) >= top:
            break
        # round() as "{:.0f}" does (half to even); whole days keep the memo small.
        days = round(age) if age >= 1 else None
        signals[_describe(done.type, page, days) if done else "wrote a message"] = None
    return total, list(signals)
