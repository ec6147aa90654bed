"""A history export's raw table: CSV (its delimiter, UTF-8 with or without a BOM) or Parquet,
every value as text, and a date column read one way on every row."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pandas as pd

_DELIMITERS = (",", ";", "\t", "|")


def read_table(path: Path) -> pd.DataFrame:
    """CSV or Parquet, every value as text (kinds are decided later, from the mapping and data).

    A CSV's delimiter is the one its header line uses most (Excel writes `;` where the decimal
    separator is a comma), and a UTF-8 byte order mark is dropped. Two columns with one name are
    refused: pandas would rename the second (`x.1`), a name no live lead carries."""
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path).astype("string").astype(object)
    else:
        try:
            frame = _read_csv(path)
        except UnicodeDecodeError as exc:  # Excel's plain "CSV" on Windows is Windows-1252
            where = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
            raise ValueError(f"{path.name} is not UTF-8 ({where}): save it as CSV UTF-8") from exc
        except pd.errors.EmptyDataError as exc:  # no byte, a byte order mark, blank lines
            raise ValueError(f"{path.name} has no rows: the file is empty") from exc
    if frame.empty:  # else every check of the mapping fails as if it named the wrong values
        raise ValueError(f"{path.name} has no rows, only a header")
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = fh.readline()
    delimiter = max(_DELIMITERS, key=header.count)  # ties (none at all): the comma, listed first
    names = next(csv.reader([header], delimiter=delimiter), [])
    for name in dict.fromkeys(names):
        where = [i + 1 for i, n in enumerate(names) if n == name]
        if len(where) > 1:
            places = ", ".join(map(str, where[:-1])) + f" and {where[-1]}"
            raise ValueError(f"{path.name} has {len(where)} columns named {name!r} (columns {places})")
    return pd.read_csv(path, dtype=str, keep_default_na=True, sep=delimiter, encoding="utf-8-sig")


_YEAR_FIRST = r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
_DAY_OR_MONTH_FIRST = r"^(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}"


def parse_dates(values: pd.Series) -> pd.Series:
    """A date column as UTC timestamps (NaT where a value is no date), read the same way on
    every row: year-first values (ISO 8601) as such, and 03/04/2024 day-first when some value of
    the column can only be day-first (19/01/2024), else month-first. pandas alone guesses the
    format from the first value and drops every row that does not fit it."""
    text = values.fillna("").astype(str).str.strip()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    year_first = text.str.match(_YEAR_FIRST)
    parsed[year_first] = _parse(text[year_first], {"format": "ISO8601"}, dayfirst=False)
    rest = ~year_first & text.ne("")
    parts = text[rest].str.extract(_DAY_OR_MONTH_FIRST).astype(float)
    day_first = bool((parts[0] > 12).any()) and not bool((parts[1] > 12).any())
    parsed[rest] = _parse(text[rest], {}, dayfirst=day_first)
    return parsed


def _parse(text: pd.Series, fast: dict[str, str], dayfirst: bool) -> pd.Series:
    """One format for the whole column first (fast), then value by value for what it missed."""
    if text.empty:
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    with warnings.catch_warnings():  # "could not infer format": the second pass is for that
        warnings.simplefilter("ignore", UserWarning)
        out = pd.to_datetime(text, errors="coerce", utc=True, dayfirst=dayfirst, **fast)
    missed = out.isna()
    if missed.any():
        out[missed] = pd.to_datetime(
            text[missed], format="mixed", errors="coerce", utc=True, dayfirst=dayfirst
        )
    return out.astype("datetime64[ns, UTC]")
