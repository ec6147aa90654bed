"""deploy/config/enrichment.yaml and its model, and the waterfall built from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from connectors.enrichment import build_waterfall
from connectors.enrichment.http import HttpProvider
from schemas.enrichment import AccountMatch
from schemas.enrichment_config import EnrichmentConfig, FirmographicsProvider
from schemas.lead import Lead
from tests.conftest import CONFIG_DIR

SHIPPED = yaml.safe_load((CONFIG_DIR / "enrichment.yaml").read_text())


class NoAccounts:
    crm = "none"

    async def by_domain(self, domain: str) -> AccountMatch | None:
        return None

    async def by_name(self, name: str) -> AccountMatch | None:
        return None


def config(**changes: Any) -> EnrichmentConfig:
    return EnrichmentConfig.model_validate({**SHIPPED, **changes})


def test_the_shipped_config_names_every_provider_with_http_off() -> None:
    loaded = config()
    assert [p.name for p in loaded.providers] == [
        "email",
        "title",
        "domain_finder",
        "firmographics",
        "phone",
        "crm",
        "http",
    ]
    http = loaded.provider("http")
    assert http is not None and not http.enabled and http.cost_per_call > 0
    assert loaded.ttl(http) == 2_592_000 and loaded.needed == (
        "company.industry",
        "company.employees",
        "company.country",
    )


def test_the_defaults_alone_are_a_working_config() -> None:
    assert {p.name for p in EnrichmentConfig().providers} >= {"email", "firmographics", "crm"}


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        ([{"name": "clearbit"}], "does not match any of the expected tags"),
        ([{"name": "email"}, {"name": "email"}], "repeated: email"),
        ([{"name": "domain_finder"}], "add a firmographics entry"),
        (
            [{"name": "domain_finder", "min_score": 120}, {"name": "firmographics"}],
            "less than or equal to 100",
        ),
        ([{"name": "email", "timeout_seconds": 0}], "greater than 0"),
        ([{"name": "email", "cost_per_call": -1}], "greater than or equal to 0"),
        ([{"name": "email", "colour": "red"}], "Extra inputs are not permitted"),
        (
            [{"name": "http", "base_url": "https://api.example", "fields": {"a": "company.ceo"}}],
            "company.industry",
        ),
        (
            [
                {
                    "name": "http",
                    "base_url": "https://api.example",
                    "fields": {"a": "company.name"},
                    "api_key": "x",
                }
            ],
            "LEADFLOW_ENRICHMENT_API_KEY",
        ),
    ],
)
def test_mistakes_are_refused_with_a_reason(providers: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(providers=providers)


def test_needed_fields_must_be_real_paths() -> None:
    with pytest.raises(ValidationError, match=r"company\.industry"):
        config(needed=["company.vibe"])


def test_a_relative_table_path_is_relative_to_the_config_dir() -> None:
    entry = FirmographicsProvider(name="firmographics", table=Path("data/companies.csv"))
    assert entry.table_path(Path("/etc/leadflow")) == Path("/etc/leadflow/data/companies.csv")
    absolute = FirmographicsProvider(name="firmographics", table=Path("/data/f500.csv"))
    assert absolute.table_path(Path("/etc/leadflow")) == Path("/data/f500.csv")
    assert FirmographicsProvider(name="firmographics").table_path(Path("/x")) is None  # the demo table


async def test_the_shipped_config_builds_a_working_waterfall() -> None:
    waterfall = build_waterfall(config(), config_dir=CONFIG_DIR, accounts=NoAccounts())
    assert [p.name for p in waterfall.providers] == [
        "email",
        "title",
        "domain_finder",
        "firmographics",
        "phone",
        "crm",
    ]
    enrichment = await waterfall.enrich(
        Lead(email="maria@atlas-freight.example", title="Directora de Operaciones", phone="612 345 678")
    )
    assert enrichment.company.industry == "Logistics" and enrichment.company.country == "ES"
    assert enrichment.phone is not None and enrichment.phone.e164 == "+34612345678"
    assert enrichment.cost == 0


def test_http_needs_its_key_from_the_settings_and_crm_its_directory() -> None:
    providers = [{**p, "enabled": True} for p in SHIPPED["providers"]]
    with pytest.raises(ValueError, match="LEADFLOW_ENRICHMENT_API_KEY"):
        build_waterfall(config(providers=providers), config_dir=CONFIG_DIR, accounts=NoAccounts())
    with pytest.raises(ValueError, match="AccountDirectory"):
        build_waterfall(config(), config_dir=CONFIG_DIR)
    built = build_waterfall(
        config(providers=providers), config_dir=CONFIG_DIR, api_key=SecretStr("k"), accounts=NoAccounts()
    )
    http = built.providers[-1]
    assert isinstance(http, HttpProvider) and http.cost_per_call == 0.05
    assert "company.technologies" in http.fills


def test_a_table_of_your_own_with_other_headers(tmp_path: Path) -> None:
    (tmp_path / "vendor.csv").write_text("Company,Website,Sector\nAcme,https://acme.example,Freight\n")
    firmographics = {
        "name": "firmographics",
        "table": "vendor.csv",
        "columns": {"Company": "name", "Website": "domain", "Sector": "industry"},
    }
    waterfall = build_waterfall(config(providers=[firmographics]), config_dir=tmp_path)
    [provider] = waterfall.providers
    assert provider.fills and provider.name == "firmographics"
