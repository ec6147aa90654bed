"""Phone facts: E.164, country and validity, national numbers read in the company's country."""

from __future__ import annotations

import pytest

from connectors.enrichment import Waterfall
from connectors.enrichment.firmographics import FirmographicsProvider, FirmographicTable
from connectors.enrichment.phone import PhoneProvider, phone_facts
from schemas.enrichment import PhoneFacts
from schemas.lead import Lead


@pytest.mark.parametrize(
    ("raw", "region", "e164", "country"),
    [
        ("+34 612 345 678", None, "+34612345678", "ES"),
        ("612 345 678", "ES", "+34612345678", "ES"),
        ("030 901820", "DE", "+4930901820", "DE"),
        ("01 42 68 53 00", "fr", "+33142685300", "FR"),
        ("(312) 555-0142", "US", "+13125550142", "US"),
        ("+44 20 7946 0958", "ES", "+442079460958", "GB"),  # an international number keeps its country
    ],
)
def test_valid_numbers(raw: str, region: str | None, e164: str, country: str) -> None:
    assert phone_facts(raw, region) == PhoneFacts(valid=True, e164=e164, country=country)


@pytest.mark.parametrize(
    ("raw", "region"),
    [("612 345 678", None), ("not a phone", "ES"), ("12", "ES"), ("+34 000 000 000", None)],
)
def test_invalid_numbers(raw: str, region: str | None) -> None:
    assert not phone_facts(raw, region).valid


async def test_the_company_country_from_the_table_is_the_default_region() -> None:
    table = FirmographicTable.from_rows([{"name": "Rhine", "domain": "rhine.example", "country": "DE"}])
    waterfall = Waterfall([FirmographicsProvider(table), PhoneProvider()])
    enrichment = await waterfall.enrich(Lead(phone="030 901820", company={"domain": "rhine.example"}))
    assert enrichment.phone == PhoneFacts(valid=True, e164="+4930901820", country="DE")
    assert enrichment.provenance["phone"].provider == "phone"


async def test_the_lead_country_is_used_when_nothing_else_is_known() -> None:
    enrichment = await Waterfall([PhoneProvider()]).enrich(
        Lead(phone="612 345 678", company={"name": "Acme", "country": "ES"})
    )
    assert enrichment.phone is not None and enrichment.phone.e164 == "+34612345678"


async def test_no_phone_no_call() -> None:
    enrichment = await Waterfall([PhoneProvider()]).enrich(Lead(email="a@b.example"))
    assert enrichment.phone is None and enrichment.calls[0].outcome == "skipped"
