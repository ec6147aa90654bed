"""The consume loop every worker shares: fetch, handle, dead-letter poison, then commit.

A batch's offsets are committed only after every message in it was handled or dead-lettered,
so a crash redelivers the batch; handlers are idempotent by event_id, so that changes nothing.
Messages with the same key are handled in order; different keys run concurrently.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from connectors.bus import Bus, Consumer, Message
from connectors.errors import BusUnavailable, FatalConnectorError, RetriableConnectorError
from schemas.events import TOPIC_DLQ, DeadLetter
from services import metrics, tracing
from services.errors import PoisonEvent
from services.logs import bound, get_logger

T = TypeVar("T")
Handler = Callable[[Message], Awaitable[None]]
DeadLetterFn = Callable[[Message, BaseException], Awaitable[None]]
# Takes a whole fetched batch (e.g. to write it through a CRM's batch endpoints); it dead-letters
# what fails on its own with the function it is given, and raises to have the batch redelivered.
BatchHandler = Callable[[Sequence[Message], DeadLetterFn], Coroutine[Any, Any, None]]


async def decoded(
    messages: Sequence[Message], decode: Callable[[Message], T], dead_letter: DeadLetterFn
) -> list[tuple[Message, T]]:
    """A batch handler's first step: each message with its event, the undecodable ones
    (PoisonEvent) dead-lettered on the spot."""
    items: list[tuple[Message, T]] = []
    for message in messages:
        try:
            items.append((message, decode(message)))
        except PoisonEvent as exc:
            await dead_letter(message, exc)
    return items


def backoff(attempt: int, base: float = 0.2, cap: float = 10.0) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2**attempt))


class ConsumerLoop:
    def __init__(
        self,
        bus: Bus,
        topics: Sequence[str],
        group: str,
        handler: Handler,
        *,
        max_attempts: int = 5,
        batch_size: int = 200,
        lag_every: float = 5.0,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self._bus, self._topics, self._group, self._handler = bus, tuple(topics), group, handler
        self._max_attempts = max_attempts
        self.batch_size = batch_size  # messages fetched (and handed to a batch handler) at once
        self._batch_handler = batch_handler
        self._log = get_logger(consumer=group)
        self.handled = 0
        self.dead_lettered = 0
        self._lag_every, self._lag_at = lag_every, 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; reconnects after a bus failure, never returns early."""
        failures = 0
        while not stop.is_set():
            try:
                consumer = await self._bus.consumer(self._topics, self._group)
            except BusUnavailable as exc:
                failures += 1
                self._log.warning("consumer_unavailable", error=str(exc))
                await _sleep_or_stop(stop, backoff(failures))
                continue
            try:
                await self._consume(consumer, stop)
                failures = 0
            except (BusUnavailable, RetriableConnectorError) as exc:
                # Uncommitted messages come again from the new consumer.
                failures += 1
                self._log.warning("consumer_restart", error=str(exc))
                await _sleep_or_stop(stop, backoff(failures))
            except Exception:
                # Never die silently: log, back off, start again from the last commit.
                failures += 1
                self._log.exception("consumer_failed")
                await _sleep_or_stop(stop, backoff(failures))
            finally:
                await consumer.close()

    async def _consume(self, consumer: Consumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            messages = await consumer.fetch(max_records=self.batch_size, timeout=0.5)
            await self._measure_lag(consumer)
            if not messages:
                continue
            if self._batch_handler is not None:
                if await self._whole_batch(messages, stop):
                    await consumer.commit(messages)
                continue
            by_key: dict[str | None, list[Message]] = defaultdict(list)
            for message in messages:
                by_key[message.key].append(message)
            try:
                # A TaskGroup cancels and awaits the other chains when one fails, so no chain
                # is still working on a message when the batch is redelivered.
                async with asyncio.TaskGroup() as group:
                    for chain in by_key.values():
                        group.create_task(self._in_order(chain))
            except BaseExceptionGroup as failed:
                raise failed.exceptions[0] from None
            await consumer.commit(messages)

    async def _measure_lag(self, consumer: Consumer) -> None:
        """At most every ``lag_every`` seconds: the lag counts are a query on the embedded bus."""
        now = time.monotonic()
        if now - self._lag_at < self._lag_every:
            return
        self._lag_at = now
        metrics.lag(self._group, await consumer.lag())

    async def _whole_batch(self, messages: list[Message], stop: asyncio.Event) -> bool:
        """Run the batch handler; False (nothing committed) when asked to stop before it finished,
        since a batch handler may be waiting for a CRM to come back."""
        assert self._batch_handler is not None
        work = asyncio.create_task(self._batch_handler(messages, self._dead_letter))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        if work.cancelled():
            return False
        work.result()  # raise the handler's error: the batch is redelivered
        self.handled += len(messages)
        return True

    async def _in_order(self, chain: list[Message]) -> None:
        for message in chain:
            await self._handle(message)

    async def _handle(self, message: Message) -> None:
        # Every line the handler logs carries where the message came from, and its spans
        # continue the trace the publisher started.
        where = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
        with bound(**where), tracing.continued(message.headers):
            await self._attempts(message)

    async def _attempts(self, message: Message) -> None:
        log = self._log
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._handler(message)
                self.handled += 1
                return
            except (PoisonEvent, FatalConnectorError) as exc:
                await self._dead_letter(message, exc)
                return
            except RetriableConnectorError as exc:
                if attempt == self._max_attempts:
                    await self._dead_letter(message, exc)
                    return
                log.warning("retry", attempt=attempt, error=str(exc))
                await asyncio.sleep(backoff(attempt))
            except Exception as exc:
                # A bug must not stall the partition: keep the message, with its error, in the DLQ.
                log.exception("handler_failed")
                await self._dead_letter(message, exc)
                return

    async def _dead_letter(self, message: Message, exc: BaseException) -> None:
        try:
            value, encoding = message.value.decode(), "utf-8"
        except UnicodeDecodeError:
            value, encoding = base64.b64encode(message.value).decode(), "base64"
        letter = DeadLetter(
            topic=message.topic,
            key=message.key,
            value=value,
            encoding=encoding,
            error=f"{exc.__class__.__name__}: {exc}"[:1000],
            consumer=self._group,
            failed_at=datetime.now(UTC),
        )
        # If even this fails the batch stays uncommitted and is retried after a restart.
        await self._bus.publish(TOPIC_DLQ, message.key, letter.model_dump_json().encode(), message.headers)
        self.dead_lettered += 1
        metrics.dead_lettered(self._group, message.topic)
        self._log.error("dead_lettered", topic=message.topic, offset=message.offset, error=letter.error)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
