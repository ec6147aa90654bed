"""Poison on Kafka: undecodable bytes, JSON that is not an event, and a lead whose evaluation
crashes, each among good leads with the same key on the same partition. Each lands on leads.dlq
with its error and the leads after it are still decided and written once; `leadflow replay` then
puts the dead letters back, and the lead that can now succeed is decided and written once.

The crash is a real one, not a mock: with the briefing's LLM on, an OpenAI-compatible endpoint
that answers 200 with an empty ``choices`` list (a gateway's or a content filter's answer) makes
``services.briefing._parse`` raise IndexError, which ``Briefer.suggest`` does not catch."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.events import TOPIC_DLQ, TOPIC_RECEIVED, DeadLetter, LeadReceived
from schemas.lead import Lead, lead_id_for
from services.qualifier.service import GROUP as QUALIFIER
from tests.conftest import CONFIG_DIR
from tests.fakes.llm import FakeLlm
from tests.faults.cluster import BOUND, Cluster, decision_counts, wait_all_written
from tests.integration.crm_store import crm_counts_in
from tests.servers import serve

pytestmark = pytest.mark.integration

KEY = "acct:freight-group"  # every message below: one key, so one ordered chain in the consumer
PARTITION = 0
NOT_JSON = b"\xff\xfe\x00{not json"  # not even UTF-8: dead-lettered base64-encoded
NOT_AN_EVENT = b'{"type": "lead.received", "event_id": "poison-2", "lead": {"email": 42}}'
CRASHES = "Brittle Freight"  # the fake LLM answers with no choices when the prompt names it


def event(n: int, company: str) -> LeadReceived:
    company_facts = {"name": company, "employees": 150, "industry": "Logistics", "country": "ES"}
    lead = Lead.model_validate(
        {"email": f"ops{n}@freight{n}.example", "name": "Ana", "company": company_facts, "source": "demo"}
    )
    return LeadReceived(
        event_id=f"poison-test-{n}",
        lead_id=lead_id_for(lead.identity),
        received_at=datetime.now(UTC),
        lead=lead,
    )


def config_with_llm(tmp: Path, url: str) -> Path:
    """The shipped config with the briefing's LLM switched on and pointed at the fake."""
    config = tmp / "config"
    shutil.copytree(CONFIG_DIR, config)
    routing = yaml.safe_load((config / "routing.yaml").read_text())
    routing["briefing"]["llm"] = {**routing["briefing"]["llm"], "enabled": True, "url": url}
    (config / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    return config


async def dead_letters(bootstrap: str) -> list[DeadLetter]:
    """Everything on leads.dlq right now, read to its end offsets (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # refresh metadata: the DLQ's partitions
        numbers = sorted(consumer.partitions_for_topic(TOPIC_DLQ) or ())
        partitions = [TopicPartition(TOPIC_DLQ, p) for p in numbers]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            letters += [DeadLetter.model_validate_json(m.value) for ms in batches.values() for m in ms]
        return letters
    finally:
        await consumer.stop()


async def until_dead_letters(bootstrap: str, count: int) -> list[DeadLetter]:
    async def poll() -> list[DeadLetter]:
        while len(letters := await dead_letters(bootstrap)) < count:
            await asyncio.sleep(0.5)
        return letters

    return await asyncio.wait_for(poll(), BOUND)


def replay(cluster: Cluster) -> dict[str, int]:
    command = [sys.executable, "-m", "services", "replay", "--dlq", "--bus", "kafka",
               "--bootstrap", cluster.bootstrap, "--idle", "5"]  # fmt: skip
    done = subprocess.run(command, env=cluster.env(), capture_output=True, text=True, timeout=BOUND)
    assert done.returncode == 0, done.stderr[-2000:]
    return {k: int(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


async def test_poison_is_dead_lettered_without_blocking_its_partition_then_replayed(
    cluster: Cluster, tmp_path: Path
) -> None:
    llm = FakeLlm(no_choices_for={CRASHES})
    async with serve(llm.app()) as llm_url:
        cluster.config_dir = config_with_llm(tmp_path, f"{llm_url}/v1/chat/completions")
        await cluster.start_all("qualifier", "writer")  # they create the topics, 3 partitions each

        good = [event(n, f"Freight Co {n}") for n in range(1, 5)]
        crash = event(9, CRASHES)
        sequence = [good[0].model_dump_json().encode(), NOT_JSON, good[1].model_dump_json().encode(),
                    NOT_AN_EVENT, good[2].model_dump_json().encode(), crash.model_dump_json().encode(),
                    good[3].model_dump_json().encode()]  # fmt: skip
        producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all")
        await producer.start()
        try:
            for value in sequence:
                await producer.send_and_wait(TOPIC_RECEIVED, value, key=KEY.encode(), partition=PARTITION)
        finally:
            await producer.stop()

        # Every good lead, including those after each poison message on the chain, goes through.
        good_ids = [e.lead_id for e in good]
        await wait_all_written(cluster.database_url, good_ids)
        letters = await until_dead_letters(cluster.bootstrap, 3)
        assert len(letters) == 3
        for letter in letters:
            assert (letter.topic, letter.key, letter.consumer) == (TOPIC_RECEIVED, KEY, QUALIFIER)
            # The error is its class and a message, on one line: no stack trace.
            assert re.fullmatch(r"[A-Za-z]+: [^\n]+", letter.error), letter.error
        by_value = {
            base64.b64decode(x.value) if x.encoding == "base64" else x.value.encode(): x for x in letters
        }
        assert by_value[NOT_JSON].encoding == "base64"
        assert by_value[NOT_JSON].error.startswith("PoisonEvent: not a LeadReceived event")
        assert by_value[NOT_AN_EVENT].error.startswith("PoisonEvent: not a LeadReceived event")
        assert by_value[crash.model_dump_json().encode()].error == "IndexError: list index out of range"

        once = {lead_id: 1 for lead_id in good_ids}
        assert await decision_counts(cluster.database_url) == once  # the crashed lead: no decision
        writes, notes = await crm_counts_in(cluster.database_url)
        assert writes == once and notes == once

        # The LLM endpoint behaves again; the operator replays the dead letters.
        llm.no_choices_for.clear()
        report = await asyncio.to_thread(replay, cluster)
        assert (report["matched"], report["republished"], report["unreadable"]) == (3, 3, 0)
        # What it read after the three: the two still-poison messages failing again, not republished.
        assert report["read"] == 3 + report["repeats"]

        await wait_all_written(cluster.database_url, [crash.lead_id])
        # The two undecodable messages are still poison: dead-lettered again, blocking nothing.
        again = await until_dead_letters(cluster.bootstrap, 5)
        assert Counter(x.error.split(":")[0] for x in again) == {"PoisonEvent": 4, "IndexError": 1}
        once[crash.lead_id] = 1
        assert await decision_counts(cluster.database_url) == once
        writes, notes = await crm_counts_in(cluster.database_url)
        assert writes == once and notes == once
