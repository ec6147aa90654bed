"""MAPPING.yaml: how a history export (CSV or Parquet) maps onto leads and an outcome.

A mapping names the label column and its won values, the id, an optional date (the split is
then by time), the columns to leave out (those filled in after contact leak the outcome),
values that mean "missing", and which columns are `Lead` fields; every other column becomes an
extra feature kept under ``lead.attributes``. Errors name the file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.config import Problem, _line_of, duplicate_keys, read_text, yaml_problem

# The Lead fields a column may fill: the rules judge these, so history and live leads agree.
LeadField = Literal[
    "person.title",
    "company.name",
    "company.domain",
    "company.industry",
    "company.employees",
    "company.revenue",
    "company.country",
    "source",
    "message",
]
Kind = Literal["numeric", "categorical"]


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _as_text(values: Any) -> Any:
    """Values as the export spells them: YAML reads an unquoted 1 as a number (the text "1" is
    meant), and Yes/No/On/Off/true/false as booleans, whose spelling is lost: quoting is asked."""
    if not isinstance(values, list | tuple):
        return values
    if any(isinstance(v, bool) for v in values):
        raise ValueError(
            "YAML reads Yes, No, On, Off, true and false unquoted as true/false:"
            ' quote the value, e.g. ["Yes"]'
        )
    return [str(v) if isinstance(v, int | float) else v for v in values]


class Label(Strict):
    column: str = Field(min_length=1)
    positive: tuple[str, ...] = Field(min_length=1)  # values meaning converted / won
    # When given, rows with any other value have no outcome yet (open deals) and are left out.
    negative: tuple[str, ...] = ()

    _text = field_validator("positive", "negative", mode="before")(_as_text)


class Join(Strict):
    """Another table joined onto each row by a key column both have (a left join)."""

    file: str  # relative to the data file
    key: str  # not "on": YAML reads a bare on as true


class Mapping(Strict):
    label: Label
    id: str | None = None
    date: str | None = None
    exclude: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # values meaning "not given", e.g. a form's "Select"
    fields: dict[str, LeadField] = Field(default_factory=dict)  # column -> Lead field
    kinds: dict[str, Kind] = Field(default_factory=dict)  # override the inferred kind
    replace: dict[str, dict[str, str]] = Field(default_factory=dict)  # column -> {value: new value}
    join: tuple[Join, ...] = ()
    test_share: float = Field(default=0.2, gt=0, lt=0.9)
    seed: int = 42

    _text = field_validator("missing", mode="before")(_as_text)

    @field_validator("fields")
    @classmethod
    def _one_column_per_field(cls, fields: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        by_field: dict[str, list[str]] = {}
        for column, field in fields.items():
            by_field.setdefault(field, []).append(column)
        twice = [
            f"{f} is filled from two columns: {', '.join(sorted(c))}"
            for f, c in by_field.items()
            if len(c) > 1
        ]
        excluded = sorted(set(fields) & set(info.data.get("exclude", ())))
        if excluded:
            twice.append(f"columns both excluded and mapped to a field: {', '.join(excluded)}")
        if twice:
            raise ValueError("; ".join(twice))
        return fields

    @model_validator(mode="after")
    def _coherent(self) -> Mapping:
        special = {c for c in (self.label.column, self.id, self.date) if c is not None}
        clash = sorted(special & (set(self.exclude) | set(self.fields)))
        if clash:
            raise ValueError(
                f"the label, id and date columns cannot be excluded or mapped: {', '.join(clash)}"
            )
        overlap = set(self.label.positive) & set(self.label.negative)
        if overlap:
            raise ValueError(f"label values both positive and negative: {', '.join(sorted(overlap))}")
        return self

    def named_columns(self) -> dict[tuple[str | int, ...], str]:
        """Every column the mapping names, by where it names it (to check against the data)."""
        named: dict[tuple[str | int, ...], str] = {("label", "column"): self.label.column}
        if self.id:
            named[("id",)] = self.id
        if self.date:
            named[("date",)] = self.date
        for i, column in enumerate(self.exclude):
            named[("exclude", i)] = column
        for section in ("fields", "kinds", "replace"):
            for column in getattr(self, section):
                named[(section, column)] = column
        return named


class MappingError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LoadedMapping:
    """A valid mapping with its file, so later checks against the data can name file and line."""

    def __init__(self, mapping: Mapping, path: Path, text: str, node: yaml.Node | None) -> None:
        self.mapping, self.path, self.text, self._node = mapping, path, text, node

    def problem(self, loc: tuple[str | int, ...], message: str) -> Problem:
        return Problem(self.path.name, _line_of(self._node, loc), ".".join(str(p) for p in loc), message)


def load_mapping(path: Path) -> LoadedMapping:
    """Read and validate a mapping file; raise MappingError naming file, line and field."""
    if not path.exists():
        raise MappingError([Problem(path.name, None, "", f"file not found: {path}")])
    text = read_text(path)
    if isinstance(text, Problem):
        raise MappingError([text])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError([yaml_problem(path.name, exc)]) from exc
    twice = duplicate_keys(path.name, node)
    if twice:
        raise MappingError(twice)
    try:
        mapping = Mapping.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise MappingError(
            [
                Problem(
                    path.name,
                    _line_of(node, tuple(e["loc"])),
                    ".".join(str(p) for p in e["loc"]),
                    _message(e),
                )
                for e in exc.errors()
            ]
        ) from exc
    return LoadedMapping(mapping, path, text, node)


def _message(error: Any) -> str:
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "literal_error":
        return f"unknown field {error['input']!r}: {msg}"
    return msg
