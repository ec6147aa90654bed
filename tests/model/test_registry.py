from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.model.registry import Champion, Registry, RegistryError


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
