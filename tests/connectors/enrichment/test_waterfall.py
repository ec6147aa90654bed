"""The waterfall: order, merging by confidence, skipping, stopping, timeouts, errors, caches, costs."""

from __future__ import annotations

import logging

import pytest

from connectors.enrichment import Waterfall, from_lead, merge
from connectors.errors import RetriableConnectorError
from schemas.enrichment import EmailFacts, Enrichment, Patch, Provenance
from schemas.lead import Lead
from tests.connectors.enrichment.fakes import Clock, FakeProvider

LEAD = Lead(
    email="ana.garcia@acme-logistics.example",
    company={"name": "Acme Logistics", "industry": "Transport", "employees": 120},
)
NEEDED = ("company.industry", "company.employees", "company.country")


def outcomes(enrichment: Enrichment) -> list[tuple[str, str]]:
    return [(c.provider, c.outcome) for c in enrichment.calls]


def test_the_lead_own_facts_start_the_waterfall_self_reported_ones_less_sure() -> None:
    start = from_lead(
        Lead(company={"name": " Acme ", "domain": "https://www.Acme.example/about", "country": "es"})
    )
    assert start.company.domain == "acme.example"
    assert start.company.country == "ES"
    assert start.provenance["company.name"] == Provenance(provider="lead", confidence=1.0)
    facts = from_lead(LEAD)
    assert facts.provenance["company.industry"].confidence == 0.7
    assert facts.provenance["company.employees"].confidence == 0.7
    assert "company.revenue" not in facts.provenance  # not said, not known


def test_merge_keeps_the_surest_value_and_ties_keep_the_earlier_one() -> None:
    start = from_lead(LEAD)
    table = merge(
        start,
        Patch(values={"company.industry": "Logistics", "company.name": "ACME LOGISTICS SL"}, confidence=0.9),
        "table",
    )
    assert table.company.industry == "Logistics"  # 0.9 beats self-reported 0.7
    assert table.company.name == "Acme Logistics"  # the lead's own 1.0 stands
    assert table.provenance["company.industry"] == Provenance(provider="table", confidence=0.9)
    tie = merge(table, Patch(values={"company.industry": "Retail"}, confidence=0.9), "later")
    assert tie.company.industry == "Logistics"
    assert merge(table, Patch(values={"company.revenue": None}), "x") is table  # None never erases


def test_merge_refuses_unknown_paths_and_wrong_types() -> None:
    with pytest.raises(ValueError, match="unknown path"):
        merge(from_lead(LEAD), Patch(values={"company.ceo": "x"}), "bad")
    with pytest.raises(ValueError):
        merge(from_lead(LEAD), Patch(values={"company.employees": "many"}), "bad")


async def test_providers_run_in_order_and_each_sees_what_the_earlier_ones_found() -> None:
    first = FakeProvider("first", {"company.domain": "acme.example"})
    second = FakeProvider("second", {"company.country": "ES"})
    enrichment = await Waterfall([first, second]).enrich(LEAD)
    assert outcomes(enrichment) == [("first", "ok"), ("second", "ok")]
    assert second.seen[0].company.domain == "acme.example"
    assert enrichment.company.country == "ES"
    assert enrichment.provenance["company.country"].provider == "second"


async def test_a_provider_whose_fields_are_all_known_is_skipped_without_cost() -> None:
    table = FakeProvider("table", {"company.industry": "Logistics", "company.employees": 130}, 0.9)
    paid = FakeProvider("paid", {"company.industry": "Freight"}, 0.9, cost_per_call=0.05)
    enrichment = await Waterfall([table, paid], needed=()).enrich(LEAD)
    assert outcomes(enrichment) == [("table", "ok"), ("paid", "skipped")]
    assert paid.seen == [] and enrichment.cost == 0


async def test_paid_providers_stop_once_every_needed_field_is_confident_free_ones_go_on() -> None:
    table = FakeProvider(
        "table", {"company.industry": "Logistics", "company.employees": 130, "company.country": "ES"}
    )
    paid = FakeProvider("paid", {"company.technologies": ("SAP",)}, cost_per_call=0.1)
    free = FakeProvider("free", {"company.technologies": ("Excel",)})
    enrichment = await Waterfall([table, paid, free], needed=NEEDED).enrich(LEAD)
    assert outcomes(enrichment) == [("table", "ok"), ("paid", "skipped"), ("free", "ok")]
    assert enrichment.company.technologies == ("Excel",)


async def test_paid_providers_are_asked_while_a_needed_field_is_unsure() -> None:
    unsure = FakeProvider("guess", {"company.country": "ES"}, confidence=0.5)
    paid = FakeProvider(
        "paid", {"company.country": "PT", "company.industry": "Freight"}, 0.9, cost_per_call=0.1
    )
    enrichment = await Waterfall([unsure, paid], needed=NEEDED, min_confidence=0.8).enrich(LEAD)
    assert outcomes(enrichment) == [("guess", "ok"), ("paid", "ok")]
    assert enrichment.company.country == "PT"
    assert enrichment.cost == pytest.approx(0.1)


async def test_a_provider_that_cannot_help_is_skipped() -> None:
    enrichment = await Waterfall([FakeProvider("crm", {"company.name": "x"}, cannot_help=True)]).enrich(LEAD)
    assert outcomes(enrichment) == [("crm", "skipped")]


async def test_a_slow_provider_times_out_its_cost_counts_and_the_next_one_runs() -> None:
    slow = FakeProvider("slow", {"company.country": "ES"}, delay=5, cost_per_call=0.2)
    after = FakeProvider("after", {"company.country": "FR"})
    waterfall = Waterfall([slow, after], timeouts={"slow": 0.05})
    enrichment = await waterfall.enrich(LEAD)
    assert outcomes(enrichment) == [("slow", "timeout"), ("after", "ok")]
    assert enrichment.company.country == "FR"
    assert enrichment.cost == pytest.approx(0.2)  # the request went out: the vendor may bill it
    assert 40 <= enrichment.calls[0].ms < 1000


async def test_errors_are_isolated_and_never_logged_with_the_lead(caplog: pytest.LogCaptureFixture) -> None:
    leaking = FakeProvider(
        "leaking", {"company.country": "ES"}, error=RuntimeError(f"boom {LEAD.person.email}")
    )
    down = FakeProvider("down", {"company.country": "ES"}, error=RetriableConnectorError("down: HTTP 503"))
    wrong = FakeProvider("wrong", {"company.employees": "lots"})
    fine = FakeProvider("fine", {"company.country": "IT"})
    with caplog.at_level(logging.WARNING):
        enrichment = await Waterfall([leaking, down, wrong, fine]).enrich(LEAD)
    assert outcomes(enrichment) == [
        ("leaking", "error"),
        ("down", "error"),
        ("wrong", "error"),
        ("fine", "ok"),
    ]
    assert enrichment.company.country == "IT"
    assert "HTTP 503" in caplog.text and "RuntimeError" in caplog.text
    assert "@" not in caplog.text


async def test_a_failing_key_is_an_error_too() -> None:
    class BadKey(FakeProvider):
        def key(self, lead: Lead, so_far: Enrichment) -> str | None:
            raise KeyError("no")

    enrichment = await Waterfall([BadKey("bad", {"company.country": "ES"})]).enrich(LEAD)
    assert outcomes(enrichment) == [("bad", "error")]


async def test_answers_are_cached_until_their_ttl_runs_out() -> None:
    clock = Clock()
    paid = FakeProvider("api", {"company.industry": "Freight"}, 0.9, cost_per_call=0.05)
    nothing = FakeProvider("nothing", {}, cost_per_call=0.01, fills=frozenset({"company.revenue"}))
    waterfall = Waterfall([paid, nothing], ttls={"api": 60, "nothing": 60}, timer=clock)

    first = await waterfall.enrich(LEAD)
    assert outcomes(first) == [("api", "ok"), ("nothing", "empty")]
    assert first.cost == pytest.approx(0.06)

    clock.now += 59
    again = await waterfall.enrich(LEAD)
    assert outcomes(again) == [("api", "cached"), ("nothing", "cached")]  # "nothing known" too
    assert again.cost == 0
    assert again.company.industry == "Freight" and again.provenance["company.industry"].provider == "api"
    assert len(paid.seen) == 1

    clock.now += 2
    expired = await waterfall.enrich(LEAD)
    assert outcomes(expired) == [("api", "ok"), ("nothing", "empty")]
    assert len(paid.seen) == 2


async def test_failures_are_not_cached() -> None:
    clock = Clock()
    flaky = FakeProvider("flaky", {"company.country": "ES"}, error=RetriableConnectorError("429"))
    waterfall = Waterfall([flaky], ttls=3600, timer=clock)
    await waterfall.enrich(LEAD)
    flaky.error = None
    assert outcomes(await waterfall.enrich(LEAD)) == [("flaky", "ok")]


async def test_facts_objects_and_cost_per_lead_are_recorded() -> None:
    email = FakeProvider("email", {"email": EmailFacts(valid_syntax=True, domain="acme.example")}, 0.9)
    api = FakeProvider("api", {"company.revenue": 2e7}, cost_per_call=0.03)
    enrichment = await Waterfall([email, api]).enrich(LEAD)
    assert enrichment.email == EmailFacts(valid_syntax=True, domain="acme.example")
    assert enrichment.provenance["email"] == Provenance(provider="email", confidence=0.9)
    assert [c.cost for c in enrichment.calls] == [0, 0.03]
    assert enrichment.cost == pytest.approx(0.03)


async def test_aclose_closes_the_providers_that_hold_connections() -> None:
    provider = FakeProvider("api")
    await Waterfall([provider]).aclose()
    assert provider.closed
