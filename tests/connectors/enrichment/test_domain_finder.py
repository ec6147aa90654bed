"""Company name -> domain by fuzzy match, only for leads without a corporate email."""

from __future__ import annotations

import pytest

from connectors.enrichment import Waterfall
from connectors.enrichment.domain_finder import DomainFinderProvider, NameIndex, normalise_name
from connectors.enrichment.firmographics import FirmographicsProvider, FirmographicTable
from schemas.lead import Lead

TABLE = FirmographicTable.load()
INDEX = NameIndex.from_table(TABLE)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Walmart Inc.", "walmart"),
        ("The Lowe\u2019s Companies, Inc.", "lowes"),  # a typographic apostrophe
        ("J.P. Morgan Chase & Co.", "jp morgan chase"),
        ("Costa Almacenes, S.L.", "costa almacenes"),
        ("Hamburg Kühllogistik GmbH", "hamburg kuhllogistik"),
        ("Amazon.com", "amazon"),
        ("Group 1 Automotive", "group 1 automotive"),
        ("Holdings", "holdings"),  # never normalised to nothing
        ("", ""),
    ],
)
def test_normalise_name(raw: str, name: str) -> None:
    assert normalise_name(raw) == name


@pytest.mark.parametrize(
    ("query", "domain"),
    [
        ("Great Lakes Manufacturing", "greatlakes-mfg.example"),
        ("great lakes manufacturing co", "greatlakes-mfg.example"),
        ("Lyon Transports Express", "lyon-transports.example"),
        ("Nordic Frieght", "nordic-freight.example"),  # a typo
        ("COSTA ALMACENES S.A.", "costa-almacenes.example"),
    ],
)
def test_names_find_their_domain(query: str, domain: str) -> None:
    found = INDEX.find(query, min_score=88)
    assert found is not None and found.domain == domain and 88 <= found.score <= 100


@pytest.mark.parametrize("query", ["Atlas", "Nordic", "Totally Unknown Widgets", "RF", ""])
def test_ambiguous_unknown_and_short_names_find_nothing(query: str) -> None:
    assert INDEX.find(query, min_score=88) is None


def test_two_companies_sharing_a_name_are_not_guessed_between() -> None:
    table = FirmographicTable.from_rows(
        [{"name": "Acme", "domain": "acme-es.example"}, {"name": "ACME S.L.", "domain": "acme-fr.example"}]
    )
    assert NameIndex.from_table(table).find("Acme", 88) is None


async def test_name_only_leads_get_a_domain_and_then_firmographics() -> None:
    waterfall = Waterfall([DomainFinderProvider(INDEX), FirmographicsProvider(TABLE)])
    enrichment = await waterfall.enrich(Lead(company="Nordic Frieght", email="ola@gmail.com"))
    confidence = enrichment.provenance["company.domain"].confidence
    assert enrichment.company.domain == "nordic-freight.example" and 0.88 <= confidence < 1
    # Facts found through a guessed domain are only as sure as the guess.
    assert enrichment.provenance["company.employees"].confidence == confidence
    assert enrichment.company.employees == 320


async def test_a_corporate_email_or_a_known_domain_means_no_guessing() -> None:
    provider = DomainFinderProvider(INDEX)
    waterfall = Waterfall([provider])
    corporate = await waterfall.enrich(
        Lead(company="Great Lakes Manufacturing", email="bo@their-own.example")
    )
    assert corporate.calls[0].outcome == "skipped" and corporate.company.domain is None
    known = await waterfall.enrich(Lead(company={"name": "Great Lakes", "domain": "gl.example"}))
    assert known.calls[0].outcome == "skipped"


async def test_min_score_is_respected() -> None:
    strict = Waterfall([DomainFinderProvider(INDEX, min_score=99)])
    assert (await strict.enrich(Lead(company="Nordic Frieght"))).calls[0].outcome == "empty"
