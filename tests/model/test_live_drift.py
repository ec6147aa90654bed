"""Live drift through the real store and registry: the dashboard's rows and the /metrics gauge."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from services import metrics
from services.model.drift import psi, shares
from services.model.live_drift import champion_drift, record_drift
from services.model.registry import Registry
from tests.model.test_feedback import T0, routed

HONOLULU = timezone(timedelta(hours=-10))


def gauges(name: str) -> dict[str, float]:
    body, _ = metrics.render()
    return {
        s.labels["model_version"]: s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == name
    }


async def test_todays_psi_of_the_champion_is_on_metrics(tmp_path: Path, model_dir: Path) -> None:
    registry = Registry(tmp_path / "models")
    version = registry.add(model_dir)
    registry.promote()
    reference = json.loads((model_dir / "metrics.json").read_text())["reference"]["shares"]
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"))
    await store.start()
    try:
        metrics.drift(None, None, 0)
        await record_drift(store, registry.root, T0)
        assert gauges("leadflow_model_drift_psi") == {}  # nothing scored today yet
        today = [0.91, 0.93, 0.95, 0.2]
        for i, p in enumerate(today):  # routed(i) decides odd i a day later
            await store.record_decision(routed(2 * i, "model", p, version=version))
        await store.record_decision(routed(1, "model", 0.5, version=version))
        await store.record_decision(routed(8, "model", 0.1, version="an-older-champion"))

        champion, rows = await champion_drift(store, registry.root, 14, T0 + timedelta(days=1))
        assert champion == version and [r["leads"] for r in rows] == [4, 1]
        await record_drift(store, registry.root, T0 + timedelta(hours=1))
        expected = psi(reference, shares(today))
        assert expected > 0.25
        assert gauges("leadflow_model_drift_psi") == {version: expected}
        assert gauges("leadflow_model_drift_leads") == {version: 4}
        # The same instant on a clock ten hours behind UTC, where it is still the day before.
        await record_drift(store, registry.root, T0.astimezone(HONOLULU))
        assert gauges("leadflow_model_drift_leads") == {version: 4}
    finally:
        await store.close()
        metrics.drift(None, None, 0)
