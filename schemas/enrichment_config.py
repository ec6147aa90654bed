"""The model of deploy/config/enrichment.yaml: which providers run, in which order, at what cost.

The list order is the waterfall order. Secrets never live here: the HTTP provider's key comes
from the LEADFLOW_ENRICHMENT_API_KEY setting, so this file stays safe to review in a pull request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

# Every field a provider may fill: whole facts objects, the account, or one company fact.
# What an outside API or table can tell about a company (facts objects are ours to compute).
CompanyPath = Literal[
    "company.name",
    "company.domain",
    "company.industry",
    "company.employees",
    "company.revenue",
    "company.country",
    "company.technologies",
]
# Every field enrichment can fill.
EnrichmentPath = Literal["email", "phone", "title", "account"] | CompanyPath
# The columns a firmographic table is read into.
TableColumn = Literal["name", "domain", "industry", "employees", "revenue", "country", "technologies"]


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProviderConfig(Strict):
    enabled: bool = True
    timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    cost_per_call: float = Field(default=0.0, ge=0)  # USD per call actually made (not cached)
    cache_ttl_seconds: float | None = Field(default=None, ge=0)  # None: the top-level default; 0: none


class EmailProvider(ProviderConfig):
    name: Literal["email"]


class PhoneProvider(ProviderConfig):
    name: Literal["phone"]


class TitleProvider(ProviderConfig):
    name: Literal["title"]


class FirmographicsProvider(ProviderConfig):
    """A table keyed by domain, read once at start-up (CSV, or Parquet by the .parquet suffix)."""

    name: Literal["firmographics"]
    table: Path | None = None  # None: the demo table shipped with Leadflow
    # Your column -> ours, for tables with other headers (Fortune 500: company_name -> name).
    columns: dict[str, TableColumn] = Field(default_factory=dict)
    revenue_multiplier: float = Field(default=1.0, gt=0)  # 1e6 when revenue is in millions

    def table_path(self, config_dir: Path) -> Path | None:
        """A relative table path is relative to the config directory, like the file naming it."""
        if self.table is None:
            return None
        return self.table if self.table.is_absolute() else config_dir / self.table


class DomainFinderProvider(ProviderConfig):
    """Company name -> domain by fuzzy match against the firmographics entry's table."""

    name: Literal["domain_finder"]
    min_score: float = Field(default=88.0, ge=0, le=100)


class CrmProvider(ProviderConfig):
    name: Literal["crm"]


class HttpProvider(ProviderConfig):
    """A Clearbit- or Apollo-style company API: GET base_url?domain=... with a bearer key."""

    name: Literal["http"]
    enabled: bool = False
    base_url: AnyHttpUrl
    # Dotted path in the response JSON -> the field it fills ("metrics.employees": company.employees).
    fields: dict[str, CompanyPath] = Field(min_length=1)
    confidence: float = Field(default=0.9, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_yaml(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"api_key", "key", "token"} & data.keys():
            raise ValueError("the API key is never kept in YAML: set LEADFLOW_ENRICHMENT_API_KEY")
        return data


Provider = Annotated[
    EmailProvider
    | PhoneProvider
    | TitleProvider
    | FirmographicsProvider
    | DomainFinderProvider
    | CrmProvider
    | HttpProvider,
    Field(discriminator="name"),
]


def _default_providers() -> tuple[Provider, ...]:
    return (
        EmailProvider(name="email"),
        TitleProvider(name="title"),
        DomainFinderProvider(name="domain_finder"),
        FirmographicsProvider(name="firmographics"),
        PhoneProvider(name="phone"),
        CrmProvider(name="crm"),
    )


class EnrichmentConfig(Strict):
    # Paid providers are no longer called once all of these are known with min_confidence.
    needed: tuple[EnrichmentPath, ...] = ("company.industry", "company.employees", "company.country")
    min_confidence: float = Field(default=0.8, ge=0, le=1)
    cache_ttl_seconds: float = Field(default=86_400.0, ge=0)
    cache_size: int = Field(default=10_000, ge=1)
    providers: tuple[Provider, ...] = Field(default_factory=_default_providers)

    @model_validator(mode="after")
    def _consistent(self) -> EnrichmentConfig:
        names = [p.name for p in self.providers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"each provider may appear once; repeated: {', '.join(twice)}")
        if "domain_finder" in names and "firmographics" not in names:
            raise ValueError("domain_finder searches the firmographics table: add a firmographics entry")
        return self

    def provider(self, name: str) -> Provider | None:
        return next((p for p in self.providers if p.name == name), None)

    def ttl(self, provider: ProviderConfig) -> float:
        if provider.cache_ttl_seconds is None:
            return self.cache_ttl_seconds
        return provider.cache_ttl_seconds
