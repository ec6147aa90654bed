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


def read_table(path: Path) -> pd.DataFrame:
    """CSV or Parquet, every value as text (kinds are decided later, from the mapping and data)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path).astype("string").astype(object)
    return pd.read_csv(path, dtype=str, keep_default_na=True)


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
    positive = label.isin(mapping.label.positive)
    known = positive | label.isin(mapping.label.negative) if mapping.label.negative else label.ne("")
    frame, positive = frame[known], positive[known]
    if positive.nunique() < 2:
        only = "converted" if len(positive) and positive.iloc[0] else "not converted"
        raise MappingError(
            [loaded.problem(("label", "positive"), f"the label has one class only: every row is {only}")]
        )
    dates = None
    if mapping.date:
        parsed = pd.to_datetime(frame[mapping.date], errors="coerce", utc=True)
        frame, positive, parsed = frame[parsed.notna()], positive[parsed.notna()], parsed[parsed.notna()]
        order = np.argsort(parsed.to_numpy(), kind="stable")
        frame, positive = frame.iloc[order], positive.iloc[order]
        dates = parsed.dt.tz_convert(None).to_numpy()[order]  # UTC, naive datetime64

    skip = {mapping.label.column, mapping.id, mapping.date, *mapping.exclude} - {None}
    columns = [c for c in frame.columns if c not in skip]
    kinds = {c: mapping.kinds.get(c) or _infer_kind(frame[c]) for c in columns}
    features = {c: mapping.fields.get(c) or f"attributes.{c}" for c in columns}
    ids = frame[mapping.id].tolist() if mapping.id else [str(i) for i in range(len(frame))]
    leads = [
        _lead(record, ids[i], features, kinds)
        for i, record in enumerate(frame[columns].to_dict(orient="records"))
    ]
    return History(leads, positive.to_numpy(dtype=np.int8), dates, features, kinds, file_sha256(paths))


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
