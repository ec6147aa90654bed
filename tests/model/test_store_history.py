"""`leadflow train --from-store` before any model exists: the features come from the leads."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.lead import Lead
from services.cli import app
from services.model.mapping import load_mapping
from services.model.store_history import features_of
from tests.model.helpers import MAPPING, write_mapping
from tests.model.test_feedback import T0, routed


def lead(i: int, visits: int, industry: str) -> Lead:
    return Lead.model_validate(
        {
            "email": f"p{i}@x.example",
            "company": {"industry": industry},
            "visits": visits,
            "channel": "ads" if i % 2 else "seo",
            "note_after_call": "won",  # excluded by the mapping: it leaks the outcome
            "utm": {"campaign": "spring"},  # a nested payload: no column of an export
        }
    )


def test_features_are_the_mappings_fields_and_the_leads_attributes(tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path)).mapping
    leads = [lead(0, 3, "Retail"), lead(1, 12, "Logistics"), Lead.model_validate({"email": "a@x.example"})]
    columns, kinds = features_of(leads, mapping)
    assert columns == {
        "industry": "company.industry",
        "channel": "attributes.channel",
        "visits": "attributes.visits",
    }
    assert kinds == {"industry": "categorical", "channel": "categorical", "visits": "numeric"}


async def labelled_store(tmp_path: Path) -> None:
    """300 decided leads with an outcome, received an hour apart: many visits convert."""
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'leadflow.db'}"))
    await store.start()
    rng = random.Random(5)
    try:
        for i in range(300):
            visits = rng.randint(0, 20)
            decided = routed(i, "model", 0.5).model_copy(
                update={"lead": lead(i, visits, "Retail"), "received_at": T0 + timedelta(hours=i)}
            )
            await store.record_decision(decided)
            won = int(rng.random() < (0.9 if visits > 10 else 0.1))
            await store.record_label(decided.lead_id, won, f"f{i}", "hubspot", "lifecyclestage", "x", T0)
    finally:
        await store.close()


def test_train_from_store_with_only_a_mapping_learns_from_every_attribute(tmp_path: Path) -> None:
    """Without a model in the registry, the mapping's fields alone were the features: on X
    Education's mapping one column (Country), AUC 0.5 whatever the leads said."""
    asyncio.run(labelled_store(tmp_path))
    mapping = write_mapping(tmp_path, MAPPING)
    registry = tmp_path / "models"
    args = ["train", "--from-store", "--data-dir", str(tmp_path), "--registry", str(registry)]
    result = CliRunner().invoke(app, [*args, "--mapping", str(mapping), "--json"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    features = json.loads((registry / trained["version"] / "features.json").read_text())["features"]
    assert {f["name"] for f in features} == {"industry", "channel", "visits"}
    assert trained["held_out"]["auc"] > 0.8


def test_train_from_store_splits_by_arrival_when_the_mapping_is_dated(tmp_path: Path) -> None:
    """As a dated export is split: the newest 20 % of the labelled leads are held out."""
    asyncio.run(labelled_store(tmp_path))
    mapping = write_mapping(tmp_path, MAPPING + "date: created\n")
    args = ["train", "--from-store", "--data-dir", str(tmp_path), "--registry", str(tmp_path / "models")]
    result = CliRunner().invoke(app, [*args, "--mapping", str(mapping), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["split"] == "date"


def test_train_from_store_registers_a_challenger_unless_told_not_to(tmp_path: Path) -> None:
    asyncio.run(labelled_store(tmp_path))
    mapping = write_mapping(tmp_path, MAPPING)
    registry = tmp_path / "models"
    args = ["train", "--from-store", "--data-dir", str(tmp_path), "--registry", str(registry)]
    args += ["--mapping", str(mapping), "--json"]
    kept = CliRunner().invoke(app, [*args, "--no-register", "--out", str(tmp_path / "trial")])
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.stdout)["registered"] is False
    assert not (registry / "registry.json").exists()
    registered = CliRunner().invoke(app, args)
    assert registered.exit_code == 0, registered.output
    version = json.loads(registered.stdout)["version"]
    assert json.loads((registry / "registry.json").read_text())["challenger"] == version
