"""Building SOQL safely: every value we put in a query is quoted here, never formatted in by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"'}


def quote(value: str) -> str:
    """A SOQL string literal (``'O\\'Brien'``)."""
    return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"


def in_list(field: str, values: Iterable[str]) -> str:
    return f"{field} IN ({', '.join(quote(v) for v in values)})"


def datetime_literal(at: datetime) -> str:
    """SOQL dateTime literals are unquoted ISO 8601 with a zone: 2026-11-20T10:00:00Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def chunks(values: Sequence[T], size: int) -> list[Sequence[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def is_id(value: str | None, prefix: str) -> bool:
    """A 15- or 18-character Salesforce id with the object's key prefix (00Q Lead, 005 User, 00G Group)."""
    return value is not None and len(value) in (15, 18) and value.isalnum() and value.startswith(prefix)


def select(columns: Sequence[str], sobject: str, where: str = "") -> str:
    """SELECT ... FROM ... [WHERE ...]. Column and object names come from code or validated config
    (API-name pattern); every value in ``where`` went through ``quote`` or ``in_list``."""
    soql = f"SELECT {', '.join(columns)} FROM {sobject}"  # noqa: S608 - SOQL, values quoted above
    return f"{soql} WHERE {where}" if where else soql
