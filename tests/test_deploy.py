"""deploy/ and the code agree: commands, settings names, probe paths, config files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.cli import app
from services.settings import SECRETS_DIR_VARIABLE, Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
SETTINGS = {f"LEADFLOW_{name.upper()}" for name in Settings.model_fields} | {SECRETS_DIR_VARIABLE}
COMMANDS = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _env_names(text: str) -> set[str]:
    """Settings named outside comments (a comment may name a variable to warn against it)."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return set(re.findall(r"\b(LEADFLOW_[A-Z_]+)\b", code))


def test_every_leadflow_variable_in_deploy_is_a_setting() -> None:
    files = [*DEPLOY.rglob("*.yaml"), ROOT / "Dockerfile"]
    used = set().union(*(_env_names(f.read_text()) for f in files))
    assert used, "deploy files name no settings at all"
    assert used <= SETTINGS, f"unknown settings: {sorted(used - SETTINGS)}"


def test_kubernetes_deployments_run_a_real_command_with_probes() -> None:
    deployments = [d for f in (DEPLOY / "k8s").glob("deployment-*.yaml") for d in _docs(f)]
    assert {d["metadata"]["name"] for d in deployments} == {
        "leadflow-intake",
        "leadflow-qualifier",
        "leadflow-writer",
    }
    for deployment in deployments:
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"][0] in COMMANDS
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_configmap_is_built_from_the_config_files_ops_edit() -> None:
    [kustomization] = _docs(DEPLOY / "kustomization.yaml")
    [generator] = kustomization["configMapGenerator"]
    files = {Path(f).name for f in generator["files"]}
    assert files == {p.name for p in (DEPLOY / "config").glob("*.yaml")}
    for resource in kustomization["resources"]:
        assert (DEPLOY / resource).exists()


def test_compose_services_run_real_commands() -> None:
    [compose] = _docs(DEPLOY / "compose.yaml")
    commands = {name: s.get("command") for name, s in compose["services"].items() if s.get("command")}
    assert commands == {"intake": ["intake"], "qualifier": ["qualifier"], "writer": ["writer"]}
