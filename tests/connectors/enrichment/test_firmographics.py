"""The firmographic table: CSV and Parquet, other headers through a mapping, lookup by domain."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.enrichment import Waterfall
from connectors.enrichment.firmographics import (
    DEMO_TABLE,
    FirmographicsProvider,
    FirmographicTable,
    normalise_domain,
    parse_country,
    parse_number,
)
from schemas.enrichment import CompanyFacts
from schemas.lead import Lead

ICP_INDUSTRIES = {"logistics", "transportation", "freight", "warehousing", "shipping", "trucking"}
NA_INDUSTRIES = {"wholesale", "distribution", "manufacturing", "retail"}
EU = {"ES", "PT", "FR", "DE", "IT", "NL", "BE", "IE", "GB"}


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("acme.example", "acme.example"),
        ("https://www.Acme.example/about?x=1", "acme.example"),
        ("http://www.walmart.com", "walmart.com"),
        ("WWW.ACME.EXAMPLE.", "acme.example"),
        ("acme.example:8443", "acme.example"),
        ("ana@acme.example", "acme.example"),
        ("acme", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_domain(raw: str | None, domain: str | None) -> None:
    assert normalise_domain(raw) == domain


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("$514,405.0", 514405.0),
        ("2,200,000", 2200000.0),
        (150, 150.0),
        ("", None),
        ("-", None),
        ("n/a", None),
    ],
)
def test_parse_number(raw: object, value: float | None) -> None:
    assert parse_number(raw) == value


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("ES", "ES"),
        ("es", "ES"),
        ("Spain", "ES"),
        ("Bentonville, Ark.", "US"),
        ("Irving, Texas", "US"),
        ("New York, N.Y.", "US"),
        ("Washington, D.C.", "US"),
        ("Austin, TX", "US"),
        ("Toronto, Ont.", "CA"),
        ("Madrid, Spain", "ES"),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_parse_country(raw: str, country: str | None) -> None:
    assert parse_country(raw) == country


def test_the_demo_table_loads_and_matches_the_demo_icp() -> None:
    table = FirmographicTable.load()
    assert 35 <= len(table) <= 60
    companies = list(table.companies.values())
    assert all(c.domain and c.domain.endswith(".example") for c in companies)
    assert all(c.name and c.industry and c.employees is not None and c.country for c in companies)
    eu_logistics = [c for c in companies if c.country in EU and _words(c.industry) & ICP_INDUSTRIES]
    na_distribution = [
        c for c in companies if c.country in {"US", "CA"} and _words(c.industry) & NA_INDUSTRIES
    ]
    poor = [c for c in companies if c not in eu_logistics and c not in na_distribution]
    assert len(eu_logistics) >= 10 and len(na_distribution) >= 8 and len(poor) >= 8
    atlas = table.get("atlas-freight.example")
    assert atlas is not None and atlas.technologies == ("SAP Business One", "Excel", "HubSpot")


def test_the_demo_table_knows_the_demo_command_companies() -> None:
    from services.demo import sample_leads

    table = FirmographicTable.load()
    # Every company the demo names is in the table; its personal-mailbox leads are not meant to be.
    domains = {normalise_domain(lead["email"]) for lead in sample_leads(60) if "company" in lead}
    assert domains and all(table.get(d) is not None for d in domains)
    assert table.get("inbox.example") is None


def _words(text: str | None) -> set[str]:
    return set((text or "").lower().split())


def test_other_headers_map_through_columns_and_revenue_scales(tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Company", "Website", "Sector", "Headcount", "Revenue (M USD)", "HQ", "Stack"])
        writer.writerow(
            ["Acme", "https://www.acme.example", "Freight", "1,200", "$35.5", "Lyon, France", "SAP|Excel"]
        )
        writer.writerow(["Acme again", "acme.example", "Retail", "3", "1", "US", ""])  # first row wins
        writer.writerow(["No domain", "", "Retail", "3", "1", "US", ""])
    columns = {
        "company": "name",
        "website": "domain",
        "sector": "industry",
        "headcount": "employees",
        "Revenue (M USD)": "revenue",
        "hq": "country",
        "stack": "technologies",
    }
    table = FirmographicTable.load(path, columns, revenue_multiplier=1e6)
    assert len(table) == 1
    assert table.get("acme.example") == CompanyFacts(
        name="Acme",
        domain="acme.example",
        industry="Freight",
        employees=1200,
        revenue=35.5e6,
        country="FR",
        technologies=("SAP", "Excel"),
    )


def test_parquet_tables(tmp_path: Path) -> None:
    path = tmp_path / "companies.parquet"
    rows = {
        "name": ["Rhine Freight"],
        "domain": ["rhine-freight.example"],
        "industry": ["Freight"],
        "employees": [450],
        "revenue": [1.18e8],
        "country": ["DE"],
        "technologies": [["SAP S/4HANA", "CargoWise"]],
    }
    pq.write_table(pa.table(rows), path)
    company = FirmographicTable.load(path).get("rhine-freight.example")
    assert company is not None
    assert (company.employees, company.country, company.technologies) == (
        450,
        "DE",
        ("SAP S/4HANA", "CargoWise"),
    )


def test_a_subdomain_finds_its_company() -> None:
    table = FirmographicTable.load()
    assert table.get("eu.atlas-freight.example") == table.get("atlas-freight.example")
    assert table.get("example") is None and table.get(None) is None


async def test_the_provider_confirms_self_reported_facts_with_the_domain_confidence() -> None:
    waterfall = Waterfall([FirmographicsProvider(FirmographicTable.load())])
    lead = Lead(company={"name": "Atlas", "domain": "www.atlas-freight.example", "industry": "Transport"})
    enrichment = await waterfall.enrich(lead)
    assert enrichment.company.industry == "Logistics"  # the table at 1.0 corrects the lead's 0.7
    assert enrichment.company.name == "Atlas"  # the lead's own name stands
    assert enrichment.company.employees == 150 and enrichment.company.country == "ES"
    assert enrichment.provenance["company.industry"].provider == "firmographics"
    unknown = await waterfall.enrich(Lead(company={"domain": "nowhere.example"}))
    assert unknown.calls[0].outcome == "empty"
    no_domain = await waterfall.enrich(Lead(company={"name": "Atlas"}))
    assert no_domain.calls[0].outcome == "skipped"


def test_the_demo_table_path_is_packaged_beside_the_code() -> None:
    assert DEMO_TABLE.exists() and DEMO_TABLE.parent.name == "enrichment"
