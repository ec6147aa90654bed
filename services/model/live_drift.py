"""Drift of the live scores: the champion's scores in the store, day by day, against the score
distribution it was trained with. One reading for the dashboard, `leadflow model drift` and the
`leadflow_model_drift_psi` gauge on /metrics."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.store.sql import SqlStore
from services import metrics
from services.model.drift import daily
from services.model.registry import Registry


async def champion_drift(
    store: SqlStore, root: Path, days: int, now: datetime
) -> tuple[str | None, list[dict[str, Any]]]:
    """The champion's version and the PSI of each of the last ``days`` days (oldest first);
    (None, []) without a champion."""
    champion = Registry(root).state()["champion"]
    if champion is None:
        return None, []
    reference = json.loads((root / champion / "metrics.json").read_text())["reference"]["shares"]
    by_day: dict[str, list[float]] = {}
    for at, p in await store.scores_since(now - timedelta(days=days), champion):
        by_day.setdefault(at.date().isoformat(), []).append(p)
    return champion, daily(reference, by_day)


async def record_drift(store: SqlStore, root: Path, now: datetime) -> None:
    """Set the gauges to today's (UTC) reading for the champion; none without a champion or
    before its first score of the day."""
    champion, rows = await champion_drift(store, root, 1, now)
    today = [r for r in rows if r["day"] == now.date().isoformat()]
    metrics.drift(champion, today[0]["psi"] if today else None, today[0]["leads"] if today else 0)
