"""Drift of the live scores: the champion's scores in the store, day by day, against the score
distribution it was trained with. One reading for the dashboard, `leadflow model drift` and the
`leadflow_model_drift_psi` gauge on /metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from connectors.store.sql import SqlStore
from services import metrics
from services.model.drift import EDGES, daily_counts
from services.model.registry import Registry


async def champion_drift(
    store: SqlStore, root: Path, days: int, now: datetime
) -> tuple[str | None, list[dict[str, Any]]]:
    """The champion's version and the PSI of each of the last ``days`` UTC days, today included
    (oldest first, days without a score left out); (None, []) without a champion."""
    champion = Registry(root).state()["champion"]
    if champion is None:
        return None, []
    reference = json.loads((root / champion / "metrics.json").read_text())["reference"]["shares"]
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    by_day: dict[str, list[int]] = {}
    for back in range(days - 1, -1, -1):  # the database counts each UTC day's scores per bin
        start = today - timedelta(days=back)
        binned = await store.score_counts(start, start + timedelta(days=1), EDGES, champion)
        if any(binned):
            by_day[start.date().isoformat()] = binned
    return champion, daily_counts(reference, by_day)


async def record_drift(store: SqlStore, root: Path, now: datetime) -> None:
    """Set the gauges to today's (UTC) reading for the champion; none without a champion or
    before its first score of the day."""
    champion, rows = await champion_drift(store, root, 1, now)  # today's row, if any score
    metrics.drift(champion, rows[0]["psi"] if rows else None, rows[0]["leads"] if rows else 0)
