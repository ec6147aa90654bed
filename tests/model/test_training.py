"""Training, the artifact on disk, explanations and the split."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from services.model import artifact
from services.model.history import History
from services.model.mapping import LoadedMapping
from services.model.metrics import ece
from services.model.train import Trained, centred_isotonic, split


def test_the_model_learns_the_signal_and_is_calibrated(
    generated: tuple[LoadedMapping, History, Trained],
) -> None:
    _, history, trained = generated
    held = trained.model.metrics["held_out"]
    assert held["auc"] > 0.75 and held["ece"] < 0.08
    assert trained.model.metrics["train_rows"] == len(trained.split.train)
    assert trained.model.metrics["data_sha256"] == history.sha256


def test_stratified_split_keeps_the_positive_rate_and_never_overlaps(
    generated: tuple[LoadedMapping, History, Trained],
) -> None:
    loaded, history, _ = generated
    parts = split(history, loaded.mapping)
    assert parts.by == "stratified" and not set(parts.train) & set(parts.test)
    assert len(parts.test) == 300
    assert abs(history.labels[parts.test].mean() - history.labels.mean()) < 0.01


def test_artifact_round_trip_gives_the_same_scores(
    model_dir: Path, generated: tuple[LoadedMapping, History, Trained]
) -> None:
    _, history, trained = generated
    loaded = artifact.load(model_dir)
    assert loaded.version == trained.model.version
    leads = history.leads[:50]
    assert [s.probability for s in loaded.score(leads)] == [s.probability for s in trained.model.score(leads)]
    assert {p.name for p in model_dir.iterdir()} == {*artifact.FILES, "manifest.json"}
    assert json.loads((model_dir / "manifest.json").read_text())["data_sha256"] == history.sha256


def test_loading_never_unpickles(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("unpickling during load")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    assert artifact.load(model_dir).version


def test_an_altered_artifact_is_refused(model_dir: Path) -> None:
    calibration = model_dir / "calibration.json"
    calibration.write_text(calibration.read_text().replace("0.", "0.9", 1))
    with pytest.raises(artifact.ArtifactError, match=r"calibration.json does not match"):
        artifact.load(model_dir)


def test_each_scored_lead_carries_top_factors_as_reasons(
    generated: tuple[LoadedMapping, History, Trained],
) -> None:
    _, history, trained = generated
    scored = trained.model.score(history.leads[:20], factors=3)
    for score in scored:
        assert 0 <= score.probability <= 1
        positive = [f for f in score.factors if f.direction == "positive"]
        negative = [f for f in score.factors if f.direction == "negative"]
        assert len(positive) <= 3 and len(negative) <= 3 and score.factors
        for factor in score.factors:
            assert factor.factor.split(":")[0] == "model" and factor.factor.split(":")[1] in {
                "industry",
                "visits",
                "channel",
            }
            assert (factor.weight > 0) == (factor.direction == "positive")
            assert factor.text.startswith("Model: ") and "the chance of converting" in factor.text
    texts = " ".join(f.text for s in scored for f in s.factors)
    assert "visits = " in texts


def test_a_dated_history_holds_out_its_newest_rows(tmp_path: Path) -> None:
    from services.model.history import load_history
    from services.model.mapping import load_mapping
    from tests.model.helpers import MAPPING, write_history, write_mapping

    data = write_history(tmp_path, rows=100)
    lines = data.read_text().splitlines()
    dated = [lines[0] + ",day"] + [
        f"{line},2026-01-{1 + (i * 7) % 28:02d}" for i, line in enumerate(lines[1:])
    ]
    data.write_text("\n".join(dated) + "\n")
    loaded = load_mapping(write_mapping(tmp_path, MAPPING + "date: day\n"))
    history = load_history(data, loaded)
    parts = split(history, loaded.mapping)
    assert parts.by == "date" and history.dates is not None
    assert np.max(history.dates[parts.train]) <= np.min(history.dates[parts.test])


def test_centred_isotonic_keeps_the_order_a_staircase_would_tie() -> None:
    rng = np.random.default_rng(0)
    raw = np.sort(rng.uniform(size=2000))
    labels = (rng.uniform(size=2000) < raw).astype(float)
    calibration = centred_isotonic(raw, labels)
    mapped = calibration.apply(raw)
    staircase = IsotonicRegression(out_of_bounds="clip").fit(raw, labels).predict(raw)
    assert np.all(np.diff(mapped) >= 0)
    assert len(np.unique(mapped)) > 0.9 * len(raw) > 10 * len(np.unique(staircase))
    assert (calibration.x[0], calibration.x[-1]) == (0.0, 1.0)
    assert abs(mapped.mean() - labels.mean()) < 0.01  # still calibrated: ECE-like gap small
    assert ece(labels, mapped) < 0.03


def test_centred_isotonic_of_a_useless_score_is_the_base_rate() -> None:
    raw = np.linspace(0.1, 0.9, 100)
    labels = (raw < 0.5).astype(float)  # falls as the score rises: one isotonic block
    calibration = centred_isotonic(raw, labels)
    assert np.allclose(calibration.apply(raw), labels.mean())
