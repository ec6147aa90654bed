from __future__ import annotations

from pathlib import Path

import pytest

from services.model.history import History, load_history
from services.model.mapping import LoadedMapping, load_mapping
from services.model.train import Trained, train
from tests.model.helpers import write_history, write_mapping


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedMapping, History, Trained]:
    directory = tmp_path_factory.mktemp("history")
    loaded = load_mapping(write_mapping(directory))
    history = load_history(write_history(directory), loaded)
    return loaded, history, train(history, loaded.mapping)


@pytest.fixture
def model_dir(tmp_path: Path, generated: tuple[LoadedMapping, History, Trained]) -> Path:
    from services.model import artifact

    loaded, _, trained = generated
    return artifact.save(trained.model, tmp_path / "model", loaded.text)
