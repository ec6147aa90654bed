"""A Kafka (Tansu) pipeline writing to the HubSpot fake: the qualifier and the writer run as
`leadflow` subprocesses; leads are published to leads.received; the fake is read to check."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from connectors.bus.kafka import KafkaBus, KafkaSettings
from schemas.events import ALL_TOPICS, TOPIC_RECEIVED, LeadReceived
from schemas.lead import Lead, lead_id_for
from services.demo import sample_leads
from tests.conftest import CONFIG_DIR
from tests.fakes.hubspot import HubSpotFake, running
from tests.servers import start_service, tansu_broker

MEMBERS = ["ana.garcia", "ben.dubois", "clara.weber", "david.moreau", "emma.johnson", "frank.miller",
           "grace.lee"]  # fmt: skip
OWNERS = {member: str(70001 + i) for i, member in enumerate(MEMBERS)}
LIMIT, WINDOW = 20, 1.0  # a small rolling window so a test takes seconds, not minutes


def fake_hubspot() -> HubSpotFake:
    owners = [{"id": oid, "email": f"{m}@example.com", "firstName": m, "lastName": "Rep", "userId": int(oid),
               "type": "PERSON", "archived": False} for m, oid in OWNERS.items()]  # fmt: skip
    return HubSpotFake(limit=LIMIT, window=WINDOW, owners=owners)


def config_dir(tmp: Path, breaker_reset: float = 1.0) -> Path:
    """deploy/config with crm.yaml sending the demo source's leads to HubSpot, within LIMIT/WINDOW."""
    target = tmp / "config"
    target.mkdir()
    for path in CONFIG_DIR.glob("*.yaml"):
        (target / path.name).write_text(path.read_text())
    crm = {
        "default": "local",
        "sources": {"demo": "hubspot"},
        "hubspot": {
            "owners": OWNERS,
            "limits": {"requests": LIMIT, "window_seconds": WINDOW, "max_attempts": 4, "backoff_base": 0.05,
                       "backoff_cap": 0.5, "breaker_failures": 3, "breaker_reset_seconds": breaker_reset,
                       "timeout_seconds": 5},
        },
    }  # fmt: skip
    (target / "crm.yaml").write_text(yaml.safe_dump(crm))
    return target


@dataclass
class Pipeline:
    tmp: Path
    bootstrap: str
    hubspot_url: str
    config: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LEADFLOW_KAFKA_IDEMPOTENCE": "false",
            "LEADFLOW_KAFKA_REPLICATION": "1",
            "LEADFLOW_KAFKA_PARTITIONS": "3",
            "LEADFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{self.tmp / 'leadflow.db'}",
            "LEADFLOW_HUBSPOT_TOKEN": "test-token",
            "LEADFLOW_HUBSPOT_BASE_URL": self.hubspot_url,
        }

    def start(self, role: str) -> subprocess.Popen[bytes]:
        def command(port: int) -> list[str]:
            return [sys.executable, "-m", "services", role, "--bus", "kafka", "--bootstrap", self.bootstrap,
                    "--port", str(port), "--config", str(self.config),
                    "--data-dir", str(self.tmp)]  # fmt: skip

        proc, _ = start_service(command, self.tmp / f"{role}.log", self.env())
        self.procs[role] = proc
        return proc

    def log(self, role: str) -> str:
        return (self.tmp / f"{role}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextlib.asynccontextmanager
async def pipeline(tmp: Path, fake: HubSpotFake) -> AsyncIterator[Pipeline]:
    with broker(tmp) as bootstrap:
        async with running(fake) as url:
            p = Pipeline(tmp, bootstrap, url, config_dir(tmp))
            try:
                yield p
            finally:
                await asyncio.to_thread(p.stop)


@contextlib.contextmanager
def broker(tmp: Path) -> Iterator[str]:
    """A fresh broker per test: the consumer groups' offsets of other tests do not leak in."""
    with tansu_broker(tmp / "tansu.log") as bootstrap:
        yield bootstrap


async def publish_leads(bootstrap: str, count: int) -> dict[str, str]:
    """Publish ``count`` demo leads to leads.received; returns lead_id -> email."""
    bus = KafkaBus(
        KafkaSettings(bootstrap, idempotence=False, partitions=3, replication=1), topics=ALL_TOPICS
    )
    await bus.start()
    leads: dict[str, str] = {}
    try:
        now = datetime.now(UTC)
        for i, data in enumerate(sample_leads(count)):
            lead = Lead.model_validate(data)
            assert lead.person.email
            lead_id = lead_id_for(lead.identity)
            event = LeadReceived(event_id=f"demo:{i}", lead_id=lead_id, received_at=now, lead=lead)
            await bus.publish(TOPIC_RECEIVED, lead.identity, event.model_dump_json().encode())
            leads[lead_id] = lead.person.email.lower()
    finally:
        await bus.close()
    return leads


def written(fake: HubSpotFake, leads: dict[str, str]) -> int:
    """How many of the leads' contacts carry a decision (the update is the last step of a write)."""
    by_email = {c["properties"].get("email"): c for c in fake.objects["contacts"].values()}
    return sum(1 for email in leads.values() if (by_email.get(email) or {}).get("properties", {}).get(
        "leadflow_last_event_id"))  # fmt: skip


async def wait_all_written(fake: HubSpotFake, leads: dict[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while written(fake, leads) < len(leads) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    assert written(fake, leads) == len(leads), (
        f"{written(fake, leads)} of {len(leads)} written after {timeout}s"
    )


def check_every_contact(fake: HubSpotFake, leads: dict[str, str]) -> None:
    """Each lead's contact: score, tier, status, an owner when routed to a person; one note."""
    by_email = {c["properties"].get("email"): c for c in fake.objects["contacts"].values()}
    assert len(by_email) == len(leads)
    owned = 0
    for email in leads.values():
        contact = by_email[email]
        props = contact["properties"]
        assert props.get("leadflow_score") not in (None, "")
        assert props.get("leadflow_tier") and props.get("leadflow_status")
        owned += bool(props.get("hubspot_owner_id"))
        notes = fake.notes_of(contact["id"])
        assert len(notes) == 1, f"{len(notes)} notes on one contact"
        assert notes[0]["properties"]["leadflow_event_id"] == props["leadflow_last_event_id"]
    assert owned > 0, "some leads are routed to a person, so get a HubSpot owner"
    assert len(fake.objects["notes"]) == len(leads)
