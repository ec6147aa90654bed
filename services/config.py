"""Load deploy/config/*.yaml into typed models, reporting every problem with file, line and field.

Loading is all-or-nothing: a service either gets a whole valid config or a ConfigError that
lists everything wrong, so a bad edit never half-applies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from schemas.config import IcpConfig, LeadflowConfig, RoutingConfig

FILES: dict[str, type[BaseModel]] = {"icp.yaml": IcpConfig, "routing.yaml": RoutingConfig}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(file)'}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def config_version(directory: Path) -> str:
    """Content hash of the config files: what every decision records as its config_version."""
    digest = hashlib.sha256()
    for name in sorted(FILES):
        path = directory / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return digest.hexdigest()[:12]


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the error's path."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
            if node is None:
                break
            line = node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _load_file(path: Path, model: type[BaseModel]) -> tuple[BaseModel | None, list[Problem]]:
    name = path.name
    if not path.exists():
        return None, [Problem(name, None, "", "file is missing")]
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [Problem(name, mark.line + 1 if mark else None, "", f"not valid YAML: {exc}")]
    try:
        return model.model_validate(data if data is not None else {}), []
    except ValidationError as exc:
        return None, [
            Problem(
                name,
                _line_of(node, tuple(err["loc"])),
                ".".join(str(p) for p in err["loc"]),
                err["msg"].removeprefix("Value error, "),
            )
            for err in exc.errors()
        ]


def load_config(directory: Path) -> LeadflowConfig:
    """Read and validate every config file; raise ConfigError listing all problems at once."""
    loaded: dict[str, BaseModel] = {}
    problems: list[Problem] = []
    for name, model in FILES.items():
        result, found = _load_file(directory / name, model)
        problems += found
        if result is not None:
            loaded[name] = result
    if problems:
        raise ConfigError(problems)
    icp, routing = loaded["icp.yaml"], loaded["routing.yaml"]
    assert isinstance(icp, IcpConfig) and isinstance(routing, RoutingConfig)
    return LeadflowConfig(version=config_version(directory), icp=icp, routing=routing)
