"""A firmographic table the user supplies: companies keyed by domain, from CSV or Parquet.

The table is read once, at construction, into a dict: a lookup is a dict access, so this provider
is free, never times out, and needs no cache. Tables with other headers (the Fortune 500 list,
an export from a data vendor) are read through a column mapping instead of being rewritten.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers

from schemas.enrichment import CompanyFacts, Enrichment, Patch
from schemas.enrichment_config import FirmographicsProvider as FirmographicsConfig
from schemas.lead import Lead

DEMO_TABLE = Path(__file__).with_name("demo_firmographics.csv")
COLUMNS = ("name", "domain", "industry", "employees", "revenue", "country", "technologies")
# The Fortune 500 CSV in ../shared/data/fortune500/: revenue in millions of USD, "City, State".
FORTUNE500_COLUMNS = {
    "company_name": "name",
    "website": "domain",
    "revenue ($M)": "revenue",
    "location": "country",
}
FORTUNE500_REVENUE_MULTIPLIER = 1e6

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_NOT_NUMBER = re.compile(r"[^\d.]")
_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)  # ISO 3166 alpha-2, as phonenumbers knows them
# AP-style abbreviations (dots removed), full names and postal codes of US states: a table that
# says "Bentonville, Ark." means the United States.
_US_STATES = frozenset({
    "ala", "ariz", "ark", "calif", "colo", "conn", "del", "dc", "fla", "ga", "ill", "ind", "kan",
    "kans", "ky", "la", "md", "mass", "mich", "minn", "miss", "mo", "mont", "neb", "nev", "nh",
    "nj", "nm", "ny", "nc", "nd", "okla", "ore", "pa", "ri", "sc", "sd", "tenn", "tex", "vt", "va",
    "wash", "wva", "wis", "wyo", "alabama", "alaska", "arizona", "arkansas", "california",
    "colorado", "connecticut", "delaware", "florida", "georgia", "hawaii", "idaho", "illinois",
    "indiana", "iowa", "kansas", "kentucky", "louisiana", "maine", "maryland", "massachusetts",
    "michigan", "minnesota", "mississippi", "missouri", "montana", "nebraska", "nevada", "ohio",
    "oklahoma", "oregon", "pennsylvania", "tennessee", "texas", "utah", "vermont", "virginia",
    "washington", "wisconsin", "wyoming", "al", "ak", "az", "ar", "co", "ct", "fl", "hi", "ia",
    "il", "in", "ks", "ma", "mi", "mn", "ms", "mt", "ne", "nv", "oh", "ok", "or", "tn", "tx", "ut",
    "wa", "wi", "wv", "wy",
})  # fmt: skip
_COUNTRIES = {
    "usa": "US", "us": "US", "united states": "US", "united states of america": "US",
    "canada": "CA", "ont": "CA", "ontario": "CA", "quebec": "CA", "bc": "CA", "british columbia": "CA",
    "spain": "ES", "espana": "ES", "españa": "ES", "france": "FR", "germany": "DE", "deutschland": "DE",
    "italy": "IT", "italia": "IT", "netherlands": "NL", "the netherlands": "NL", "belgium": "BE",
    "portugal": "PT", "ireland": "IE", "united kingdom": "GB", "uk": "GB", "england": "GB",
    "mexico": "MX", "brazil": "BR", "india": "IN", "australia": "AU", "poland": "PL", "austria": "AT",
    "switzerland": "CH", "sweden": "SE", "denmark": "DK", "norway": "NO", "finland": "FI",
}  # fmt: skip


def normalise_domain(value: str | None) -> str | None:
    """``https://www.Acme.example/about`` -> ``acme.example``; None when nothing domain-like is left."""
    if not value:
        return None
    text = _SCHEME.sub("", value.strip().lower())
    text = re.split(r"[/?#]", text, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    text = text.removeprefix("www.")
    return text if "." in text and " " not in text else None


def parse_number(value: Any) -> float | None:
    """``"$514,405.0"`` -> 514405.0; blanks, dashes and negatives -> None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    text = str(value).strip()
    if not text or text.startswith("-"):
        return None
    try:
        return float(_NOT_NUMBER.sub("", text))
    except ValueError:
        return None


def parse_country(value: Any) -> str | None:
    """An ISO alpha-2 code from ``"ES"``, ``"Spain"`` or ``"Bentonville, Ark."``."""
    if not isinstance(value, str) or not value.strip():
        return None
    last = value.rsplit(",", 1)[-1].strip()
    if len(last) == 2 and last.upper() in _REGIONS:
        return last.upper()
    key = last.lower().replace(".", "").strip()
    if key in _COUNTRIES:
        return _COUNTRIES[key]
    return "US" if key in _US_STATES else None


def parse_technologies(value: Any) -> tuple[str, ...]:
    """A list (Parquet) or a ``;``/``|``-separated string (CSV) -> a tuple of names."""
    items = value if isinstance(value, list | tuple) else re.split(r"[;|]", str(value or ""))
    return tuple(str(item).strip() for item in items if item is not None and str(item).strip())


def company_from_row(row: Mapping[str, Any], revenue_multiplier: float = 1.0) -> CompanyFacts | None:
    """One row, already under our column names, -> CompanyFacts; None without a usable domain."""
    domain = normalise_domain(str(row.get("domain") or ""))
    if domain is None:
        return None
    employees = parse_number(row.get("employees"))
    revenue = parse_number(row.get("revenue"))
    name, industry = (str(row.get(k) or "").strip() or None for k in ("name", "industry"))
    return CompanyFacts(
        name=name,
        domain=domain,
        industry=industry,
        employees=round(employees) if employees is not None else None,
        revenue=revenue * revenue_multiplier if revenue is not None else None,
        country=parse_country(row.get("country")),
        technologies=parse_technologies(row.get("technologies")),
    )


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq  # only when a Parquet table is configured

        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class FirmographicTable:
    companies: Mapping[str, CompanyFacts]  # by normalised domain
    # Every row's (name, domain), including rows whose domain an earlier row took: a company
    # acquired by another (21st Century Fox at Disney's domain) is still found by its own name.
    names: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        columns: Mapping[str, str] | None = None,
        revenue_multiplier: float = 1.0,
    ) -> FirmographicTable:
        """Rows under any headers; ``columns`` maps theirs to ours. The first row per domain wins."""
        rename = {k.strip().lower(): v for k, v in (columns or {}).items()}
        companies: dict[str, CompanyFacts] = {}
        names: list[tuple[str, str]] = []
        for row in rows:
            ours = {rename.get(str(k).strip().lower(), str(k).strip().lower()): v for k, v in row.items()}
            company = company_from_row(ours, revenue_multiplier)
            if company is not None and company.domain is not None:
                companies.setdefault(company.domain, company)
                if company.name:
                    names.append((company.name, company.domain))
        return cls(companies, tuple(names))

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        columns: Mapping[str, str] | None = None,
        revenue_multiplier: float = 1.0,
    ) -> FirmographicTable:
        """Read a CSV or Parquet file (the demo table when ``path`` is None)."""
        return cls.from_rows(_read_rows(path or DEMO_TABLE), columns, revenue_multiplier)

    @classmethod
    def from_config(cls, config: FirmographicsConfig, config_dir: Path) -> FirmographicTable:
        return cls.load(config.table_path(config_dir), config.columns, config.revenue_multiplier)

    def get(self, domain: str | None) -> CompanyFacts | None:
        """The company at ``domain`` or at a parent of it (``eu.acme.example`` -> ``acme.example``)."""
        labels = (normalise_domain(domain) or "").split(".")
        for i in range(len(labels) - 1):
            found = self.companies.get(".".join(labels[i:]))
            if found is not None:
                return found
        return None

    def __len__(self) -> int:
        return len(self.companies)


def domain_confidence(so_far: Enrichment) -> float:
    """Facts looked up by domain are only as sure as the domain is the lead's company."""
    found = so_far.provenance.get("company.domain")
    return found.confidence if found else 1.0


class FirmographicsProvider:
    fills = frozenset({f"company.{c}" for c in COLUMNS if c != "domain"})
    in_memory = True  # answers without waiting (see Provider)

    def __init__(self, table: FirmographicTable, *, name: str = "firmographics", cost_per_call: float = 0.0):
        self.table, self.name, self.cost_per_call = table, name, cost_per_call

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        domain = so_far.company.domain
        return f"{domain}@{domain_confidence(so_far):.2f}" if domain else None

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        company = self.table.get(so_far.company.domain)
        if company is None:
            return None
        values = {
            f"company.{field}": value
            for field, value in company.model_dump().items()
            if field != "domain" and value not in (None, ())
        }
        return Patch(values=values, confidence=domain_confidence(so_far))
