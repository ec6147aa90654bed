"""Enrichment against the Fortune 500 list in ../shared/data/fortune500/ (reference data beside
the project): every company by its domain, and at least 95% from the company name alone."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.enrichment import Waterfall
from connectors.enrichment.domain_finder import DomainFinderProvider, NameIndex
from connectors.enrichment.firmographics import (
    FORTUNE500_COLUMNS,
    FORTUNE500_REVENUE_MULTIPLIER,
    FirmographicsProvider,
    FirmographicTable,
    normalise_domain,
)
from schemas.lead import Lead

FORTUNE500 = Path(__file__).parents[3].parent / "shared" / "data" / "fortune500" / "fortune500.csv"
Rows = list[dict[str, str]]


@pytest.fixture(scope="module")
def fortune500() -> tuple[FirmographicTable, Rows]:
    if not FORTUNE500.exists():
        pytest.skip(f"../shared/data/fortune500 is absent: no {FORTUNE500} to enrich against")
    with FORTUNE500.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = FirmographicTable.load(FORTUNE500, FORTUNE500_COLUMNS, FORTUNE500_REVENUE_MULTIPLIER)
    return table, rows


async def test_every_company_is_matched_by_its_domain(fortune500: tuple[FirmographicTable, Rows]) -> None:
    table, rows = fortune500
    waterfall = Waterfall([FirmographicsProvider(table)])
    matched = 0
    for row in rows:
        enrichment = await waterfall.enrich(Lead(company={"domain": row["website"]}))
        company = enrichment.company
        if company.name and company.industry and company.revenue and company.country == "US":
            matched += 1
    print(f"\nFortune 500 by domain: {matched}/{len(rows)} = {matched / len(rows):.1%}")
    assert len(rows) == 500 and matched == len(rows)
    walmart = table.get("walmart.com")
    assert walmart is not None and walmart.revenue == 514_405e6 and walmart.employees == 2_200_000


VARIANTS: dict[str, Callable[[str], str]] = {
    "as listed": lambda name: name,
    "lower-case": str.lower,
    "+ Inc.": lambda name: f"{name} Inc.",
    "+ Corp.": lambda name: f"{name} Corp.",
    "+ Corporation": lambda name: f"{name}, Corporation",
    "lower-case + inc": lambda name: f"{name.lower()} inc",
}


async def test_companies_are_matched_from_their_name_alone(
    fortune500: tuple[FirmographicTable, Rows],
) -> None:
    table, rows = fortune500
    waterfall = Waterfall([DomainFinderProvider(NameIndex.from_table(table)), FirmographicsProvider(table)])
    rates = {}
    for variant, spell in VARIANTS.items():
        right = 0
        for row in rows:
            lead = Lead(company=spell(row["company_name"].strip()), email="someone@gmail.com")
            enrichment = await waterfall.enrich(lead)
            right += enrichment.company.domain == normalise_domain(row["website"])
        rates[variant] = right / len(rows)
    print("\nFortune 500 by name alone: " + ", ".join(f"{k} {v:.1%}" for k, v in rates.items()))
    assert all(rate >= 0.95 for rate in rates.values()), rates


def test_misspelt_names_are_matched_or_left_alone_never_mismatched(
    fortune500: tuple[FirmographicTable, Rows],
) -> None:
    """Harder than the bar: one swapped letter, or the last word dropped. Recall is reported;
    precision is asserted, since a wrong domain routes a lead to the wrong account."""
    table, rows = fortune500
    index, rng = NameIndex.from_table(table), random.Random(500)

    def swap(name: str) -> str:
        i = rng.randrange(len(name) - 1)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]

    def drop_last_word(name: str) -> str:
        return " ".join(name.split()[:-1]) or name

    for label, spell in (("one letter swapped", swap), ("last word dropped", drop_last_word)):
        right = wrong = 0
        for row in rows:
            found = index.find(spell(row["company_name"].strip()), min_score=88)
            if found is not None:
                right += found.domain == normalise_domain(row["website"])
                wrong += found.domain != normalise_domain(row["website"])
        print(f"\nFortune 500, {label}: {right / len(rows):.1%} right, {wrong / len(rows):.1%} wrong")
        assert wrong / len(rows) <= 0.01
