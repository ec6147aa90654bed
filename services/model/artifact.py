"""The model on disk: a directory of text files, versioned by content.

    model.txt         LightGBM's own text format (parsed, never executed)
    features.json     the feature spec (columns, Lead paths, kinds, vocabularies)
    calibration.json  the calibration map (centred isotonic) as two lists of numbers
    metrics.json      training counts, held-out figures, the score distribution for drift
    mapping.yaml      the mapping it was trained with (train --from-store reuses it)
    manifest.json     version, training data sha256, each file's sha256, library versions

Loading reads only these with json and LightGBM's text parser: no pickle, no code from the file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
from pydantic import ValidationError

from services.model.features import FeatureSpec
from services.model.scoring import Calibration, Model
from services.model.train import version_of

FILES = ("model.txt", "features.json", "calibration.json", "metrics.json", "mapping.yaml")


class ArtifactError(Exception):
    """A model directory that is missing a file, was altered, or does not parse."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(model: Model, directory: Path, mapping_text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    contents = {
        "model.txt": model.booster.model_to_string(),
        "features.json": model.spec.model_dump_json(indent=2),
        "calibration.json": json.dumps({"x": model.calibration.x, "y": model.calibration.y}),
        "metrics.json": json.dumps(model.metrics, indent=2, sort_keys=True),
        "mapping.yaml": mapping_text,
    }
    for name, text in contents.items():
        (directory / name).write_text(text)
    manifest = {
        "version": model.version,
        "created_at": datetime.now(UTC).isoformat(),
        "data_sha256": model.metrics.get("data_sha256"),
        "lightgbm": lgb.__version__,
        "files": {name: _sha(text.encode()) for name, text in contents.items()},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return directory


def manifest(directory: Path) -> dict[str, object]:
    try:
        data = json.loads((directory / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{directory}: no readable manifest.json ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"{directory}: manifest.json is not an object")
    return data


def load(directory: Path) -> Model:
    """Read a model directory, checking every file against the manifest."""
    meta = manifest(directory)
    files = meta.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{directory}: manifest.json lists no files")
    texts: dict[str, str] = {}
    for name in FILES:
        try:
            raw = (directory / name).read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{directory}: {name} is missing") from exc
        if _sha(raw) != files.get(name):
            raise ArtifactError(f"{directory}: {name} does not match its manifest (altered?)")
        texts[name] = raw.decode()
    try:
        spec = FeatureSpec.model_validate_json(texts["features.json"])
        points = json.loads(texts["calibration.json"])
        calibration = Calibration(tuple(map(float, points["x"])), tuple(map(float, points["y"])))
        metrics = json.loads(texts["metrics.json"])
        booster = lgb.Booster(model_str=texts["model.txt"])
    except (ValidationError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as exc:
        raise ArtifactError(f"{directory}: does not parse ({exc.__class__.__name__})") from exc
    version = version_of(texts["model.txt"], spec, calibration)
    if version != meta.get("version"):
        raise ArtifactError(f"{directory}: content is version {version}, manifest says {meta.get('version')}")
    return Model(booster, spec, calibration, version, metrics)
