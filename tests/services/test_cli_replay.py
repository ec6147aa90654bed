"""`leadflow replay --dlq` end to end on the embedded bus: the CLI as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.bus.sqlite import SqliteBus
from schemas.events import TOPIC_DLQ, TOPIC_ROUTED, DeadLetter

FAILED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def letter(lead_id: str, event_id: str, at: datetime) -> bytes:
    value = json.dumps({"event_id": event_id, "lead_id": lead_id, "type": "lead.routed"})
    dead = DeadLetter(
        topic=TOPIC_ROUTED,
        key=f"{lead_id}@example.com",
        value=value,
        error="HubSpotRejected: HTTP 400",
        consumer="leadflow-writer",
        failed_at=at,
    )
    return dead.model_dump_json().encode()


def replay(data_dir: Path, *args: str) -> dict[str, object]:
    command = [sys.executable, "-m", "services", "replay", "--dlq", "--bus", "sqlite",
               "--data-dir", str(data_dir), "--idle", "1", *args]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def routed_on_bus(data_dir: Path) -> list[tuple[str | None, dict[str, object]]]:
    bus = SqliteBus(data_dir / "bus.db")
    await bus.start()
    try:
        consumer = await bus.consumer([TOPIC_ROUTED], f"check-{datetime.now(UTC).timestamp()}")
        messages = await consumer.fetch(max_records=100, timeout=0.5)
        await consumer.close()
    finally:
        await bus.close()
    return [(m.key, json.loads(m.value)) for m in messages]


async def test_replay_puts_matching_dead_letters_back_on_their_topic(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    await bus.start()
    await bus.publish(TOPIC_DLQ, "a", letter("lead-a", "ev-1", FAILED))
    await bus.publish(TOPIC_DLQ, "b", letter("lead-b", "ev-2", FAILED + timedelta(hours=1)))
    await bus.publish(TOPIC_DLQ, "a", letter("lead-a", "ev-3", FAILED + timedelta(hours=2)))
    await bus.publish(TOPIC_DLQ, "x", b"not a dead letter")
    await bus.close()

    dry = replay(tmp_path, "--dry-run")
    assert (dry["read"], dry["matched"], dry["republished"], dry["unreadable"]) == (4, 3, 0, 1)
    assert await routed_on_bus(tmp_path) == []

    one_lead = replay(tmp_path, "--lead", "lead-a", "--since", (FAILED + timedelta(minutes=30)).isoformat())
    assert (one_lead["matched"], one_lead["republished"]) == (1, 1)
    back = await routed_on_bus(tmp_path)
    assert back == [("lead-a@example.com", {"event_id": "ev-3", "lead_id": "lead-a", "type": "lead.routed"})]

    everything = replay(tmp_path)
    assert everything["republished"] == 3
    assert sorted(v["event_id"] for _, v in await routed_on_bus(tmp_path)) == ["ev-1", "ev-2", "ev-3", "ev-3"]


async def test_a_message_dead_lettered_again_is_republished_once_per_run(tmp_path: Path) -> None:
    # Still poison after a replay, it fails again: a run that republished every copy it reads
    # would keep feeding it round while consumers run (the fault test on Kafka meets exactly that).
    bus = SqliteBus(tmp_path / "bus.db")
    await bus.start()
    await bus.publish(TOPIC_DLQ, "a", letter("lead-a", "ev-1", FAILED))
    await bus.publish(TOPIC_DLQ, "a", letter("lead-a", "ev-1", FAILED + timedelta(minutes=5)))
    await bus.publish(TOPIC_DLQ, "b", letter("lead-b", "ev-2", FAILED))
    await bus.close()

    report = replay(tmp_path)
    assert (report["read"], report["matched"], report["republished"], report["repeats"]) == (3, 2, 2, 1)
    assert sorted(v["event_id"] for _, v in await routed_on_bus(tmp_path)) == ["ev-1", "ev-2"]


def test_replay_from_a_data_dir_that_does_not_exist_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"  # a typo in --data-dir: an empty bus was made there, "read 0"
    command = [sys.executable, "-m", "services", "replay", "--dlq", "--bus", "sqlite",
               "--data-dir", str(missing), "--idle", "1"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"no embedded bus in {missing}: the directory does not exist (--data-dir)"
    assert not missing.exists()
