"""The trace context crosses the bus in message headers (W3C traceparent), on every adapter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connectors.bus import Bus, Message
from connectors.bus.kafka import KafkaBus, KafkaSettings
from connectors.bus.memory import MemoryBus
from connectors.bus.sqlite import SqliteBus
from services import tracing


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


@pytest.fixture(params=["memory", "sqlite", "kafka"])
async def bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bus]:
    adapter: Bus
    if request.param == "memory":
        adapter = MemoryBus()
    elif request.param == "sqlite":
        adapter = SqliteBus(tmp_path / "bus.db")
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        adapter = KafkaBus(KafkaSettings(bootstrap=bootstrap, idempotence=False, partitions=3), topics=[])
    await adapter.start()
    yield tracing.TracedBus(adapter)
    await adapter.close()


async def receive_one(bus: Bus, topic: str) -> Message:
    consumer = await bus.consumer([topic], "traced")
    try:
        deadline = asyncio.get_running_loop().time() + 20  # a Kafka group join takes seconds
        while asyncio.get_running_loop().time() < deadline:
            got = await consumer.fetch(max_records=1, timeout=0.5)
            if got:
                return got[0]
        raise AssertionError("nothing received")
    finally:
        await consumer.close()


async def test_a_consumer_continues_the_publishers_trace(bus: Bus, spans: InMemorySpanExporter) -> None:
    topic = f"t-{uuid.uuid4().hex[:10]}"
    with tracing.stage("intake"):
        # A stale context from an earlier hop is replaced, other headers are kept.
        await bus.publish(topic, "k", b"{}", (("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"),
                                              ("x-kept", b"yes")))  # fmt: skip
    message = await receive_one(bus, topic)
    with tracing.continued(message.headers), tracing.stage("enrich"):
        pass
    headers = dict(message.headers)
    assert headers["x-kept"] == b"yes"
    assert [name for name, _ in message.headers].count("traceparent") == 1
    intake, enrich = sorted(spans.get_finished_spans(), key=lambda s: s.name != "intake")
    assert headers["traceparent"].decode().split("-")[1] == format(intake.context.trace_id, "032x")
    assert enrich.context.trace_id == intake.context.trace_id
    assert enrich.parent is not None and enrich.parent.span_id == intake.context.span_id


async def test_without_tracing_messages_carry_no_trace_headers(tmp_path: Path) -> None:
    bus = tracing.TracedBus(MemoryBus())
    with tracing.stage("intake"):
        await bus.publish("t", "k", b"{}")
    [message] = bus.inner.topics["t"]  # type: ignore[attr-defined]
    assert message.headers == ()
