"""Prometheus metrics, served at /metrics by every process, and the tiny API that records them.

Connectors and services call the helper functions below, never the metric objects, so names
and labels stay in this one file:

    metrics.crm_call(crm, outcome)     one request to a CRM's API: ok | error | timeout | rate_limited
    metrics.crm_rate_limited(crm)      the CRM answered 429 (call crm_call(crm, "rate_limited") too)
    metrics.breaker_state(crm, state)  the CRM circuit breaker is now closed | open | half_open
    metrics.sla_breach(sla)            a lead missed an SLA (e.g. "first_touch")

Several processes (uvicorn workers) share one /metrics when PROMETHEUS_MULTIPROC_DIR names an
empty directory writable by all of them, set before the processes start: prometheus_client
then keeps each process's values in files there and /metrics adds them up. Gauges say how
(``multiprocess_mode``): lag and depth take the most recent live value, the breaker the maximum.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Seconds; speed-to-lead spans sub-second (embedded) to an hour (a CRM outage).
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SPEED_TO_LEAD = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

STAGES = ("intake", "enrich", "evaluate", "route", "write")
BREAKER_STATES = ("closed", "open", "half_open")

WEBHOOKS = Counter(
    "leadflow_webhooks_total", "Deliveries to the lead API and webhooks, by source and HTTP status",
    ["source", "status"],
)  # fmt: skip
PUBLISH_SECONDS = Histogram(
    "leadflow_publish_seconds", "Time until a message is durably on the bus", ["topic"], buckets=_FAST
)
CONSUMER_LAG = Gauge(
    "leadflow_consumer_lag", "Messages on the bus not yet consumed, per partition",
    ["group", "topic", "partition"], multiprocess_mode="livemostrecent",
)  # fmt: skip
STAGE_SECONDS = Histogram(
    "leadflow_stage_seconds", "Time spent in each stage of a lead", ["stage"], buckets=_FAST
)
SPEED_TO_LEAD = Histogram(
    "leadflow_speed_to_lead_seconds", "From received (intake) to written in the CRM",
    buckets=_SPEED_TO_LEAD,
)  # fmt: skip
DECISIONS = Counter("leadflow_decisions_total", "Leads decided, by status and tier", ["status", "tier"])
SLA_BREACHES = Counter("leadflow_sla_breaches_total", "Leads that missed an SLA", ["sla"])
CRM_CALLS = Counter("leadflow_crm_calls_total", "Requests to a CRM's API, by outcome", ["crm", "outcome"])
CRM_RATE_LIMITED = Counter("leadflow_crm_rate_limited_total", "CRM answers 429 (rate limited)", ["crm"])
CRM_BREAKER = Gauge(
    "leadflow_crm_breaker_state", "1 for the CRM circuit breaker's current state, 0 for the others",
    ["crm", "state"], multiprocess_mode="livemax",
)  # fmt: skip
CRM_WRITES = Counter("leadflow_crm_writes_total", "Lead writes by the writer, by action", ["crm", "action"])
DEAD_LETTERS = Counter("leadflow_dead_letters_total", "Messages sent to leads.dlq", ["consumer", "topic"])
DLQ_DEPTH = Gauge(
    "leadflow_dlq_depth", "Messages kept on leads.dlq (within its retention)",
    multiprocess_mode="livemostrecent",
)  # fmt: skip
MODEL_DRIFT = Gauge(
    "leadflow_model_drift_psi", "PSI of the champion's scores today (UTC) against its training's",
    ["model_version"], multiprocess_mode="livemostrecent",
)  # fmt: skip
MODEL_DRIFT_LEADS = Gauge(
    "leadflow_model_drift_leads", "Leads the champion scored today (UTC), the PSI's sample size",
    ["model_version"], multiprocess_mode="livemostrecent",
)  # fmt: skip
CONFIG_RELOADS = Counter(
    "leadflow_config_reloads_total", "Config reloads: applied, or refused (invalid)", ["outcome"]
)


# --- the API connectors and services call ---------------------------------------------------


def crm_call(crm: str, outcome: str) -> None:
    """One request to ``crm``'s API: outcome ok | error | timeout | rate_limited."""
    CRM_CALLS.labels(crm, outcome).inc()


def crm_rate_limited(crm: str) -> None:
    CRM_RATE_LIMITED.labels(crm).inc()


def breaker_state(crm: str, state: str) -> None:
    """The circuit breaker in front of ``crm`` is now ``state`` (closed | open | half_open)."""
    for name in BREAKER_STATES:
        CRM_BREAKER.labels(crm, name).set(1 if name == state else 0)


def sla_breach(sla: str) -> None:
    SLA_BREACHES.labels(sla).inc()


def webhook(source: str, status: int) -> None:
    WEBHOOKS.labels(source, str(status)).inc()


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[None]:
    """Observe the block's duration (also when it raises)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        (histogram.labels(*labels) if labels else histogram).observe(time.perf_counter() - start)


def decided(status: str, tier: str) -> None:
    DECISIONS.labels(status, tier).inc()


def written(crm: str, action: str, received_at: datetime, written_at: datetime) -> None:
    """A writer wrote a lead; speed-to-lead counts first writes of an event only."""
    CRM_WRITES.labels(crm, action).inc()
    if action != "unchanged":
        SPEED_TO_LEAD.observe(max(0.0, (written_at - received_at).total_seconds()))


def lag(group: str, lags: Mapping[tuple[str, int], int]) -> None:
    for (topic, partition), value in lags.items():
        CONSUMER_LAG.labels(group, topic, str(partition)).set(value)


def dead_lettered(consumer: str, topic: str) -> None:
    DEAD_LETTERS.labels(consumer, topic).inc()


def dlq_depth(depth: int) -> None:
    DLQ_DEPTH.set(depth)


_drift_versions: set[str] = set()  # the model versions this process has a drift series for


def drift(model_version: str | None, psi: float | None, leads: int) -> None:
    """Today's drift reading for the champion: only the current champion's series is kept, and
    none before its first score of the day. In multiprocess mode prometheus_client cannot remove
    a series (its value stays in the process's file, and clear() warns): a series no longer
    current is set to NaN there instead, not left at its last reading."""
    current = model_version if psi is not None else None
    for old in _drift_versions - {current}:
        for gauge in (MODEL_DRIFT, MODEL_DRIFT_LEADS):
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                gauge.labels(old).set(math.nan)
            else:
                gauge.remove(old)
    _drift_versions.clear()
    if current is None or psi is None:
        return
    MODEL_DRIFT.labels(current).set(psi)
    MODEL_DRIFT_LEADS.labels(current).set(leads)
    _drift_versions.add(current)


def config_reload(outcome: str) -> None:
    CONFIG_RELOADS.labels(outcome).inc()


# --- exposition ------------------------------------------------------------------------------


def render() -> tuple[bytes, str]:
    """The text exposition: this process's metrics, or every process's in multiprocess mode."""
    # prometheus_client itself reads this variable (at import) to choose where values live.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
