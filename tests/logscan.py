"""Scan every log line a test run emitted for what must never be logged: an email address, a phone
number, a token or a secret.

``capture_logs`` tees this process's stderr and stdout (where ``services.logs.configure`` writes
every line, ours and the libraries'); log files of subprocesses (the Tansu broker, a service run
as ``python -m services``) are added by path. ``leaks`` finds, per line, each email-like or
phone-like text and each exact known value (the test's leads and secrets), so a leak in a format
the patterns miss is still found.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import structlog

from services.logs import configure

EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
# E.164 (+ then 7 to 15 digits, as the demo leads and Typeform send them), and national formats:
# groups of 2-4 digits split by spaces, dashes, dots or brackets, 9 digits or more in all. Not
# inside a longer token, so ISO timestamps, uuids, offsets and durations do not match.
E164 = re.compile(r"(?<![\w.])\+[1-9]\d{6,14}(?![\w.])")
NATIONAL = re.compile(r"(?<![\w.:/-])(?:\+\d{1,3}[ .-]?)?\(?\d{2,4}\)?(?:[ .-]\d{2,4}){2,4}(?![\w:/-])")
NON_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class Leak:
    source: str  # "stderr", a file name
    line: str
    what: str  # "email", "phone", or "known value <label>"
    found: str


def _phones(text: str) -> Iterator[str]:
    yield from (m.group() for m in E164.finditer(text))
    for m in NATIONAL.finditer(text):
        digits = NON_DIGIT.sub("", m.group())
        # Dates (2026-11-22 is 8 digits) and version triples stay below 9 digits.
        if 9 <= len(digits) <= 15 and not re.fullmatch(r"\d{4}-\d\d-\d\d.*", m.group()):
            yield m.group()


def _texts(line: str) -> list[str]:
    """The line, and for a JSON line its decoded string values too (a \\u escape hides nothing)."""
    texts = [line]
    with contextlib.suppress(ValueError):
        decoded = json.loads(line)
        if isinstance(decoded, dict):
            texts += [str(v) for v in decoded.values()]
    return texts


def known_values(leads: Iterable[dict[str, Any]], secrets: dict[str, str]) -> dict[str, str]:
    """Exact strings that must not appear: each lead's email and phone (as given, lower-cased,
    digits only, E.164 compact) and each secret, labelled for the failure message."""
    known = {f"secret {name}": value for name, value in secrets.items() if value}
    for lead in leads:
        person = lead.get("person") or {}
        for key in ("email", "phone"):
            value = lead.get(key) or person.get(key)
            if not value:
                continue
            known[f"{key} {value}"] = value
            known[f"{key} {value} lower-cased"] = value.lower()
            if key == "phone":
                digits = NON_DIGIT.sub("", value)
                known[f"phone {value} as digits"] = digits
                known[f"phone {value} as E.164"] = "+" + digits
                known[f"phone {value} national"] = digits[2:]  # without the +34 country code
    return known


def leaks(lines: Iterable[tuple[str, str]], known: dict[str, str] | None = None) -> list[Leak]:
    """Every leak in ``(source, line)`` pairs: patterns first, then exact known values."""
    found: list[Leak] = []
    for source, line in lines:
        for text in _texts(line):
            found += [Leak(source, line, "email", m.group()) for m in EMAIL.finditer(text)]
            found += [Leak(source, line, "phone", p) for p in _phones(text)]
            found += [Leak(source, line, f"known value {label}", value)
                      for label, value in (known or {}).items() if value in text]  # fmt: skip
    return found


class _Tee(io.TextIOBase):
    """Writes through to the stream it wraps and keeps a copy."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()


@dataclass
class LogCapture:
    """What a block logged: this process's stderr/stdout and the subprocess log files named."""

    files: list[Path] = field(default_factory=list)
    _offsets: dict[Path, int] = field(default_factory=dict)
    _streams: dict[str, _Tee] = field(default_factory=dict)

    def add_file(self, path: Path, whole: bool = False) -> None:
        """Scan ``path`` too: from its current end (a session-wide log holds other tests' lines),
        or ``whole`` (a process the test started)."""
        self.files.append(path)
        self._offsets[path] = path.stat().st_size if path.exists() and not whole else 0

    def lines(self) -> list[tuple[str, str]]:
        out = [(name, line) for name, tee in self._streams.items()
               for line in tee.copy.getvalue().splitlines()]  # fmt: skip
        for path in self.files:
            if path.exists():
                with path.open("rb") as f:
                    f.seek(self._offsets.get(path, 0))
                    text = f.read().decode(errors="replace")
                out += [(path.name, line) for line in text.splitlines()]
        return out

    def assert_clean(self, known: dict[str, str], expect_from: tuple[str, ...] = ("stderr",)) -> None:
        """Fail listing each leak (at most 20); and, so the scan cannot pass vacuously, fail when
        a source in ``expect_from`` (``stderr``, a file name) logged nothing."""
        lines = self.lines()
        for expected in expect_from:
            assert any(name == expected for name, _ in lines), f"no log line from {expected}: is logging on?"
        found = leaks(lines, known)
        assert not found, f"{len(found)} leaks in the logs, e.g.:\n" + "\n".join(
            f"[{leak.source}] {leak.what}: {leak.found!r} in {leak.line[:300]}" for leak in found[:20]
        )


@contextlib.contextmanager
def capture_logs(level: str = "info") -> Iterator[LogCapture]:
    """Log as a deployed process does (``services.logs.configure``, JSON on stderr) and keep every
    line written in the block; the previous logging setup is restored afterwards."""
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    capture = LogCapture()
    capture._streams = {"stderr": _Tee(sys.stderr), "stdout": _Tee(sys.stdout)}
    sys.stderr, sys.stdout = capture._streams["stderr"], capture._streams["stdout"]  # type: ignore[assignment]
    try:
        configure(level)
        yield capture
    finally:
        sys.stderr, sys.stdout = capture._streams["stderr"].inner, capture._streams["stdout"].inner
        structlog.configure(**saved_structlog)
        root.handlers, _ = saved_root
        root.setLevel(saved_root[1])
