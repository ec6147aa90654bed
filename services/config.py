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

from schemas.config import DEFER_CROSS_CHECKS, IcpConfig, LeadflowConfig, RoutingConfig
from schemas.crm import CrmConfig
from schemas.enrichment_config import EnrichmentConfig
from schemas.model import ModelConfig
from schemas.sources import SourcesConfig

FILES: dict[str, type[BaseModel]] = {
    "icp.yaml": IcpConfig,
    "routing.yaml": RoutingConfig,
    "sources.yaml": SourcesConfig,
    "enrichment.yaml": EnrichmentConfig,
    "crm.yaml": CrmConfig,
    "model.yaml": ModelConfig,
}
# Without sources.yaml only the /v1/leads API takes leads; without enrichment.yaml the
# default providers run (no network: email, phone, title, the demo table); without model.yaml
# a trained model is used with the default bands and minimum of history; without crm.yaml
# decisions are written to the local CRM.
OPTIONAL = {"sources.yaml", "enrichment.yaml", "crm.yaml", "model.yaml"}


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


def _load_file(
    path: Path, model: type[BaseModel]
) -> tuple[BaseModel | None, list[Problem], yaml.Node | None]:
    name = path.name
    if not path.exists():
        if name in OPTIONAL:
            return model(), [], None
        return None, [Problem(name, None, "", "file is missing")], None
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [Problem(name, mark.line + 1 if mark else None, "", f"not valid YAML: {exc}")], None
    try:
        loaded = model.model_validate(data if data is not None else {}, context={DEFER_CROSS_CHECKS: True})
    except ValidationError as exc:
        errors = exc.errors()
        # When every item of a required list fails, pydantic also says the list is empty: noise.
        deeper = [tuple(e["loc"]) for e in errors if e["type"] != "too_short"]

        def noise(e: Any) -> bool:
            loc = tuple(e["loc"])
            return e["type"] == "too_short" and any(d[: len(loc)] == loc for d in deeper)

        errors = [e for e in errors if not noise(e)]
        problems = [
            _problem(name, node, tuple(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in errors
        ]
        return None, problems, node
    found = loaded.cross_check() if isinstance(loaded, RoutingConfig) else []
    return (None if found else loaded), [_problem(name, node, loc, message) for loc, message in found], node


def _problem(name: str, node: yaml.Node | None, loc: tuple[int | str, ...], message: str) -> Problem:
    return Problem(name, _line_of(node, loc), ".".join(str(p) for p in loc), message)


def _cross_file(icp: IcpConfig, routing: RoutingConfig, node: yaml.Node | None) -> list[Problem]:
    """Routing rules may only name verticals that icp.yaml defines."""
    known = {v.name for v in icp.verticals}
    return [
        _problem(
            "routing.yaml",
            node,
            ("rules", i, "when", "verticals"),
            f"unknown vertical '{name}' (not in icp.yaml)",
        )
        for i, rule in enumerate(routing.rules)
        for name in rule.when.verticals
        if name not in known
    ]


def load_config(directory: Path) -> LeadflowConfig:
    """Read and validate every config file; raise ConfigError listing all problems at once."""
    loaded: dict[str, BaseModel] = {}
    nodes: dict[str, yaml.Node | None] = {}
    problems: list[Problem] = []
    for name, model in FILES.items():
        result, found, nodes[name] = _load_file(directory / name, model)
        problems += found
        if result is not None:
            loaded[name] = result
    if problems:
        raise ConfigError(problems)
    icp, routing, sources = loaded["icp.yaml"], loaded["routing.yaml"], loaded["sources.yaml"]
    enrichment, crm, model_config = loaded["enrichment.yaml"], loaded["crm.yaml"], loaded["model.yaml"]
    assert isinstance(icp, IcpConfig) and isinstance(routing, RoutingConfig)
    assert isinstance(sources, SourcesConfig) and isinstance(enrichment, EnrichmentConfig)
    assert isinstance(crm, CrmConfig) and isinstance(model_config, ModelConfig)
    problems = _cross_file(icp, routing, nodes["routing.yaml"])
    if problems:
        raise ConfigError(problems)
    return LeadflowConfig(
        version=config_version(directory),
        icp=icp,
        routing=routing,
        sources=sources,
        enrichment=enrichment,
        crm=crm,
        model=model_config,
    )
