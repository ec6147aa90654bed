from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.model import artifact
from services.model.history import load_history
from services.model.mapping import load_mapping
from services.model.registry import RETRY_SECONDS, Champion, Registry, RegistryError
from services.model.train import train
from tests.conftest import CONFIG_DIR
from tests.model.helpers import write_history, write_mapping


def test_new_models_are_challengers_and_promotion_swaps(tmp_path: Path, model_dir: Path) -> None:
    registry = Registry(tmp_path / "models")
    champion = Champion(registry.root)
    assert champion() is None
    first = registry.add(model_dir)
    assert registry.state() == {"champion": None, "challenger": first}
    assert registry.promote() == {"champion": first, "challenger": None}
    loaded = champion()
    assert loaded is not None and loaded.version == first

    (registry.root / first).rename(registry.root / "renamed")  # the same content under a new name
    with pytest.raises(RegistryError, match="unknown model version"):
        registry.promote(first)
    assert [row["version"] for row in registry.describe()] == ["renamed"]


def test_nothing_to_promote_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no challenger"):
        Registry(tmp_path).promote()


def test_promoting_back_restores_the_previous_champion(tmp_path: Path, model_dir: Path) -> None:
    registry = Registry(tmp_path / "models")
    version = registry.add(model_dir)
    registry.promote()
    (registry.root / "older").mkdir()
    shutil.copytree(model_dir, registry.root / "older", dirs_exist_ok=True)
    registry._write({"champion": version, "challenger": "older"})
    assert registry.promote() == {"champion": "older", "challenger": version}
    assert registry.promote(version) == {"champion": version, "challenger": "older"}


def test_promoting_the_champion_again_keeps_the_challenger(tmp_path: Path, model_dir: Path) -> None:
    registry = Registry(tmp_path / "models")
    version = registry.add(model_dir)
    registry.promote()
    shutil.copytree(model_dir, registry.root / "newer")
    registry._write({"champion": version, "challenger": "newer"})
    assert registry.promote(version) == {"champion": version, "challenger": "newer"}


def test_a_champion_that_failed_to_load_is_tried_again_once_its_files_are_back(
    tmp_path: Path, model_dir: Path
) -> None:
    registry = Registry(tmp_path / "models")
    version = registry.add(model_dir)
    registry.promote()
    model_text = registry.path(version) / "model.txt"
    good = model_text.read_bytes()
    model_text.write_bytes(good + b"\n")  # altered: the manifest no longer matches
    now = [0.0]
    champion = Champion(registry.root, clock=lambda: now[0])
    assert champion() is None
    model_text.write_bytes(good)  # restored; the pointer is unchanged
    now[0] = RETRY_SECONDS - 1
    assert champion() is None  # not before the retry is due: no reload on every lead
    now[0] = RETRY_SECONDS
    loaded = champion()
    assert loaded is not None and loaded.version == version


def test_promote_says_when_the_new_champion_is_below_the_minimum(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_CONFIG_DIR", str(CONFIG_DIR))  # minimum 1,000 rows, 120 conversions
    loaded = load_mapping(write_mapping(tmp_path))
    small = train(load_history(write_history(tmp_path, rows=500), loaded), loaded.mapping)
    registry = Registry(tmp_path / "models")
    registry.add(artifact.save(small.model, tmp_path / "small", loaded.text))
    args = ["model", "promote", "--registry", str(registry.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "below the minimum (1000 / 120): the qualifier will not use this model" in result.stderr

    registry.add(model_dir)  # trained on enough history: promoted without a note
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "below the minimum" not in result.stderr


def test_promoting_an_altered_model_is_refused_in_one_line(tmp_path: Path, model_dir: Path) -> None:
    registry = Registry(tmp_path / "models")
    version = registry.add(model_dir)
    (registry.path(version) / "model.txt").write_text("altered")
    result = CliRunner().invoke(app, ["model", "promote", "--registry", str(registry.root)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not ArtifactError's traceback
    assert "model.txt does not match its manifest" in result.stderr
    assert registry.state()["champion"] is None
