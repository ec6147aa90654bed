"""The Kafka bus through aiokafka: acks=all, optional idempotent producer, manual commits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from connectors.bus import Headers, Message, last_per_partition
from connectors.errors import BusUnavailable


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str
    # On for Apache Kafka; off for brokers without idempotent-producer support (Tansu).
    idempotence: bool = True
    partitions: int = 6
    replication: int = 1
    publish_timeout: float = 10.0
    client_id: str = "leadflow"


class KafkaBus:
    def __init__(self, settings: KafkaSettings, topics: Sequence[str] = ()) -> None:
        self._settings = settings
        self._topics = tuple(topics)
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        try:
            await self._ensure_topics()
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.bootstrap,
                client_id=self._settings.client_id,
                acks="all",
                enable_idempotence=self._settings.idempotence,
                linger_ms=2,
                request_timeout_ms=int(self._settings.publish_timeout * 1000),
            )
            await producer.start()
        except KafkaError as exc:
            raise BusUnavailable(f"kafka at {self._settings.bootstrap}: {exc!r}") from exc
        self._producer = producer

    async def _ensure_topics(self) -> None:
        if not self._topics:
            return
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._settings.bootstrap, client_id=self._settings.client_id
        )
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [
                NewTopic(t, self._settings.partitions, self._settings.replication)
                for t in self._topics
                if t not in existing
            ]
            if wanted:
                with contextlib.suppress(TopicAlreadyExistsError):  # another replica was first
                    await admin.create_topics(wanted)
        finally:
            await admin.close()

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BusUnavailable("kafka bus is not started")
        return self._producer

    async def ping(self) -> None:
        producer = self._started()
        try:
            ok = await asyncio.wait_for(
                producer.client.force_metadata_update(), self._settings.publish_timeout
            )
        except (KafkaError, TimeoutError) as exc:
            raise BusUnavailable(f"kafka metadata: {exc!r}") from exc
        if not ok:
            raise BusUnavailable("kafka metadata update failed")

    async def publish(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        producer = self._started()
        try:
            await asyncio.wait_for(
                producer.send_and_wait(
                    topic,
                    value,
                    key=key.encode() if key is not None else None,
                    headers=list(headers),
                ),
                self._settings.publish_timeout,
            )
        except (KafkaError, TimeoutError) as exc:
            raise BusUnavailable(f"publish to {topic}: {exc!r}") from exc

    async def consumer(self, topics: Sequence[str], group: str) -> KafkaConsumer:
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self._settings.bootstrap,
            client_id=self._settings.client_id,
            group_id=group,
            enable_auto_commit=False,  # commit only after side effects are done
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            raise BusUnavailable(f"kafka consumer {group}: {exc!r}") from exc
        return KafkaConsumer(consumer)


class KafkaConsumer:
    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer

    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Message]:
        try:
            batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        except KafkaError as exc:
            raise BusUnavailable(f"kafka fetch: {exc!r}") from exc
        return [
            Message(
                r.topic,
                r.partition,
                r.offset,
                r.key.decode() if r.key is not None else None,
                r.value or b"",
                tuple((k, bytes(v)) for k, v in r.headers),
            )
            for records in batches.values()
            for r in records
        ]

    async def commit(self, messages: Sequence[Message]) -> None:
        offsets = {TopicPartition(t, p): o + 1 for (t, p), o in last_per_partition(messages).items()}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            raise BusUnavailable(f"kafka commit: {exc!r}") from exc

    async def close(self) -> None:
        await self._consumer.stop()
