"""A history export as leads with outcomes: read the table, join, clean, check it against the
mapping, then turn each row into the same `Lead` a live source would produce."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from schemas.lead import Lead
from services.model.mapping import LoadedMapping, MappingError
from services.model.table import parse_dates, read_table

_NUMERIC_FIELDS = {"company.employees", "company.revenue"}


@dataclass(frozen=True)
class History:
    """Rows with an outcome, in file order (or date order when the mapping names a date)."""

    leads: list[Lead]
    labels: np.ndarray  # 0/1
    dates: np.ndarray | None  # datetime64, when the mapping names a date column
    features: dict[str, str]  # column -> lead path it is read from (attributes.<col> or a field)
    kinds: dict[str, str]  # column -> numeric | categorical
    sha256: str  # of the data file(s): what the artifact records
    notes: tuple[str, ...] = ()  # rows left out and values read as lost: the commands print them

    def arrived(self, row: int) -> datetime | None:
        """When a row's lead arrived (its date column), as the qualifier's ``now``."""
        if self.dates is None:
            return None
        stamp: datetime = pd.Timestamp(self.dates[row]).tz_localize(UTC).to_pydatetime()
        return stamp


def file_sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def load_history(data: Path, loaded: LoadedMapping) -> History:
    """Read, join, clean and check a history export; raise MappingError on any mismatch."""
    mapping = loaded.mapping
    frame = read_table(data)
    paths = [data]
    problems = []
    for i, join in enumerate(mapping.join):
        other_path = data.parent / join.file
        if not other_path.exists():
            problems.append(loaded.problem(("join", i, "file"), f"file not found: {other_path}"))
            continue
        other = read_table(other_path)
        if join.key not in frame.columns or join.key not in other.columns:
            problems.append(loaded.problem(("join", i, "key"), f"column {join.key!r} is not in both tables"))
            continue
        for column, values in mapping.replace.items():  # fix keys before joining (GTXPro vs GTX Pro)
            if column == join.key:
                frame[column] = frame[column].replace(values)
        frame = frame.merge(other.drop_duplicates(join.key), on=join.key, how="left")
        paths.append(other_path)
    if problems:
        raise MappingError(problems)
    for loc, column in mapping.named_columns().items():
        if column not in frame.columns:
            what = "label column" if loc[0] == "label" else "column"
            problems.append(loaded.problem(loc, f"{what} {column!r} is not in {data.name}"))
    if problems:
        raise MappingError(problems)

    for column, values in mapping.replace.items():
        frame[column] = frame[column].replace(values)
    missing = {m.strip().lower() for m in mapping.missing}
    frame = frame.apply(lambda s: s.where(~s.fillna("").str.strip().str.lower().isin(missing | {""})))

    label = frame[mapping.label.column].fillna("").str.strip()
    notes = _label_values(loaded, label)
    positive = label.isin(mapping.label.positive)
    known = positive | label.isin(mapping.label.negative) if mapping.label.negative else label.ne("")
    notes += _left_out_labels(mapping.label.column, label, known, positive, bool(mapping.label.negative))
    frame, positive = frame[known], positive[known]
    if positive.nunique() < 2:
        only = "converted" if len(positive) and positive.iloc[0] else "not converted"
        raise MappingError(
            [loaded.problem(("label", "positive"), f"the label has one class only: every row is {only}")]
        )
    dates = None
    if mapping.date:
        parsed = parse_dates(frame[mapping.date])
        notes += _left_out_dates(loaded, mapping.date, frame[mapping.date], parsed)
        frame, positive, parsed = frame[parsed.notna()], positive[parsed.notna()], parsed[parsed.notna()]
        order = np.argsort(parsed.to_numpy(), kind="stable")
        frame, positive = frame.iloc[order], positive.iloc[order]
        dates = parsed.dt.tz_convert(None).to_numpy()[order]  # UTC, naive datetime64
        if positive.nunique() < 2:
            only = "converted" if positive.iloc[0] else "not converted"
            message = f"the label has one class only: every row is {only} (of the rows with a date)"
            raise MappingError([loaded.problem(("label", "positive"), message)])

    skip = {mapping.label.column, mapping.id, mapping.date, *mapping.exclude} - {None}
    columns = [c for c in frame.columns if c not in skip]
    kinds = {c: mapping.kinds.get(c) or _infer_kind(frame[c]) for c in columns}
    _check_numeric(loaded, frame, [c for c in columns if mapping.kinds.get(c) == "numeric"])
    _check_numeric(loaded, frame, [c for c in columns if mapping.fields.get(c) in _NUMERIC_FIELDS], "fields")
    features = {c: mapping.fields.get(c) or f"attributes.{c}" for c in columns}
    ids = frame[mapping.id].tolist() if mapping.id else [str(i) for i in range(len(frame))]
    if mapping.id:
        notes += _repeated_ids(frame[mapping.id])
    leads = [
        _lead(record, ids[i], features, kinds)
        for i, record in enumerate(frame[columns].to_dict(orient="records"))
    ]
    labels = positive.to_numpy(dtype=np.int8)
    return History(leads, labels, dates, features, kinds, file_sha256(paths), tuple(notes))


def _values(series: pd.Series, limit: int = 10) -> str:
    seen = sorted(series[series.ne("")].unique().tolist())
    return ", ".join(seen[:limit]) + (f" and {len(seen) - limit} more" if len(seen) > limit else "")


def _label_values(loaded: LoadedMapping, label: pd.Series) -> list[str]:
    """Listed label values no row has: an error when none of a list occurs (a typo, another
    CRM's spelling), a note for one of several (a mapping may list several CRMs' spellings)."""
    column, present = loaded.mapping.label.column, set(label.unique().tolist())
    problems, notes = [], []
    for key in ("positive", "negative"):
        listed = getattr(loaded.mapping.label, key)
        absent = [v for v in listed if v not in present]
        if listed and len(absent) == len(listed):
            quoted = ", ".join(repr(v) for v in absent)
            message = f"no row of column {column!r} has {quoted} (its values: {_values(label)})"
            problems.append(loaded.problem(("label", key), message))
        notes += [f"no row of column {column!r} has {v!r} (label.{key})" for v in absent]
    if problems:
        raise MappingError(problems)
    return notes


def _counts(values: pd.Series) -> list[tuple[str, int]]:
    return sorted(
        ((str(v), int(n)) for v, n in values.value_counts().items()), key=lambda vn: (-vn[1], vn[0])
    )


def _left_out_labels(
    column: str, label: pd.Series, known: pd.Series, positive: pd.Series, negative: bool
) -> list[str]:
    """What happened to rows that are not won: left out (open deals), or counted as lost."""
    other = label[~known]
    counts = ", ".join(f"{v or '(blank)'}: {n:,}" for v, n in _counts(other))
    if negative and not other.empty:  # the other values are open deals
        return [
            f"{len(other):,} rows whose {column} is neither positive nor negative were left out ({counts})"
        ]
    notes = [f"{len(other):,} rows with a blank {column} were left out"] if not other.empty else []
    lost = _counts(label[known & ~positive])
    if len(lost) > 1:  # "Open" read as lost is the surprise this is for
        listed = ", ".join(f"{v} ({n:,})" for v, n in lost)
        notes.append(
            f"{column} values counted as not converted: {listed}"
            " (list the lost ones under label.negative to leave the others out)"
        )
    return notes


def _left_out_dates(loaded: LoadedMapping, column: str, raw: pd.Series, parsed: pd.Series) -> list[str]:
    text = raw.fillna("").str.strip()
    blank, bad = text.eq(""), parsed.isna() & text.ne("")
    if parsed.notna().sum() == 0:
        message = (
            f"no value of column {column!r} is a date, e.g. {text[bad].iloc[0]!r}"
            if bad.any()
            else f"column {column!r} is blank on every row with an outcome"
        )
        raise MappingError([loaded.problem(("date",), message)])
    if not (blank.any() or bad.any()):
        return []
    parts = [f"{int(blank.sum()):,} blank"] if blank.any() else []
    if bad.any():
        examples = ", ".join(repr(v) for v in text[bad].unique()[:3])
        parts.append(f"{int(bad.sum()):,} not a date, e.g. {examples}")
    total = int(blank.sum() + bad.sum())
    return [f"{total:,} rows without a date in {column} were left out ({', '.join(parts)})"]


def _repeated_ids(ids: pd.Series) -> list[str]:
    counts = ids.dropna().value_counts()
    repeated = counts[counts > 1]
    if repeated.empty:
        return []
    top, n = _counts(ids[ids.isin(repeated.index)])[0]
    return [
        f"{len(repeated):,} ids are given on more than one row ({n} rows for {top!r}):"
        " one lead may be on both sides of the split"
    ]


def _check_numeric(
    loaded: LoadedMapping, frame: pd.DataFrame, columns: list[str], section: str = "kinds"
) -> None:
    """Columns declared numeric (kinds), or filling a number field of a Lead (fields), must hold
    numbers wherever they are given."""
    problems = []
    for column in columns:
        values = frame[column].dropna()
        text = values[pd.to_numeric(values, errors="coerce").isna()]
        if text.empty:
            continue
        shown = ", ".join(repr(v) for v in sorted(text.unique().tolist())[:3])
        if section == "fields":
            message = (
                f"column {column!r} fills {loaded.mapping.fields[column]}, a number, but has values that"
                f" are not numbers: {shown} (list them under missing, or leave the column out of fields:"
                " it is then a feature of its own)"
            )
        else:
            message = (
                f"column {column!r} has values that are not numbers: {shown}"
                " (list them under missing, or leave the kind to the data)"
            )
        problems.append(loaded.problem((section, column), message))
    if problems:
        raise MappingError(problems)


def _infer_kind(series: pd.Series) -> str:
    values = series.dropna()
    if values.empty:
        return "categorical"
    numeric = pd.to_numeric(values, errors="coerce")
    return "numeric" if numeric.notna().all() else "categorical"


def _value(raw: Any, kind: str) -> Any:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if kind == "numeric":
        return float(raw)
    return str(raw).strip()


def _lead(record: dict[str, Any], record_id: str, features: dict[str, str], kinds: dict[str, str]) -> Lead:
    data: dict[str, Any] = {"source": "history", "source_record_id": str(record_id)[:200]}
    attributes: dict[str, Any] = {}
    for column, path in features.items():
        value = _value(record[column], kinds[column])
        if value is None:
            continue
        if path.startswith("attributes."):
            attributes[column] = value
            continue
        if path in _NUMERIC_FIELDS:
            value = round(float(value))
        head, _, tail = path.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = value
        else:
            data[head] = value
    data["attributes"] = attributes
    try:
        return Lead.model_validate(data)
    except ValidationError as exc:
        # A value a live source could not have sent (too long, negative): left out, as intake would.
        for error in exc.errors():
            section = data.get(str(error["loc"][0]))
            if isinstance(section, dict) and len(error["loc"]) > 1:
                section.pop(str(error["loc"][1]), None)
            elif len(error["loc"]) == 1:
                data.pop(str(error["loc"][0]), None)
        data.setdefault("source", "history")
        return Lead.model_validate(data)
