"""OpenTelemetry spans per stage (intake, enrich, evaluate, route, write), one trace per lead.

The trace context travels in the bus messages' headers as W3C ``traceparent``/``tracestate``:
every publish carries the current context (``TracedBus``) and every consumer continues it
(``continued``), so one lead's spans from the webhook (``Observed``, the intake middleware)
to the CRM write share one trace id.
Spans are exported over OTLP/HTTP only when an endpoint is configured (``configure``); without
one the tracer is a no-op and nothing is added to messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.bus import Bus, Consumer, Headers
from services import metrics

_PROPAGATOR = TraceContextTextMapPropagator()
_CONTEXT_HEADERS = frozenset(_PROPAGATOR.fields)  # traceparent, tracestate
_provider: trace.TracerProvider | None = None


def configure(endpoint: str | None, service: str) -> TracerProvider | None:
    """Export spans to the OTLP/HTTP collector at ``endpoint`` (a base URL, as in
    OTEL_EXPORTER_OTLP_ENDPOINT); without an endpoint, tracing stays off."""
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    use(provider)
    return provider


def use(provider: trace.TracerProvider | None) -> None:
    """Trace with ``provider`` (tests hand in one with an in-memory exporter); None: no-op."""
    global _provider
    _provider = provider


def tracer() -> Tracer:
    return (_provider or trace.NoOpTracerProvider()).get_tracer("leadflow")


@contextmanager
def stage(name: str, **attributes: Any) -> Iterator[Span]:
    """A span for one stage of a lead, timed into leadflow_stage_seconds{stage}."""
    with metrics.timed(metrics.STAGE_SECONDS, name):
        if _provider is None:
            # Tracing off: a no-op span would carry the current span's context unchanged, at the
            # cost of attaching it again (per request, a few percent of the intake's CPU).
            yield trace.get_current_span()
            return
        with tracer().start_as_current_span(name, attributes=_clean(attributes)) as span:
            yield span


@contextmanager
def stages(name: str, leads: Sequence[tuple[Headers, dict[str, Any]]]) -> Iterator[list[Span]]:
    """``stage`` for a batch handled at once: one span per lead, in the trace its message
    carries (each message's headers and span attributes), and each lead's time in the stage
    (the batch's) timed into leadflow_stage_seconds{stage}. Yields the spans, in order."""
    start = time.perf_counter()
    spans = [
        tracer().start_span(name, context=_PROPAGATOR.extract(_carrier(headers)), attributes=_clean(attrs))
        for headers, attrs in leads
    ]
    try:
        yield spans
    finally:
        elapsed = time.perf_counter() - start
        histogram = metrics.STAGE_SECONDS.labels(name)
        for span in spans:
            span.end()
            histogram.observe(elapsed)


def _carrier(headers: Headers) -> dict[str, str]:
    return {k: v.decode("latin-1") for k, v in headers if k in _CONTEXT_HEADERS}


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if isinstance(v, str | int | float | bool)}


def inject(headers: Headers) -> Headers:
    """``headers`` with the current trace context in place of any earlier one."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    if not carrier:
        return headers
    kept = tuple((k, v) for k, v in headers if k not in _CONTEXT_HEADERS)
    return kept + tuple((k, v.encode()) for k, v in carrier.items())


@contextmanager
def continued(headers: Headers) -> Iterator[None]:
    """Run the block in the trace context a message carries (none: a new trace)."""
    token = otel_context.attach(_PROPAGATOR.extract(_carrier(headers)))
    try:
        yield
    finally:
        otel_context.detach(token)


class TracedBus:
    """A Bus that times each publish and stamps the current trace context on the message."""

    def __init__(self, bus: Bus) -> None:
        self.inner = bus

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> None:
        await self.inner.ping()

    async def publish(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        with metrics.timed(metrics.PUBLISH_SECONDS, topic):
            await self.inner.publish(topic, key, value, inject(headers))

    async def consumer(self, topics: Sequence[str], group: str) -> Consumer:
        return await self.inner.consumer(topics, group)

    def __getattr__(self, name: str) -> Any:
        # What only some adapters offer (depth, forget) is the adapter's own.
        return getattr(self.inner, name)


def source_of_path(path: str) -> str:
    """The source a path belongs to: /webhooks/forms/contact-us -> forms:contact-us; /v1/... -> api."""
    parts = path.strip("/").split("/")
    if parts[0] == "webhooks" and len(parts) > 1:
        return ":".join(parts[1:3])
    return "api"


def _is_delivery(scope: Scope) -> bool:
    path: str = scope["path"]
    return path.startswith("/webhooks/") or (path == "/v1/leads" and scope["method"] == "POST")


class Observed:
    """Counts each lead delivery by source and status (leadflow_webhooks_total) and traces it
    as the 'intake' stage, whose context the publish carries on to the consumers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_delivery(scope):
            await self.app(scope, receive, send)
            return
        source, status = source_of_path(scope["path"]), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with stage("intake", source=source) as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                # An unknown path must not mint a label: any caller could grow the series.
                metrics.webhook(source if status != 404 else "unknown", status)
                span.set_attribute("http.response.status_code", status)
