"""Engagement and intent: points per activity, halved every half-life, capped at 100."""

from __future__ import annotations

from datetime import datetime

from schemas.config import Engagement
from schemas.lead import Activity, Lead


def _age_days(activity: Activity, now: datetime) -> float:
    if activity.at is None:
        return 0.0  # undated: it came with the lead
    return max(0.0, (now - activity.at).total_seconds() / 86_400)


def _describe(activity: Activity, page: str | None, age: float) -> str:
    what = f"visited the {page} page" if page else activity.type.replace("_", " ")
    if age >= 1:
        what += f" ({age:.0f} days ago)"
    return what


def engagement(lead: Lead, config: Engagement, now: datetime) -> tuple[int, list[str]]:
    """Points for what the lead did, decayed by age, with the strongest signals first."""
    scored: list[tuple[float, str]] = []
    for activity in lead.activities:
        base = config.points.get(activity.type.lower(), 0)
        # Only a page view is a visit: a click on a pricing link may be a security scanner.
        url = (activity.url or "").lower() if activity.type.lower() == "page_view" else ""
        page = next((p for p in config.page_points if p in url), None)
        if page is not None:
            base += config.page_points[page]
        if base == 0:
            continue
        age = _age_days(activity, now)
        scored.append((base * 0.5 ** (age / config.half_life_days), _describe(activity, page, age)))
    if lead.message and lead.message.strip() and config.message_points:
        scored.append((float(config.message_points), "wrote a message"))
    scored.sort(key=lambda s: -s[0])
    total = min(100, round(sum(points for points, _ in scored)))
    return total, list(dict.fromkeys(signal for _, signal in scored))
