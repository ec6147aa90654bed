"""The model registry: artifact directories under one root (var/models by default) and a small
JSON pointer naming the champion (the model the qualifier uses) and a challenger (the newest
trained, waiting for `leadflow model promote`). Promotion swaps them, so it can be undone."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.logs import get_logger
from services.model import artifact
from services.model.scoring import Model

POINTER = "registry.json"
RETRY_SECONDS = 30.0  # a champion that failed to load is tried again this often (files restored)
log = get_logger(component="model-registry")


class RegistryError(Exception):
    """An unknown version, nothing to promote, or a version that does not load."""


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def state(self) -> dict[str, str | None]:
        try:
            data = json.loads((self.root / POINTER).read_text())
        except FileNotFoundError:
            return {"champion": None, "challenger": None}
        return {"champion": data.get("champion"), "challenger": data.get("challenger")}

    def _write(self, state: dict[str, str | None]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{POINTER}.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.root / POINTER)  # atomic: a reader sees the old or the new pointer

    def versions(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "manifest.json").exists())

    def add(self, directory: Path) -> str:
        """Copy a trained artifact in (checked by loading it) and make it the challenger."""
        version = artifact.load(directory).version
        target = self.root / version
        if directory.resolve() != target.resolve() and not target.exists():
            shutil.copytree(directory, target)
        state = self.state()
        if state["champion"] != version:
            state["challenger"] = version
        self._write(state)
        return version

    def promote(self, version: str | None = None) -> dict[str, str | None]:
        """Make ``version`` (default: the challenger) the champion; the old champion becomes
        the challenger."""
        state = self.state()
        chosen = version or state["challenger"]
        if chosen is None:
            raise RegistryError("there is no challenger to promote (train one first)")
        if chosen not in self.versions():
            raise RegistryError(f"unknown model version {chosen!r} in {self.root}")
        try:
            artifact.load(self.root / chosen)  # never point the qualifier at a broken model
        except artifact.ArtifactError as exc:
            raise RegistryError(f"cannot promote {chosen}: {exc}") from exc
        if chosen == state["champion"]:  # already the champion: the challenger waits on
            return state
        new = {"champion": chosen, "challenger": state["champion"]}
        self._write(new)
        return new

    def path(self, version: str) -> Path:
        return self.root / version

    def describe(self) -> list[dict[str, Any]]:
        state = self.state()
        rows = []
        for version in self.versions():
            meta = artifact.manifest(self.root / version)
            metrics = json.loads((self.root / version / "metrics.json").read_text())
            role = (
                "champion"
                if version == state["champion"]
                else "challenger"
                if version == state["challenger"]
                else ""
            )
            rows.append(
                {
                    "version": version,
                    "role": role,
                    "created_at": meta.get("created_at"),
                    "train_rows": metrics.get("train_rows"),
                    "train_positives": metrics.get("train_positives"),
                    "held_out": metrics.get("held_out"),
                }
            )
        return rows


class Champion:
    """The champion for the qualifier, reloaded when the pointer changes (a promotion takes
    effect without a restart). A model that fails to load is logged and the previous one kept,
    and loading it is tried again every RETRY_SECONDS: restoring its files is enough (promoting
    the champion again leaves the pointer as it is)."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = Registry(root)
        self._clock = clock
        self._seen: tuple[float, str | None] | None = None
        self._failed_at: float | None = None
        self._model: Model | None = None

    def __call__(self) -> Model | None:
        pointer = self.registry.root / POINTER
        try:
            stamp = pointer.stat().st_mtime
        except FileNotFoundError:
            return self._model
        retry = self._failed_at is not None and self._clock() - self._failed_at >= RETRY_SECONDS
        if self._seen is not None and self._seen[0] == stamp and not retry:
            return self._model
        version = self.registry.state()["champion"]
        self._seen = (stamp, version)
        self._failed_at = None
        if version is None:
            self._model = None
            return None
        try:
            self._model = artifact.load(self.registry.path(version))
            log.info("model_loaded", model_version=version)
        except artifact.ArtifactError as exc:
            self._failed_at = self._clock()
            log.error("model_load_failed", model_version=version, error=str(exc))
        return self._model
