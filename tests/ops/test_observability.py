"""After an end-to-end run: /metrics exposes every series with sane values, and one lead's spans
from the webhook to the CRM write share one trace id, carried over the bus in its headers."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from services import tracing
from services.demo import sample_leads
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import TOKEN, post_all, wait_written
from tests.servers import serve

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= ls)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)
        provider.shutdown()


async def test_metrics_and_traces_after_an_end_to_end_run(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    leads = sample_leads(20, seed=11)
    async with (
        serve(create_app(settings, ("intake", "qualifier", "writer"))) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        before = samples((await client.get("/metrics")).text)
        lead_ids = await post_all(client, leads)
        written = await wait_written(client, lead_ids, timeout=60)
        refused = await client.post("/v1/leads", json={"email": "x@example.com"})  # no token: 401
        for n in range(3):  # unknown sources: counted, but under one label
            await client.post(f"/webhooks/forms/nope-{n}", data={"email": "x@example.com"})
        response = await client.get("/metrics")
    assert refused.status_code == 401
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    after = samples(text)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    n = len(set(lead_ids))
    assert delta("leadflow_webhooks_total", source="api", status="202") == len(leads)
    assert delta("leadflow_webhooks_total", source="api", status="401") == 1
    assert delta("leadflow_webhooks_total", source="unknown", status="404") == 3
    assert not [
        ls for (name, ls) in after if name == "leadflow_webhooks_total" and ("source", "forms:nope-0") in ls
    ]
    assert delta("leadflow_publish_seconds_count", topic="leads.received") == len(leads)
    assert delta("leadflow_publish_seconds_count", topic="leads.routed") == len(leads)
    for stage in ("intake", "enrich", "evaluate", "route", "write"):
        assert delta("leadflow_stage_seconds_count", stage=stage) >= len(leads), stage
        assert delta("leadflow_stage_seconds_sum", stage=stage) > 0, stage
    assert delta("leadflow_speed_to_lead_seconds_count") == len(leads)
    # Every lead was written within the run, so within its longest bucket.
    assert delta("leadflow_speed_to_lead_seconds_bucket", le="60.0") == len(leads)
    assert delta("leadflow_decisions_total") == len(leads)
    statuses = {lead["status"] for lead in written.values()}
    for status in statuses:
        assert delta("leadflow_decisions_total", status=status) >= 1, status
    assert delta("leadflow_crm_writes_total", crm="local") == len(leads)
    assert n == len(leads)
    lag = [v for (name, ls), v in after.items() if name == "leadflow_consumer_lag"
           and ("group", "leadflow-qualifier") in ls and ("topic", "leads.received") in ls]  # fmt: skip
    assert lag and all(v >= 0 for v in lag)
    assert total(after, "leadflow_dlq_depth") == 0
    # Defined for the CRM connectors and SLAs, even before anything is counted.
    for name in (
        "leadflow_crm_calls_total",
        "leadflow_crm_rate_limited_total",
        "leadflow_crm_breaker_state",
        "leadflow_sla_breaches_total",
        "leadflow_dead_letters_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')} " in text or f"# TYPE {name} " in text, name

    # One trace per lead: intake -> enrich -> evaluate -> route -> write.
    finished = spans.get_finished_spans()
    lead_id = lead_ids[0]
    [write] = [s for s in finished if s.name == "write" and (s.attributes or {}).get("lead_id") == lead_id]
    trace_id = write.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    assert sorted(s.name for s in in_trace) == sorted(["intake", "enrich", "evaluate", "route", "write"])
    [intake] = [s for s in in_trace if s.name == "intake"]
    assert intake.parent is None  # the trace starts at the webhook
    assert all(s.parent is not None for s in in_trace if s is not intake)
    # Twenty leads, twenty traces.
    assert len({s.context.trace_id for s in finished if s.name == "intake"}) == len(leads) + 4


def test_multiprocess_mode_adds_up_every_worker(tmp_path: Path) -> None:
    """Two processes count; a third renders /metrics for both (as uvicorn workers would)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = "from services import metrics; metrics.webhook('api', 202); metrics.crm_call('hubspot', 'ok')"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, cwd=Path(__file__).parents[2])
    render = "from services import metrics; print(metrics.render()[0].decode())"
    out = subprocess.run(
        [sys.executable, "-c", render], env=env, check=True, capture_output=True, text=True,
        cwd=Path(__file__).parents[2],
    ).stdout  # fmt: skip
    found = samples(out)
    assert total(found, "leadflow_webhooks_total", source="api", status="202") == 2
    assert total(found, "leadflow_crm_calls_total", crm="hubspot", outcome="ok") == 2


def test_multiprocess_mode_keeps_no_drift_reading_that_is_no_longer_current(tmp_path: Path) -> None:
    """A new champion, then a new UTC day without a score yet: /metrics shows no reading of the
    old champion nor yesterday's (prometheus_client cannot remove a series in this mode)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    readings = (
        "from services import metrics; metrics.drift('old', 0.31, 40); metrics.drift('new', 0.12, 9);"
        " metrics.drift('new', None, 0)"
    )
    # -W error: clearing a labelled gauge in this mode is a UserWarning, every 60 s.
    root = Path(__file__).parents[2]
    warn = ["-W", "error::UserWarning"]
    subprocess.run([sys.executable, *warn, "-c", readings], env=env, check=True, cwd=root)
    render = "from services import metrics; print(metrics.render()[0].decode())"
    out = subprocess.run(
        [sys.executable, "-c", render], env=env, check=True, capture_output=True, text=True, cwd=root
    ).stdout
    found = samples(out)
    drift = {n: v for (n, _), v in found.items() if n.startswith("leadflow_model_drift")}
    assert all(math.isnan(v) for v in drift.values()), drift
