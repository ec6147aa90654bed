"""A small generated history with a known signal, written by the tests themselves."""

from __future__ import annotations

import csv
import random
from pathlib import Path

MAPPING = """\
label: {column: won, positive: ["yes"]}
id: record
missing: [Select]
exclude: [note_after_call]
fields:
  industry: company.industry
"""


def write_history(
    directory: Path, rows: int = 1500, seed: int = 3, positive_share: float | None = None
) -> Path:
    """visits and industry drive conversion; channel is noise; note_after_call leaks it."""
    rng = random.Random(seed)
    path = directory / "history.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["record", "industry", "visits", "channel", "note_after_call", "won"])
        for i in range(rows):
            industry = rng.choice(["Logistics", "Retail", "Banking", "Select"])
            visits = rng.randint(0, 20)
            logit = -2.0 + 0.25 * visits + (1.2 if industry == "Logistics" else 0.0)
            converted = rng.random() < 1 / (1 + 2.718**-logit)
            if positive_share is not None:
                converted = rng.random() < positive_share
            won = "yes" if converted else "no"
            writer.writerow([f"r{i}", industry, visits, rng.choice(["ads", "seo"]), won, won])
    return path


def write_mapping(directory: Path, text: str = MAPPING) -> Path:
    path = directory / "mapping.yaml"
    path.write_text(text)
    return path
