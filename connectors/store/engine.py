"""Async engines for the store and the local CRM, with SQLite tuned for durability."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import asyncpg
from sqlalchemy import URL, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_

from connectors.errors import StoreUnavailable
from connectors.store.json_text import serialise

P = ParamSpec("P")
R = TypeVar("R")


# What a database failure can raise. SQLAlchemy wraps the driver's errors on a live connection,
# but not while connecting through asyncpg: a refused connection is an OSError, a server still
# starting up or out of connection slots an asyncpg error.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def translated(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Any database error becomes StoreUnavailable (retriable), named by its class only:
    the driver's message can quote SQL parameters, and with them a lead's email."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"store {fn.__name__}: {exc.__class__.__name__}") from exc

    return wrapper


@dataclass(frozen=True)
class PoolSettings:
    """Connections each process keeps to a server database (PostgreSQL); SQLite ignores them."""

    size: int = 5
    max_overflow: int = 10  # more under a burst, closed again when idle
    timeout: float = 30.0  # seconds to wait for a free connection before failing (retriable)


def _without_nul(parameters: Any) -> Any:
    if isinstance(parameters, str):
        return parameters.replace("\x00", "")
    if isinstance(parameters, dict):
        return {k: _without_nul(v) for k, v in parameters.items()}
    if isinstance(parameters, list | tuple):
        return type(parameters)(_without_nul(v) for v in parameters)
    return parameters


def _wal(cursor: Any, patience: float = 30.0) -> None:
    """Put the database in WAL mode (it stays so, in the file). Switching needs the database to
    itself, and SQLite does not wait for that: while another connection holds a lock (several
    engines opening a new file at once, one switching or migrating) it answers "database is
    locked" at once. So: retry until the mode is WAL, sleeping on the event loop (this runs in
    SQLAlchemy's greenlet), up to the busy timeout the other statements get."""
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver adapter's OperationalError, not sqlite3's own
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        await_(asyncio.sleep(0.02))


def make_engine(url: str | URL, pool: PoolSettings | None = None, *, autocommit: bool = False) -> AsyncEngine:
    """``autocommit``: every statement commits itself (PostgreSQL only; for SQLite see
    ``autocommit_engine``), for callers that run single statements outside any transaction;
    its checkouts are not pinged (see ``autocommit_engine``)."""
    if make_url(url).get_backend_name() != "sqlite":
        pool = pool or PoolSettings()
        engine = create_async_engine(
            url,
            # A connection the server dropped (restart, failover) is replaced before use.
            pool_pre_ping=not autocommit,
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.timeout,
            json_serializer=serialise,  # pre-serialised decisions stored as they are
            **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
        )

        @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
        def _strip_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> Any:
            # PostgreSQL text cannot hold NUL (SQLite can, and a sender can put one in a name): a
            # lead whose text has one would fail on every retry, so it is stored without it.
            # JSON is serialised before this point, where NUL is the escape \u0000, and kept.
            return statement, _without_nul(parameters)

        return engine
    engine = create_async_engine(url, connect_args={"timeout": 30}, json_serializer=serialise)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        _wal(cursor)
        # FULL: a decision the bus offset says is done must survive a power cut too.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


# Enough for the intake's coalesced claims and confirmations: one statement of each in flight.
AUTOCOMMIT_POOL = PoolSettings(size=2, max_overflow=8)


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine:
    """For single statements that need no transaction around them (an INSERT or UPDATE that
    commits itself). On PostgreSQL a small pool of its own whose connections are born in
    autocommit: on ``engine``'s pool, where each checkout's pre-ping runs in a transaction, a
    statement costs a BEGIN, the ping and a ROLLBACK on top. Nor is a checkout pinged here (a
    round trip per statement, a twentieth of the intake's CPU): after a server restart the first
    statement fails, SQLAlchemy discards the pool, and the intake's coalescer retries each of that
    statement's items alone on fresh connections. On SQLite (no pre-ping; the database may be in
    memory) the same pool, switched to autocommit per connection."""
    if engine.dialect.name != "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return make_engine(engine.url, AUTOCOMMIT_POOL, autocommit=True)


def upsert(engine: AsyncEngine) -> Any:
    """The dialect's INSERT with ON CONFLICT support (SQLite and PostgreSQL share the API)."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
