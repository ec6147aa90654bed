"""The Kafka bus through aiokafka: acks=all, optional idempotent producer, manual commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError, TopicAlreadyExistsError

from connectors.bus import Headers, Message, last_per_partition
from connectors.errors import BusUnavailable

log = logging.getLogger(__name__)

# How long a rebalance waits for the batch in hand to finish and be committed.
REVOKE_GRACE = 30.0
# Bytes of records the producer gathers per partition into one batch. aiokafka's
# default (16 KiB) holds two or three routed leads (about 5.5 KiB each, briefing included): the
# qualifier's batch of 200 went out as ~80 batches, and every send waiting for room woke each
# time one drained. Under Kafka's default 1 MiB message.max.bytes (a batch is one message there).
MAX_BATCH_BYTES = 512 * 1024


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str
    # On for Apache Kafka; off for brokers without idempotent-producer support (Tansu).
    idempotence: bool = True
    partitions: int = 6
    # Copies of each topic Leadflow creates; with acks=all, fewer than 3 means losing one
    # broker can lose accepted leads. 1 only for a single-broker dev or test setup.
    replication: int = 3
    publish_timeout: float = 10.0
    client_id: str = "leadflow"
    # How long the broker may hold a fetch that finds nothing new. Apache Kafka answers as soon
    # as a record arrives, so there this only sets how often an idle consumer asks; Tansu holds
    # every fetch to its deadline, which at aiokafka's 500 ms put 130 ms at p50 and 250 ms at
    # p99 on each hop (50 ms: 10 and 30).
    fetch_max_wait_ms: int = 50


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
                max_batch_size=MAX_BATCH_BYTES,
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
            replication = self._settings.replication
            configs = {"min.insync.replicas": str(min(2, replication))}
            wanted = [
                NewTopic(t, self._settings.partitions, replication, topic_configs=configs)
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
            # asyncio.timeout, not wait_for: no extra task per message on the intake's hot path.
            async with asyncio.timeout(self._settings.publish_timeout):
                await producer.send_and_wait(
                    topic, value, key=key.encode() if key is not None else None, headers=list(headers)
                )
        except (KafkaError, TimeoutError) as exc:
            raise BusUnavailable(f"publish to {topic}: {exc!r}") from exc

    async def depth(self, topic: str) -> int:
        """Messages kept on ``topic`` across its partitions (end minus beginning offsets)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap, client_id=self._settings.client_id
        )
        try:
            await consumer.start()
            await consumer.topics()  # fetches the metadata partitions_for_topic reads
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if not partitions:
                return 0
            start = await consumer.beginning_offsets(partitions)
            end = await consumer.end_offsets(partitions)
        except KafkaError as exc:
            raise BusUnavailable(f"kafka offsets of {topic}: {exc!r}") from exc
        finally:
            await consumer.stop()
        return sum(max(0, end[tp] - start[tp]) for tp in partitions)

    async def consumer(self, topics: Sequence[str], group: str) -> KafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap,
            client_id=self._settings.client_id,
            group_id=group,
            enable_auto_commit=False,  # commit only after side effects are done
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            fetch_max_wait_ms=self._settings.fetch_max_wait_ms,
        )
        wrapper = KafkaConsumer(consumer)
        try:
            await consumer.start()
            consumer.subscribe(list(topics), listener=wrapper.listener)
        except KafkaError as exc:
            await consumer.stop()
            raise BusUnavailable(f"kafka consumer {group}: {exc!r}") from exc
        return wrapper


class _FinishBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """On a rebalance, let the batch in hand finish and be committed before partitions move,
    so the new owner does not start on work that is still being done here."""

    def __init__(self, idle: asyncio.Event) -> None:
        self._idle = idle

    async def on_partitions_revoked(self, revoked: object) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), REVOKE_GRACE)

    async def on_partitions_assigned(self, assigned: object) -> None:
        return None


class KafkaConsumer:
    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._idle = asyncio.Event()  # set while no fetched batch awaits its commit
        self._idle.set()
        self.listener = _FinishBeforeRevoke(self._idle)

    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Message]:
        try:
            batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        except KafkaError as exc:
            raise BusUnavailable(f"kafka fetch: {exc!r}") from exc
        messages = [
            Message(
                r.topic,
                r.partition,
                r.offset,
                # Foreign producers can send anything: decode defensively, never crash here.
                r.key.decode(errors="replace") if r.key is not None else None,
                r.value or b"",
                tuple((k, bytes(v) if v is not None else b"") for k, v in r.headers),
            )
            for records in batches.values()
            for r in records
        ]
        if messages:
            self._idle.clear()
        return messages

    async def commit(self, messages: Sequence[Message]) -> None:
        owned = self._consumer.assignment()
        offsets = {
            tp: o + 1
            for (t, p), o in last_per_partition(messages).items()
            if (tp := TopicPartition(t, p)) in owned
        }
        try:
            if offsets:
                await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # Partitions moved during the batch: their new owner redelivers, and handlers are
            # idempotent. Keep this consumer; tearing it down would force another rebalance.
            log.warning("kafka commit skipped after a rebalance: %r", exc)
        except KafkaError as exc:
            raise BusUnavailable(f"kafka commit: {exc!r}") from exc
        finally:
            self._idle.set()

    async def lag(self) -> dict[tuple[str, int], int]:
        """Highwater (from the last fetch) minus position, per assigned partition; partitions
        not fetched from yet are left out rather than guessed."""
        lags: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except (KafkaError, IllegalStateError):
                continue  # revoked meanwhile
            lags[(tp.topic, tp.partition)] = max(0, highwater - position)
        return lags

    async def close(self) -> None:
        self._idle.set()
        await self._consumer.stop()
