"""Load deploy/config/*.yaml into typed models, reporting every problem with file, line and field.

Loading is all-or-nothing: a service either gets a whole valid config or a ConfigError that
lists everything wrong, so a bad edit never half-applies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from schemas.config import DEFER_CROSS_CHECKS, IcpConfig, LeadflowConfig, RoutingConfig, Rule, Team
from schemas.crm import CrmConfig
from schemas.enrichment_config import EnrichmentConfig
from schemas.model import ModelConfig
from schemas.sources import SourcesConfig
from services.rulecheck import check_rules

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
_UNKNOWN_PERSONAS = "Value error, verticals name unknown personas"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(file)'}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def config_version(directory: Path) -> str:
    """Content hash of the config files: what every decision records as its config_version."""
    digest = hashlib.sha256()
    # Templates (the briefing) change what AEs read, so they are part of the version too.
    names = sorted([*FILES, *(p.name for p in directory.glob("*.j2"))])
    for name in names:
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


def read_text(path: Path) -> str | Problem:
    """A YAML file's text, or the Problem of where it is not UTF-8 (an editor that saved it as
    Windows-1252)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        where = f"byte 0x{raw[exc.start]:02x} at column {column}"
        return Problem(path.name, line, "", f"not UTF-8 ({where}): save the file as UTF-8")


def yaml_problem(name: str, exc: yaml.YAMLError) -> Problem:
    """A YAML syntax error as one line: where the parser stopped, why, and what it was inside."""
    mark = getattr(exc, "problem_mark", None)
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = [f"column {mark.column + 1}"] if mark else []
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        where.append(f"{context} from line {context_mark.line + 1}")
    detail = f" ({'; '.join(where)})" if where else ""
    return Problem(name, mark.line + 1 if mark else None, "", f"not valid YAML: {reason}{detail}")


def duplicate_keys(
    name: str, node: yaml.Node | None, path: tuple[str | int, ...] = (), visited: set[int] | None = None
) -> list[Problem]:
    """Keys given twice in one mapping: YAML keeps the last silently, so an edit that adds a
    second `exclude:` or `rules:` would drop the first without a word."""
    problems: list[Problem] = []
    visited = set() if visited is None else visited
    if id(node) in visited:  # an alias of a node already seen (YAML anchors may even recurse)
        return problems
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            label = str(key.value)
            if label in seen and key.tag != "tag:yaml.org,2002:merge":
                problems.append(
                    Problem(
                        name,
                        key.start_mark.line + 1,
                        ".".join(str(p) for p in (*path, label)),
                        f"'{label}' is given twice (also on line {seen[label]})",
                    )
                )
            seen.setdefault(label, key.start_mark.line + 1)
            problems += duplicate_keys(name, value, (*path, label), visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += duplicate_keys(name, item, (*path, i), visited)
    return problems


def _load_file(
    path: Path, model: type[BaseModel]
) -> tuple[BaseModel | None, list[Problem], yaml.Node | None, Any]:
    """The file's model (None when invalid), its problems, its YAML tree and its raw data."""
    name = path.name
    if not path.exists():
        if name in OPTIONAL:
            return model(), [], None, None
        return None, [Problem(name, None, "", "file is missing")], None, None
    text = read_text(path)
    if isinstance(text, Problem):
        return None, [text], None, None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [yaml_problem(name, exc)], None, None
    twice = duplicate_keys(name, node)
    try:
        loaded = model.model_validate(data if data is not None else {}, context={DEFER_CROSS_CHECKS: True})
    except ValidationError as exc:
        errors = exc.errors()
        # When every item of a required list fails, pydantic also says the list is empty: noise.
        deeper = [tuple(e["loc"]) for e in errors if e["type"] != "too_short"]

        def noise(e: Any) -> bool:
            loc = tuple(e["loc"])
            if e["type"] == "too_short" and any(d[: len(loc)] == loc for d in deeper):
                return True
            # Reported per vertical, with its line, by _unknown_personas.
            return not loc and str(e["msg"]).startswith(_UNKNOWN_PERSONAS)

        errors = [e for e in errors if not noise(e)]
        problems = [
            _problem(name, node, tuple(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in errors
        ]
        return None, twice + problems, node, data
    return (None, twice, node, data) if twice else (loaded, [], node, data)


def _problem(name: str, node: yaml.Node | None, loc: tuple[int | str, ...], message: str) -> Problem:
    return Problem(name, _line_of(node, loc), ".".join(str(p) for p in loc), message)


def _items(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def _names(items: list[Any]) -> set[str]:
    return {str(i["name"]).strip() for i in items if isinstance(i, dict) and i.get("name") is not None}


def _unknown_personas(icp_data: Any, node: yaml.Node | None) -> list[Problem]:
    """Each vertical's persona that icp.yaml does not define, at its own line."""
    known = _names(_items(icp_data, "personas"))
    return [
        _problem("icp.yaml", node, ("verticals", i, "personas", j), f"unknown persona '{name}'")
        for i, vertical in enumerate(_items(icp_data, "verticals"))
        if isinstance(vertical, dict) and isinstance(vertical.get("personas"), list)
        for j, name in enumerate(vertical["personas"])
        if isinstance(name, str) and name.strip() not in known
    ]


def _keys(data: Any, key: str) -> dict[str, Any]:
    """The entries of a mapping in the raw YAML (``regions``, ``channels``), whatever their values."""
    value = data.get(key) if isinstance(data, dict) else None
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _valid_rules(routing: RoutingConfig | None, data: Any) -> list[tuple[int, Rule]]:
    """The rules that are valid on their own, with their index in the file: when one rule is
    broken the others are still checked, so one run reports everything."""
    if routing is not None:
        return list(enumerate(routing.rules))
    valid = []
    for i, raw in enumerate(_items(data, "rules")):
        try:
            valid.append((i, Rule.model_validate(raw)))
        except ValidationError:
            continue
    return valid


def _routing_checks(
    routing: RoutingConfig | None, data: Any, rules: list[tuple[int, Rule]], node: yaml.Node | None
) -> list[Problem]:
    """Cross-rule problems (unknown team, duplicate id, no fallback), also when some rules or
    teams are broken: teams are known by name even when a team itself is invalid."""
    if routing is None:
        teams = tuple(Team.model_construct(name=n, members=()) for n in _names(_items(data, "teams")))
        # Only the names of regions and channels count here, so invalid entries still name them.
        routing = RoutingConfig.model_construct(
            teams=teams,
            rules=tuple(r for _, r in rules),
            regions=_keys(data, "regions"),
            channels=_keys(data, "channels"),
        )
        last_is_valid = bool(rules) and rules[-1][0] == len(_items(data, "rules")) - 1
    else:
        last_is_valid = True
    problems = []
    for loc, message in routing.cross_check() if rules else []:
        index = rules[int(loc[1])][0]  # the rule's place in the file, not among the valid ones
        if "fallback" in message and not last_is_valid:
            continue  # the last rule is broken: its own error says so
        problems.append(_problem("routing.yaml", node, ("rules", index, *loc[2:]), message))
    return problems


def _cross_file(icp_data: Any, routing_data: Any, node: yaml.Node | None) -> list[Problem]:
    """Routing rules may only name verticals that icp.yaml defines (checked on the raw rules, so
    a rule broken in another way still gets this error too)."""
    known = _names(_items(icp_data, "verticals"))
    problems = []
    for i, rule in enumerate(_items(routing_data, "rules")):
        when = rule.get("when") if isinstance(rule, dict) else None
        named = when.get("verticals") if isinstance(when, dict) else None
        for name in named if isinstance(named, list) else []:
            if isinstance(name, str) and name.strip() not in known:
                message = f"unknown vertical '{name}' (not in icp.yaml)"
                problems.append(_problem("routing.yaml", node, ("rules", i, "when", "verticals"), message))
    return problems


def _owner_maps(crm_data: Any, routing_data: Any, node: yaml.Node | None) -> list[Problem]:
    """crm.yaml's owner maps are keyed by routing.yaml member ids: a key that is none (a typo)
    leaves the member it meant unmapped, and their leads reach the CRM without an owner. A
    warning, not an error: the entry of a member who left the team is harmless, and a config
    that ran yesterday must not stop a service from starting after an upgrade."""
    members = {
        str(member["id"]).strip()
        for team in _items(routing_data, "teams")
        for member in _items(team, "members")
        if isinstance(member, dict) and member.get("id") is not None
    }
    if not members:
        return []  # routing.yaml is missing or broken: its own problems say so
    problems = []
    for crm in ("hubspot", "salesforce"):
        section = crm_data.get(crm) if isinstance(crm_data, dict) else None
        for key in _keys(section, "owners"):
            if key.strip() not in members:
                message = f"no member of a routing.yaml team has the id '{key}'"
                problems.append(
                    replace(_problem("crm.yaml", node, (crm, "owners", key), message), severity="warning")
                )
    return problems


@dataclass(frozen=True)
class CheckResult:
    """What `leadflow config check` reports: the config when valid, every error, every warning."""

    config: LeadflowConfig | None
    errors: list[Problem]
    warnings: list[Problem]


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def check_config(directory: Path) -> CheckResult:
    """Read and check every file; collect every error and every warning in one pass."""
    if not directory.is_dir():  # one problem, not "file is missing" for each required file
        what = "does not exist" if not directory.exists() else "is not a directory"
        return CheckResult(None, [Problem(str(directory), None, "(directory)", what)], [])
    loaded: dict[str, BaseModel | None] = {}
    nodes: dict[str, yaml.Node | None] = {}
    raw: dict[str, Any] = {}
    errors: list[Problem] = []
    for name, model in FILES.items():
        loaded[name], found, nodes[name], raw[name] = _load_file(directory / name, model)
        errors += found
    icp, routing = loaded["icp.yaml"], loaded["routing.yaml"]
    assert icp is None or isinstance(icp, IcpConfig)
    assert routing is None or isinstance(routing, RoutingConfig)
    rules = _valid_rules(routing, raw["routing.yaml"])
    errors += _unknown_personas(raw["icp.yaml"], nodes["icp.yaml"])
    errors += _routing_checks(routing, raw["routing.yaml"], rules, nodes["routing.yaml"])
    if raw["icp.yaml"] is not None:
        errors += _cross_file(raw["icp.yaml"], raw["routing.yaml"], nodes["routing.yaml"])
    warnings = [
        Problem("routing.yaml", _line_of(nodes["routing.yaml"], loc), ".".join(map(str, loc)), msg, "warning")
        for loc, msg in check_rules(rules, icp)
    ]
    warnings += _owner_maps(raw["crm.yaml"], raw["routing.yaml"], nodes["crm.yaml"])
    errors = _unique(errors)
    if errors:
        return CheckResult(None, errors, _unique(warnings))
    sources, enrichment = loaded["sources.yaml"], loaded["enrichment.yaml"]
    crm, model_config = loaded["crm.yaml"], loaded["model.yaml"]
    assert isinstance(icp, IcpConfig) and isinstance(routing, RoutingConfig)
    assert isinstance(sources, SourcesConfig) and isinstance(enrichment, EnrichmentConfig)
    assert isinstance(crm, CrmConfig) and isinstance(model_config, ModelConfig)
    config = LeadflowConfig(
        version=config_version(directory),
        icp=icp,
        routing=routing,
        sources=sources,
        enrichment=enrichment,
        crm=crm,
        model=model_config,
    )
    return CheckResult(config, [], _unique(warnings))


def load_config(directory: Path) -> LeadflowConfig:
    """The valid config, or ConfigError listing every problem at once (warnings do not stop it)."""
    result = check_config(directory)
    if result.config is None:
        raise ConfigError(result.errors)
    return result.config
