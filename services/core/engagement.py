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
    by_type, pages, half_life = points.by_type, points.pages, points.half_life_days
    # (-points, arrival order, activity or None for the message, page, age in days): sorted as
    # is, strongest first and ties in the order they happened. The loop is inlined: it runs
    # for every activity of every lead.
    scored: list[tuple[float, int, Activity | None, str | None, float]] = []
    for activity in lead.activities:
        kind = activity.type.lower()
        base = by_type.get(kind, 0)
        page = None
        if kind == "page_view" and activity.url:
            # Only a page view is a visit: a click on a pricing link may be a security scanner.
            url = activity.url.lower()
            for fragment, extra in pages:
                if fragment in url:
                    page, base = fragment, base + extra
                    break
        if base == 0:
            continue
        at = activity.at  # undated: it came with the lead
        age = 0.0 if at is None else max(0.0, (now - at).total_seconds() / 86_400)
        scored.append((-base * 0.5 ** (age / half_life), len(scored), activity, page, age))
    if points.message and lead.message and lead.message.strip():
        scored.append((-float(points.message), len(scored), None, None, 0.0))
    scored.sort()  # the arrival order is unique: activities themselves are never compared
    total = min(100, round(-sum(s[0] for s in scored)))
    signals: dict[str, None] = {}
    for _, _, done, page, age in scored:
        if top is not None and len(signals) >= top:
            break
        # round() as "{:.0f}" does (half to even); whole days keep the memo small.
        days = round(age) if age >= 1 else None
        signals[_describe(done.type, page, days) if done else "wrote a message"] = None
    return total, list(signals)
