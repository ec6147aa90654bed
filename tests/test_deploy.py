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
    # Every file the config is made of: the YAML and the briefing templates (config_version
    # hashes both; a template left out would fall back to the built-in briefing unnoticed).
    shipped = {p.name for p in (DEPLOY / "config").iterdir() if p.suffix in (".yaml", ".j2")}
    assert files == shipped and "briefing.md.j2" in shipped
    for resource in kustomization["resources"]:
        assert (DEPLOY / resource).exists()


def test_compose_services_run_real_commands() -> None:
    [compose] = _docs(DEPLOY / "compose.yaml")
    commands = {name: s.get("command") for name, s in compose["services"].items() if s.get("command")}
    assert commands == {"intake": ["intake"], "qualifier": ["qualifier"], "writer": ["writer"]}


# --- structural checks of every Kubernetes manifest (offline) -----------------------------

K8S = DEPLOY / "k8s"
REQUIRED_SPEC = {
    "Deployment": ("selector", "template"),
    "Service": ("selector", "ports"),
    "PodDisruptionBudget": ("selector",),
    "HorizontalPodAutoscaler": ("scaleTargetRef", "minReplicas", "maxReplicas", "metrics"),
    "ScaledObject": ("scaleTargetRef", "triggers", "maxReplicaCount"),
    "KafkaTopic": ("topicName", "partitions", "replicas", "config"),
}


def _applied() -> list[dict[str, Any]]:
    """Every document kustomize applies (the generated ConfigMap aside)."""
    [kustomization] = _docs(DEPLOY / "kustomization.yaml")
    return [d for resource in kustomization["resources"] for d in _docs(DEPLOY / resource)]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _applied() if d["kind"] == kind}


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def _selected(selector: dict[str, str]) -> list[str]:
    """The Deployments whose pods a label selector picks."""
    return [name for name, d in _by_kind("Deployment").items() if selector.items() <= _pod_labels(d).items()]


def test_every_manifest_is_applied_and_has_the_required_fields() -> None:
    [kustomization] = _docs(DEPLOY / "kustomization.yaml")
    listed = {Path(r).name for r in kustomization["resources"]}
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"secret.example.yaml"}
    assert listed == on_disk, "a manifest is not in kustomization.yaml (or is missing)"
    for doc in _applied():
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc
        for field in REQUIRED_SPEC.get(doc["kind"], ()):
            assert field in doc["spec"], (doc["kind"], doc["metadata"]["name"], field)


def test_deployment_selectors_match_their_pods_and_probes_use_a_container_port() -> None:
    deployments = _by_kind("Deployment")
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= _pod_labels(deployment).items(), name
        assert _selected(selector) == [name], f"{name}'s selector also picks other pods"
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        [container] = pod["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            port = container[probe]["httpGet"]["port"]
            assert port in ports or port in ports.values(), (name, probe, port)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) in ports.values()
        assert annotations["prometheus.io/path"] == "/metrics"


def test_services_and_disruption_budgets_select_existing_pods() -> None:
    deployments = _by_kind("Deployment")
    for name, service in _by_kind("Service").items():
        [target] = _selected(service["spec"]["selector"])
        [container] = deployments[target]["spec"]["template"]["spec"]["containers"]
        names = {p["name"] for p in container["ports"]}
        assert all(p["targetPort"] in names for p in service["spec"]["ports"]), name
    budgets = _by_kind("PodDisruptionBudget")
    covered = [t for pdb in budgets.values() for t in _selected(pdb["spec"]["selector"]["matchLabels"])]
    assert sorted(covered) == sorted(deployments), "every Deployment needs exactly one PodDisruptionBudget"


def test_every_referenced_configmap_secret_and_service_account_exists() -> None:
    [kustomization] = _docs(DEPLOY / "kustomization.yaml")
    configmaps = set(_by_kind("ConfigMap")) | {g["name"] for g in kustomization["configMapGenerator"]}
    # Secrets are created in the cluster, never kept in git: the example documents each one.
    secrets = {d["metadata"]["name"]: d for d in _docs(K8S / "secret.example.yaml")}
    accounts = set(_by_kind("ServiceAccount"))
    for name, deployment in _by_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in accounts, name
        for volume in pod["volumes"]:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps, (name, volume)
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, (name, volume)
        [container] = pod["containers"]
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] in configmaps, name
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]]["stringData"], (name, ref)


def test_the_qualifier_and_writer_can_be_given_crm_credentials() -> None:
    # The writer writes to HubSpot or Salesforce and the qualifier reads from them: without a
    # way to get LEADFLOW_HUBSPOT_TOKEN and the like, a CRM in crm.yaml stops both at start.
    for name in ("leadflow-qualifier", "leadflow-writer"):
        pod = _by_kind("Deployment")[name]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        secret = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert env["LEADFLOW_SECRETS_DIR"] == mounts["crm-secrets"], name
        assert secret["crm-secrets"] == "leadflow-crm-secrets", name


def test_autoscalers_target_deployments_and_consumer_groups_that_exist() -> None:
    from services.qualifier.service import GROUP as QUALIFIER_GROUP
    from services.writer.service import GROUP as WRITER_GROUP

    deployments = _by_kind("Deployment")
    topics = {d["spec"]["topicName"]: d for d in _by_kind("KafkaTopic").values()}
    [hpa] = _by_kind("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "leadflow-intake",
    }
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in _by_kind("ScaledObject").values()}
    assert set(scaled) == {"leadflow-qualifier", "leadflow-writer"}
    expected = {"leadflow-qualifier": (QUALIFIER_GROUP, "leads.received"),
                "leadflow-writer": (WRITER_GROUP, "leads.routed")}  # fmt: skip
    for target, obj in scaled.items():
        assert target in deployments
        [trigger] = obj["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert (meta["consumerGroup"], meta["topic"]) == expected[target]
        assert int(meta["lagThreshold"]) > 0
        # More consumers than partitions would sit idle.
        assert 1 <= obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"]
        assert obj["spec"]["maxReplicaCount"] <= topics[meta["topic"]]["spec"]["partitions"]
    for name in deployments:
        assert "replicas" not in deployments[name]["spec"], f"{name}: the autoscaler owns the replica count"


def test_kafka_topics_are_the_ones_the_code_uses_with_retention() -> None:
    from schemas.events import ALL_TOPICS

    topics = _by_kind("KafkaTopic")
    assert {t["spec"]["topicName"] for t in topics.values()} == set(ALL_TOPICS)
    for topic in topics.values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"]
        assert topic["spec"]["partitions"] >= 1 and topic["spec"]["replicas"] >= 3
        assert int(topic["spec"]["config"]["retention.ms"]) >= 24 * 3600 * 1000
        assert int(topic["spec"]["config"]["min.insync.replicas"]) == topic["spec"]["replicas"] - 1


def test_dockerfile_runs_as_non_root_with_a_healthcheck_without_curl() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.M)
    [check] = re.findall(r"^HEALTHCHECK .*?CMD (.*)$", dockerfile, re.M | re.S)
    assert "/healthz" in check and "urllib" in check and "curl" not in check


def test_compose_runs_kafka_kraft_postgres_and_three_services_on_one_config() -> None:
    [compose] = _docs(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert set(services) == {"kafka", "postgres", "intake", "qualifier", "writer"}
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    # One environment for all three, but for each process's share of the CRM account's budget.
    share = "LEADFLOW_CRM_BUDGET_SHARE"
    envs = [services[s]["environment"] for s in ("intake", "qualifier", "writer")]
    assert (
        {k: v for k, v in envs[1].items() if k != share}
        == envs[0]
        == {k: v for k, v in envs[2].items() if k != share}
    )
    replicas = services["qualifier"]["deploy"]["replicas"]
    assert replicas * float(envs[1][share]) + float(envs[2][share]) <= 1.0
    env = envs[0]
    assert env["LEADFLOW_BUS"] == "kafka" and env["LEADFLOW_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["LEADFLOW_KAFKA_PARTITIONS"] == str(services["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"])
    for name in ("intake", "qualifier", "writer"):
        assert set(services[name]["depends_on"]) == {"kafka", "postgres"}


def test_k8s_qualifiers_and_writers_at_their_most_replicas_keep_within_one_crm_budget() -> None:
    total = 0.0
    for role in ("qualifier", "writer"):
        [deployment] = _docs(K8S / f"deployment-{role}.yaml")
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        share = next(e["value"] for e in container["env"] if e["name"] == "LEADFLOW_CRM_BUDGET_SHARE")
        [scaler] = _docs(K8S / f"keda-{role}.yaml")
        total += float(share) * scaler["spec"]["maxReplicaCount"]
    assert 0.5 < total <= 1.0  # the vendors count requests per account, not per process
