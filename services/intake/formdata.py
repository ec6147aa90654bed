"""Posted forms (urlencoded or multipart) read from bytes already under the size limit.

Text fields are kept in order; file parts are only counted, their content never stored.
Web forms, Mailgun and SendGrid all post this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from services.errors import Malformed

MAX_FIELDS = 1000  # Mailgun posts every MIME header as a field of its own


@dataclass(frozen=True)
class FormData:
    pairs: tuple[tuple[str, bytes], ...]
    files: int = 0

    @property
    def fields(self) -> Mapping[str, bytes]:
        """The first value of each field."""
        first: dict[str, bytes] = {}
        for name, value in self.pairs:
            first.setdefault(name, value)
        return first

    def text(self, name: str, charset: str | None = None) -> str | None:
        value = self.fields.get(name)
        if value is None:
            return None
        try:
            return value.decode(charset or "utf-8")
        except (LookupError, UnicodeError):  # a charset the sender named: any name, any lie
            return value.decode("utf-8", "replace")

    def texts(self) -> dict[str, str]:
        return {name: self.text(name) or "" for name in self.fields}


@dataclass
class _Parts:
    """python-multipart callbacks that keep text fields and only count file parts."""

    max_fields: int
    pairs: list[tuple[str, bytes]] = field(default_factory=list)
    files: int = 0
    ended: bool = False
    _header: bytearray = field(default_factory=bytearray)
    _value: bytearray = field(default_factory=bytearray)
    _params: dict[bytes, bytes] = field(default_factory=dict)
    _data: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._header.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._end,
            "on_end": lambda: setattr(self, "ended", True),
        }

    def _begin(self) -> None:
        self._params = {}
        self._data.clear()

    def _header_end(self) -> None:
        if bytes(self._header).lower() == b"content-disposition":
            self._params = parse_options_header(bytes(self._value))[1]
        self._header.clear()
        self._value.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if b"filename" not in self._params:
            self._data.extend(data[start:end])

    def _end(self) -> None:
        if b"filename" in self._params:
            self.files += 1
            return
        if len(self.pairs) >= self.max_fields:
            raise Malformed(f"form has more than {self.max_fields} fields")
        self.pairs.append((self._params.get(b"name", b"").decode("utf-8", "replace"), bytes(self._data)))


def parse_form(content_type: str, body: bytes, max_fields: int = MAX_FIELDS) -> FormData:
    """A urlencoded or multipart body; 400 when it cannot be read."""
    media, params = parse_options_header(content_type)
    if media == b"application/x-www-form-urlencoded":
        try:
            text = body.decode()
            pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=max_fields)
        except UnicodeDecodeError as exc:
            raise Malformed("form body is not UTF-8") from exc
        except ValueError as exc:
            raise Malformed(f"form has more than {max_fields} fields") from exc
        return FormData(tuple((name, value.encode()) for name, value in pairs))
    boundary = params.get(b"boundary")
    if not boundary:
        raise Malformed("multipart body without a boundary in Content-Type")
    parts = _Parts(max_fields)
    try:
        parser = MultipartParser(boundary, parts.callbacks())
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise Malformed("multipart body cannot be parsed") from exc
    if not parts.ended:
        raise Malformed("multipart body ends before its closing boundary")
    return FormData(tuple(parts.pairs), parts.files)
