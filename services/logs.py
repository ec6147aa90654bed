"""structlog JSON logs with stable keys; emails and phone numbers never reach a log line.

Stable keys: lead_id, event_id, source, topic, partition, offset, consumer, config_version, and
trace_id/span_id inside a traced stage. An email or phone number that reaches a line anyway (an
exception quoting a lead) is replaced by ``<email:HASH>`` / ``<phone:HASH>``, where HASH is
``pii_hash`` of it: the same person always gets the same hash, so lines stay correlatable and an
operator can find and purge one person's lines (``leadflow forget`` prints the hash).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import trace

from schemas.lead import pii_hash

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digit runs that look like phone numbers, but not ISO dates, ids or uuids.
_PHONE = re.compile(r"(?<![\w:.+-])(?!\d{4}-\d\d-\d\d)\+?\d[\d ().-]{7,}\d(?![\w:-])")


_NON_DIGIT = re.compile(r"\D")


def redact(text: str) -> str:
    """Replace emails and phone numbers with a short hash, so lines stay correlatable."""
    if "@" in text:  # an email has one: most values (ids, sources) are spared the search
        text = _EMAIL.sub(lambda m: f"<email:{pii_hash(m.group())}>", text)
    return _PHONE.sub(lambda m: f"<phone:{pii_hash(_NON_DIGIT.sub('', m.group()))}>", text)


def _redact_pii(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Defence in depth: callers log ids, but an exception message may quote a lead.
    for key, value in event.items():
        if isinstance(value, str) and key not in ("timestamp", "level"):
            event[key] = redact(value)
    return event


def _add_trace(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Joins a log line to its trace in the tracing backend.
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event.setdefault("span_id", format(ctx.span_id, "016x"))
    return event


@contextmanager
def bound(**keys: Any) -> Iterator[None]:
    """Every line logged in the block (in this task) carries ``keys``."""
    with structlog.contextvars.bound_contextvars(**keys):
        yield


class _StderrLogger:
    """Writes each rendered line to whatever sys.stderr is now (tests swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def configure(level: str = "info") -> None:
    """JSON lines on stderr for our logs and for the libraries' (uvicorn, aiokafka) alike."""
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace,
        structlog.processors.format_exc_info,
        _redact_pii,
    ]
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *shared[3:],
                        structlog.processors.JSONRenderer()],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared[:3]],
        )
    )  # fmt: skip
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _AlembicPreamble) for f in migration.filters):
        migration.addFilter(_AlembicPreamble())
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_: _StderrLogger(),
        cache_logger_on_first_use=True,
    )


class _AlembicPreamble(logging.Filter):
    """Alembic says which dialect it drives and how it treats DDL each time a store is opened
    (twice per command): noise. The "Running upgrade" lines, what changed, are kept."""

    PREAMBLE = ("Context impl ", "Will assume ")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREAMBLE)


class _CurrentStderr:
    """A stream that is always the current sys.stderr."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger(**bound)
