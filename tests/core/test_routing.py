"""Rule matching and round robin (services/core/routing.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.config import Condition, LeadflowConfig, Member, RoutingConfig, Rule, Team
from schemas.decision import Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.enrichment import AccountMatch, CompanyFacts, Enrichment
from schemas.lead import Company, Lead
from services.config import load_config
from services.core.classify import evaluate
from services.core.routing import assign, match_rule

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

EMEA = Team(
    name="EMEA",
    members=(
        Member(id="ana", name="Ana Garcia"),
        Member(id="ben", name="Ben Dubois"),
        Member(id="clara", name="Clara Weber"),
    ),
)
ENTERPRISE = Team(name="Enterprise", members=(Member(id="david", name="David Moreau"),))
INSIDE = Team(name="Inside sales", members=(Member(id="grace", name="Grace Lee"),))

CONFIG = RoutingConfig(
    teams=(EMEA, ENTERPRISE, INSIDE),
    rules=(
        Rule(id="review", when=Condition(statuses=("insufficient_info",)), queue="SDR review"),
        Rule(id="partners", when=Condition(sources=("partner",)), queue="Partner desk"),
        Rule(
            id="emea-enterprise",
            when=Condition(verticals=("Enterprise logistics",), countries=("ES", "FR")),
            team="Enterprise",
        ),
        Rule(id="emea-hot", when=Condition(countries=("ES", "FR"), tiers=("hot",)), team="EMEA"),
        Rule(id="emea-cool", when=Condition(countries=("ES", "FR")), queue="EMEA nurture"),
        Rule(id="fallback", team="Inside sales"),
    ),
)


def rule(rule_id: str) -> Rule:
    return next(r for r in CONFIG.rules if r.id == rule_id)


def lead(country: str | None = "ES", source: str = "web") -> Lead:
    return Lead(company=Company(name="Acme", country=country), source=source)


def evaluation(
    status: Status = Status.QUALIFIED,
    tier: str = "hot",
    vertical: str | None = "Mid-market logistics",
    customer: bool = False,
) -> Evaluation:
    icp = FitResult(status=Fit.YES if vertical else Fit.INCONCLUSIVE, matched=vertical, reason="icp")
    return Evaluation(
        icp=icp,
        persona=FitResult(status=Fit.YES, matched="Ops", reason="persona"),
        engagement=50,
        score=85,
        tier=tier,
        status=status,
        reasons=("icp", "persona"),
        customer=customer,
    )


def test_first_matching_rule_wins_in_order() -> None:
    # Matches "review", "emea-hot", "emea-cool" and "fallback": the first one listed decides.
    matched = match_rule(lead(), evaluation(status=Status.INSUFFICIENT_INFO), CONFIG)

    assert matched.id == "review"


def test_a_later_rule_decides_when_earlier_ones_do_not_match() -> None:
    assert match_rule(lead(), evaluation(), CONFIG).id == "emea-hot"


@pytest.mark.parametrize(
    ("vertical", "country", "tier", "expected"),
    [
        ("Enterprise logistics", "ES", "hot", "emea-enterprise"),
        ("Enterprise logistics", "US", "hot", "fallback"),  # vertical alone is not enough
        ("Mid-market logistics", "ES", "hot", "emea-hot"),  # country alone is not enough
        ("Mid-market logistics", "FR", "cool", "emea-cool"),  # country but not tier
        ("Mid-market logistics", "US", "hot", "fallback"),  # tier but not country
    ],
)
def test_conditions_combine_with_and(vertical: str, country: str, tier: str, expected: str) -> None:
    matched = match_rule(lead(country=country), evaluation(tier=tier, vertical=vertical), CONFIG)

    assert matched.id == expected


def test_values_within_one_condition_combine_with_or() -> None:
    assert match_rule(lead(country="FR"), evaluation(), CONFIG).id == "emea-hot"


def test_matching_ignores_case_of_country_source_and_tier() -> None:
    assert match_rule(lead(country="fr"), evaluation(tier="Hot"), CONFIG).id == "emea-hot"
    assert match_rule(lead(source="Partner"), evaluation(), CONFIG).id == "partners"


def test_a_lead_without_country_or_vertical_falls_through_to_the_catch_all() -> None:
    matched = match_rule(lead(country=None), evaluation(vertical=None), CONFIG)

    assert matched.id == "fallback"
    assert matched.when.is_catch_all


def test_an_empty_condition_matches_every_lead() -> None:
    only = RoutingConfig(teams=(INSIDE,), rules=(Rule(id="all", team="Inside sales"),))

    for status in Status:
        assert match_rule(lead(country=None, source="x"), evaluation(status=status), only).id == "all"


def test_round_robin_cycles_through_members_by_turn() -> None:
    owners = [assign(rule("emea-hot"), CONFIG, turn).owner for turn in range(7)]

    assert owners == ["ana", "ben", "clara", "ana", "ben", "clara", "ana"]


def test_round_robin_uses_turn_modulo_team_size() -> None:
    assert assign(rule("emea-hot"), CONFIG, 3001).owner == EMEA.members[3001 % 3].id


def test_a_one_member_team_always_gets_the_lead() -> None:
    assert {assign(rule("fallback"), CONFIG, turn).owner for turn in range(5)} == {"grace"}


def test_team_rule_sets_owner_and_team_not_queue() -> None:
    decision = assign(rule("emea-hot"), CONFIG, 1)

    assert decision.rule_id == "emea-hot"
    assert decision.owner == "ben"
    assert decision.team == "EMEA"
    assert decision.queue is None


def test_team_reason_names_the_rule_team_and_member() -> None:
    reason = assign(rule("emea-hot"), CONFIG, 2).reason

    assert "emea-hot" in reason
    assert "EMEA" in reason
    assert "Clara Weber" in reason


def test_queue_rule_sets_queue_not_owner() -> None:
    decision = assign(rule("review"), CONFIG, 4)

    assert decision.rule_id == "review"
    assert decision.queue == "SDR review"
    assert decision.owner is None
    assert decision.team is None
    assert "SDR review" in decision.reason


# Customers and account owners

ACCOUNTS = RoutingConfig(
    teams=(EMEA, INSIDE),
    rules=(
        Rule(id="review", when=Condition(statuses=("insufficient_info",)), queue="SDR review"),
        Rule(id="owner", when=Condition(countries=("ES",)), account_owner=True),
        Rule(id="customers", when=Condition(customer=True), queue="Account management"),
        Rule(id="prospects", when=Condition(customer=False, countries=("FR",)), team="EMEA"),
        Rule(id="fallback", team="Inside sales"),
    ),
)


def test_a_customer_condition_matches_only_customers() -> None:
    assert match_rule(lead("DE"), evaluation(customer=True), ACCOUNTS).id == "customers"
    assert match_rule(lead("DE"), evaluation(customer=False), ACCOUNTS).id == "fallback"


def test_a_customer_false_condition_matches_only_prospects() -> None:
    assert match_rule(lead("FR"), evaluation(customer=False), ACCOUNTS).id == "prospects"
    assert match_rule(lead("FR"), evaluation(customer=True), ACCOUNTS).id == "customers"


def test_an_account_owner_rule_is_skipped_without_an_owner() -> None:
    assert match_rule(lead("ES"), evaluation(), ACCOUNTS).id == "fallback"
    assert match_rule(lead("ES"), evaluation(), ACCOUNTS, account_owner=None).id == "fallback"


def test_an_account_owner_rule_is_used_with_an_owner() -> None:
    matched = match_rule(lead("ES"), evaluation(), ACCOUNTS, account_owner="olga")

    assert matched.id == "owner"
    assert assign(matched, ACCOUNTS, 5, account_owner="olga") == RoutingDecision(
        rule_id="owner", owner="olga", reason="rule 'owner': the account's owner in the CRM"
    )


def test_an_account_owner_rule_still_needs_its_condition() -> None:
    assert match_rule(lead("DE"), evaluation(), ACCOUNTS, account_owner="olga").id == "fallback"


def test_an_owner_does_not_bypass_earlier_rules() -> None:
    review = evaluation(status=Status.INSUFFICIENT_INFO)

    assert match_rule(lead("ES"), review, ACCOUNTS, account_owner="olga").id == "review"


def test_an_owner_is_ignored_by_team_and_queue_rules() -> None:
    decision = assign(rule("emea-hot"), CONFIG, 0, account_owner="olga")

    assert decision.owner == "ana"
    assert decision.team == "EMEA"


# The demo config, end to end through evaluate()

DEMO: LeadflowConfig = load_config(CONFIG_DIR)
ES_FIT = {"name": "Acme Logistics", "industry": "Logistics", "employees": 150, "country": "ES"}


def demo_route(
    company: dict[str, Any] | None = None,
    title: str | None = "Head of Operations",
    enrichment: Enrichment | None = None,
    owner: str | None = None,
) -> RoutingDecision:
    subject = Lead.model_validate(
        {"email": "maria@acme.example", "title": title, "company": ES_FIT if company is None else company}
    )
    judged = evaluate(subject, enrichment, DEMO.icp, NOW)
    matched = match_rule(subject, judged, DEMO.routing, owner)
    return assign(matched, DEMO.routing, 0, owner)


@pytest.mark.parametrize(
    ("company", "title", "rule_id"),
    [
        ({"name": "Acme"}, None, "needs-review"),
        ({**ES_FIT, "industry": "Banking"}, "Head of Operations", "nurture"),
        ({**ES_FIT, "domain": "atlas-freight.example"}, "Head of Operations", "existing-customer"),
        ({**ES_FIT, "employees": 900}, "Head of Operations", "emea-enterprise"),
        (ES_FIT, "Head of Operations", "emea"),
        ({**ES_FIT, "country": "US", "employees": 900}, "VP Operations", "north-america"),
    ],
)
def test_demo_rules(company: dict[str, Any], title: str | None, rule_id: str) -> None:
    assert demo_route(company, title).rule_id == rule_id


def test_demo_customer_with_a_crm_owner_goes_to_the_owner() -> None:
    account = AccountMatch(crm="local", account_id="a1", matched_by="domain", owner="olga", customer=True)
    enrichment = Enrichment(company=CompanyFacts(**ES_FIT), account=account)

    decision = demo_route(enrichment=enrichment, owner="olga")

    assert (decision.rule_id, decision.owner) == ("existing-account", "olga")


def test_demo_customer_without_an_owner_goes_to_account_management() -> None:
    decision = demo_route({**ES_FIT, "domain": "nordic-haulage.example"})

    assert (decision.rule_id, decision.queue) == ("existing-customer", "Account management")


def test_demo_customer_outside_the_icp_still_goes_to_account_management() -> None:
    small = {**ES_FIT, "employees": 20, "domain": "atlas-freight.example"}

    assert demo_route(small).rule_id == "existing-customer"


def test_demo_routes_by_the_enriched_country() -> None:
    enrichment = Enrichment(company=CompanyFacts(**ES_FIT, domain="acme.example"))

    assert demo_route({"domain": "acme.example"}, enrichment=enrichment).rule_id == "emea"
