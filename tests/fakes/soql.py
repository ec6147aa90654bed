"""A small SOQL interpreter for the Salesforce fake: what the connector and requalify send.

SELECT a, b FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC]] [LIMIT n], where cond combines with
AND / OR / NOT and parentheses: ``f = v``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``f IN (...)``,
``f NOT IN (...)``, ``f LIKE 'a%'``. Values: 'strings' (with SOQL's backslash escapes), numbers,
true/false/null and dateTime literals (2026-11-20T10:00:00Z). Anything else is a MALFORMED_QUERY,
as Salesforce would answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<dt>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)|(?P<word>[A-Za-z_][\w.]*))"
)
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t"}


class SoqlError(ValueError):
    """Answered as 400 MALFORMED_QUERY (or INVALID_FIELD, see ``code``)."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Query:
    columns: tuple[str, ...]
    sobject: str
    where: Predicate
    order_by: str | None
    descending: bool
    limit: int | None


def parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tokens(soql: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(soql):
        if not soql[pos:].strip():
            break
        m = _TOKEN.match(soql, pos)
        if not m:
            raise SoqlError(f"unexpected token at {pos}: {soql[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", lambda e: _UNESCAPE.get(e.group(1), e.group(1)), text[1:-1])
            out.append(("value", value))
        elif kind == "dt":
            out.append(("value", parse_datetime(text)))
        elif kind == "num":
            out.append(("value", float(text) if "." in text else int(text)))
        elif kind == "word" and text.lower() in ("true", "false", "null"):
            out.append(("value", {"true": True, "false": False, "null": None}[text.lower()]))
        else:
            out.append((kind, text))
    return out


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, datetime):
        left = parse_datetime(left)
    if op in ("=", "!=", "<>"):
        same = left == right or (
            isinstance(left, str) and isinstance(right, str) and left.lower() == right.lower()
        )
        return same if op == "=" else not same
    if left is None or right is None:
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _like(value: Any, pattern: str) -> bool:
    regex = "^" + ".*".join(re.escape(part).replace("_", ".") for part in pattern.lower().split("%")) + "$"
    return isinstance(value, str) and re.match(regex, value.lower()) is not None


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], fields: set[str]) -> None:
        self.tokens, self.pos, self.fields = tokens, 0, fields

    def peek(self, word: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        kind, text = self.tokens[self.pos]
        if word is None:
            return True
        return kind in ("word", "op") and str(text).upper() == word

    def take(self, word: str | None = None) -> tuple[str, Any]:
        if self.pos >= len(self.tokens) or (word is not None and not self.peek(word)):
            raise SoqlError(f"expected {word or 'more'} at token {self.pos}")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def field(self) -> str:
        kind, name = self.take()
        if kind != "word":
            raise SoqlError(f"expected a field name, got {name!r}")
        if name.lower() not in self.fields:
            raise SoqlError(f"No such column '{name}' on entity", code="INVALID_FIELD")
        return str(name)

    def value(self) -> Any:
        kind, value = self.take()
        if kind != "value":
            raise SoqlError(f"expected a value, got {value!r}")
        return value

    def expr(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.atom()]
        while self.peek("AND"):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def atom(self) -> Predicate:
        if self.peek("NOT"):
            self.take()
            inner = self.atom()
            return lambda row: not inner(row)
        if self.peek("("):
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        name = self.field()
        negate = False
        if self.peek("NOT"):
            self.take()
            negate = True
        if self.peek("IN"):
            self.take()
            self.take("(")
            values = [self.value()]
            while self.peek(","):
                self.take()
                values.append(self.value())
            self.take(")")
            return lambda row: negate != any(_compare("=", get(row, name), v) for v in values)
        if self.peek("LIKE"):
            self.take()
            pattern = self.value()
            return lambda row: _like(get(row, name), pattern)
        kind, op = self.take()
        if kind != "op" or op in ("(", ")", ","):
            raise SoqlError(f"expected an operator after {name}")
        value = self.value()
        return lambda row: _compare(op, get(row, name), value)


def get(row: Row, name: str) -> Any:
    """A field by case-insensitive name (SOQL is case-insensitive on names)."""
    if name in row:
        return row[name]
    lowered = name.lower()
    return next((v for k, v in row.items() if k.lower() == lowered), None)


def parse(soql: str, schema: dict[str, set[str]]) -> Query:
    """``schema``: object name -> its field names (lower-cased), to refuse unknown columns."""
    tokens = _tokens(soql)
    p = _Parser(tokens, set())
    p.take("SELECT")
    names = [p.take()[1]]
    while p.peek(","):
        p.take()
        names.append(p.take()[1])
    p.take("FROM")
    sobject = str(p.take()[1])
    fields = schema.get(sobject.lower()) if sobject.lower() in schema else None
    if fields is None:
        raise SoqlError(f"sObject type '{sobject}' is not supported", code="INVALID_TYPE")
    for name in names:
        if str(name).lower() not in fields:
            raise SoqlError(f"No such column '{name}' on entity '{sobject}'", code="INVALID_FIELD")
    p.fields = fields
    where: Predicate = lambda row: True  # noqa: E731
    if p.peek("WHERE"):
        p.take()
        where = p.expr()
    order_by, descending, limit = None, False, None
    if p.peek("ORDER"):
        p.take()
        p.take("BY")
        order_by = p.field()
        if p.peek("DESC") or p.peek("ASC"):
            descending = p.take()[1].upper() == "DESC"
    if p.peek("LIMIT"):
        p.take()
        limit = int(p.value())
    if p.peek():
        raise SoqlError(f"unexpected {p.tokens[p.pos][1]!r} at the end")
    return Query(tuple(str(n) for n in names), sobject, where, order_by, descending, limit)
