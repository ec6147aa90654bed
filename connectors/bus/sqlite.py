"""The embedded bus: an append-only log in a SQLite file (WAL), with consumer-group offsets.

Durability: ``publish`` returns after the transaction holding the message has committed with
``synchronous=FULL``, so an accepted lead survives a kill -9 or a power cut. Concurrent
publishes are grouped into one transaction (group commit), which keeps the fsync count low
under load. One partition per topic; one consumer per group per process (the embedded mode
runs one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from connectors.bus import Headers, Message, last_per_partition
from connectors.errors import BusUnavailable

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key TEXT,
    value BLOB NOT NULL,
    headers TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS messages_topic_id ON messages (topic, id);
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_id INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
);
"""

_Pending = tuple[str, str | None, bytes, Headers, "asyncio.Future[None]"]


def _headers_json(headers: Headers) -> str:
    return json.dumps([[name, value.decode("latin-1")] for name, value in headers])


class SqliteBus:
    def __init__(self, path: Path, poll_interval: float = 0.2) -> None:
        self._path = path
        self._poll = poll_interval
        # One thread owns the connection: sqlite3 connections are not shared across threads.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-bus")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._new = asyncio.Event()

    async def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise BusUnavailable(f"sqlite bus: {exc}") from exc

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        self._conn = conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.OperationalError("bus is not started")
        return self._conn

    async def start(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._conn is not None:
            await self._run(self._connection().close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda: self._connection().execute("SELECT 1").fetchone())

    async def publish(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((topic, key, value, headers, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        # Everything that queued up while the previous transaction ran goes into the next one.
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                rows = [(t, k, v, _headers_json(hs)) for t, k, v, hs, _ in batch]
                await self._run(self._insert, rows)
            except BaseException as exc:
                # Whatever went wrong, every publisher in the batch gets an answer.
                failure = exc if isinstance(exc, BusUnavailable) else BusUnavailable(f"sqlite bus: {exc!r}")
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(failure)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for *_, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            self._new.set()

    def _insert(self, rows: list[tuple[str, str | None, bytes, str]]) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT INTO messages (topic, key, value, headers) VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def consumer(self, topics: Sequence[str], group: str) -> SqliteConsumer:
        def committed() -> dict[str, int]:
            marks = "?" * len(topics)
            rows = self._connection().execute(
                f"SELECT topic, next_id FROM offsets WHERE grp = ? AND topic IN ({','.join(marks)})",  # noqa: S608
                (group, *topics),
            )
            return dict(rows.fetchall())

        positions: dict[str, int] = await self._run(committed)
        return SqliteConsumer(self, tuple(topics), group, {t: positions.get(t, 0) for t in topics})

    # Called by SqliteConsumer: reads and offset writes go through the bus's one connection.
    def _read(self, topics: tuple[str, ...], after: dict[str, int], limit: int) -> list[Message]:
        out: list[Message] = []
        for topic in topics:
            rows = self._connection().execute(
                "SELECT id, key, value, headers FROM messages"
                " WHERE topic = ? AND id >= ? ORDER BY id LIMIT ?",
                (topic, after[topic], limit - len(out)),
            )
            for msg_id, key, value, headers in rows.fetchall():
                hs = tuple((n, h.encode("latin-1")) for n, h in json.loads(headers))
                out.append(Message(topic, 0, msg_id, key, bytes(value), hs))
        return out

    def _count(self, topic: str, from_id: int = 0) -> int:
        row = (
            self._connection()
            .execute("SELECT count(*) FROM messages WHERE topic = ? AND id >= ?", (topic, from_id))
            .fetchone()
        )
        return int(row[0])

    async def depth(self, topic: str) -> int:
        """Messages kept on ``topic`` (the embedded bus keeps them all)."""
        return int(await self._run(self._count, topic))

    def _forget(self, key: str, pattern: str) -> int:
        cursor = self._connection().execute(
            "DELETE FROM messages WHERE key = ? OR lower(CAST(value AS TEXT)) LIKE ? ESCAPE '\\'",
            (key, pattern),
        )
        return int(cursor.rowcount)

    async def forget(self, email: str) -> int:
        """Delete every message keyed by or mentioning ``email`` (GDPR); the consumers' offsets
        are ids, so deleting a row moves nobody's position."""
        email = email.strip().lower()
        escaped = email.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return int(await self._run(self._forget, email, f'%"{escaped}"%'))

    def _commit(self, group: str, offsets: dict[str, int]) -> None:
        self._connection().executemany(
            "INSERT INTO offsets (grp, topic, next_id) VALUES (?, ?, ?)"
            " ON CONFLICT (grp, topic) DO UPDATE SET next_id = max(next_id, excluded.next_id)",
            [(group, topic, next_id) for topic, next_id in offsets.items()],
        )


class SqliteConsumer:
    def __init__(
        self, bus: SqliteBus, topics: tuple[str, ...], group: str, positions: dict[str, int]
    ) -> None:
        self._bus, self._topics, self._group, self._position = bus, topics, group, positions

    async def _take(self, max_records: int) -> list[Message]:
        messages: list[Message] = await self._bus._run(
            self._bus._read, self._topics, self._position, max_records
        )
        for m in messages:
            self._position[m.topic] = m.offset + 1
        return messages

    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Message]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self._bus._new.clear()
            messages = await self._take(max_records)
            remaining = deadline - asyncio.get_running_loop().time()
            if messages or remaining <= 0:
                return messages
            # Woken at once by a publish in this process; polls for other processes' writes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bus._new.wait(), min(remaining, self._bus._poll))

    async def lag(self) -> dict[tuple[str, int], int]:
        counts = [await self._bus._run(self._bus._count, t, self._position[t]) for t in self._topics]
        return {(t, 0): n for t, n in zip(self._topics, counts, strict=True)}

    async def commit(self, messages: Sequence[Message]) -> None:
        offsets = {topic: offset + 1 for (topic, _), offset in last_per_partition(messages).items()}
        if offsets:
            await self._bus._run(self._bus._commit, self._group, offsets)

    async def close(self) -> None:
        return None
