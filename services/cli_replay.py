"""`leadflow replay --dlq`: put dead-lettered events back on the topic they failed on.

The DLQ is read from its start by a consumer group of its own for each run (nothing is committed
for the other consumers), filtered by ``--since`` (when it failed) and ``--lead``, and each match
is republished with its original key, value and headers. Replaying twice is harmless: every
consumer is idempotent by event_id. A dead letter stays in leads.dlq (it is a log).

One run republishes each distinct message (topic, key, value) once: a message that is still
poison is dead-lettered again while the run reads on, and republishing that copy too would feed
it round the loop for as long as the consumers are quicker than ``idle``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from connectors.bus import Bus
from schemas.events import TOPIC_DLQ, DeadLetter
from services.bootstrap import make_bus
from services.settings import Settings


@dataclass
class ReplayReport:
    read: int = 0
    matched: int = 0
    republished: int = 0
    unreadable: int = 0
    repeats: int = 0  # letters for a message this run already republished (or counted, dry)


def _lead_of(letter: DeadLetter) -> str | None:
    if letter.encoding != "utf-8":
        return None
    try:
        value = json.loads(letter.value)
    except ValueError:
        return None
    lead_id = value.get("lead_id") if isinstance(value, dict) else None
    return str(lead_id) if lead_id is not None else None


async def replay_dlq(
    bus: Bus, *, since: datetime | None = None, lead: str | None = None, dry_run: bool = False,
    idle: float = 10.0,
) -> ReplayReport:  # fmt: skip
    """Republish matching dead letters; stops once the DLQ has been quiet for ``idle`` seconds."""
    report = ReplayReport()
    done: set[bytes] = set()  # digests of the messages republished: a DLQ can be large
    consumer = await bus.consumer([TOPIC_DLQ], f"leadflow-replay-{uuid.uuid4().hex[:12]}")
    try:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle:
            messages = await consumer.fetch(max_records=500, timeout=0.5)
            if messages:
                quiet_since = time.monotonic()
            for message in messages:
                report.read += 1
                try:
                    letter = DeadLetter.model_validate_json(message.value)
                except ValidationError:
                    report.unreadable += 1
                    continue
                if since is not None and letter.failed_at < since:
                    continue
                if lead is not None and _lead_of(letter) != lead:
                    continue
                message_id = hashlib.sha256(
                    json.dumps([letter.topic, letter.key, letter.encoding, letter.value]).encode()
                ).digest()
                if message_id in done:
                    report.repeats += 1
                    continue
                done.add(message_id)
                report.matched += 1
                if dry_run:
                    continue
                value = (
                    letter.value.encode() if letter.encoding == "utf-8" else base64.b64decode(letter.value)
                )
                await bus.publish(letter.topic, letter.key, value, message.headers)
                report.republished += 1
    finally:
        await consumer.close()
    return report


Since = Annotated[
    str | None, typer.Option(help="Only letters that failed at or after this time (ISO 8601 with zone)")
]


def replay(
    dlq: Annotated[bool, typer.Option("--dlq", help="Replay leads.dlq (the only source for now)")] = False,
    since: Since = None,
    lead: Annotated[str | None, typer.Option("--lead", help="Only this lead id")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be replayed")] = False,
    bus: Annotated[str | None, typer.Option("--bus", help="sqlite or kafka [env LEADFLOW_BUS]")] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka HOST:PORT [env LEADFLOW_KAFKA_BOOTSTRAP]")
    ] = None,
    data_dir: Annotated[str | None, typer.Option(help="Embedded data dir [env LEADFLOW_DATA_DIR]")] = None,
    idle: Annotated[float, typer.Option(help="Stop after the DLQ is quiet this many seconds")] = 10.0,
) -> None:
    """Put dead-lettered events back on their original topic; prints what it did as JSON."""
    if not dlq:
        raise typer.BadParameter("say what to replay: --dlq")
    overrides = {"bus": bus, "kafka_bootstrap": bootstrap, "data_dir": data_dir}
    settings = Settings.load(**{k: v for k, v in overrides.items() if v is not None})
    if settings.bus == "sqlite" and not settings.data_dir.is_dir():  # else an empty bus made there
        typer.echo(
            f"no embedded bus in {settings.data_dir}: the directory does not exist (--data-dir)", err=True
        )
        raise typer.Exit(1)
    try:
        after = datetime.fromisoformat(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter(f"--since is not an ISO 8601 time: {since}") from exc
    if after is not None and after.tzinfo is None:
        raise typer.BadParameter("--since needs a time zone, e.g. 2026-11-20T10:00:00Z")

    async def main() -> ReplayReport:
        the_bus = make_bus(settings)
        await the_bus.start()
        try:
            return await replay_dlq(the_bus, since=after, lead=lead, dry_run=dry_run, idle=idle)
        finally:
            await the_bus.close()

    report = asyncio.run(main())
    typer.echo(json.dumps({**report.__dict__, "dry_run": dry_run}))


def register(app: typer.Typer) -> None:
    app.command()(replay)
