"""Engagement, score, tier and status (services/core/scoring.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.config import IcpConfig, Persona, Range, Scoring, Tier, Vertical, Weights
from schemas.decision import Fit, Status
from schemas.lead import Lead
from services.config import load_config
from services.core.scoring import engagement, evaluate

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"

SCORING = Scoring(
    weights=Weights(icp=50, persona=30, engagement=20),
    engagement_points={"demo_request": 60, "page_view": 5},
    pricing_page_points=25,
    message_points=20,
    qualified_min_score=70,
    potential_min_score=40,
    tiers=(Tier(name="A", min_score=80), Tier(name="B", min_score=50), Tier(name="C", min_score=0)),
)
VERTICALS = (
    Vertical(
        name="EU logistics", industries=("logistics",), employees=Range(min=50, max=500), countries=("ES",)
    ),
)
PERSONAS = (Persona(name="Ops", title_keywords=("operations",), seniority_keywords=("head",)),)


def icp_config(scoring: Scoring = SCORING) -> IcpConfig:
    return IcpConfig(verticals=VERTICALS, personas=PERSONAS, scoring=scoring)


FITTING_COMPANY = {"name": "Acme", "industry": "Logistics", "employees": 150, "country": "ES"}
UNKNOWN_COMPANY = {"name": "Acme"}  # ICP inconclusive
OTHER_COMPANY = {"name": "Acme", "industry": "Banking", "employees": 150, "country": "ES"}  # ICP no


def lead(
    company: dict[str, Any] | None = None,
    title: str | None = "Head of Operations",
    activities: list[dict[str, Any]] | None = None,
    message: str | None = None,
) -> Lead:
    return Lead.model_validate(
        {
            "email": "maria@acme.example",
            "title": title,
            "company": FITTING_COMPANY if company is None else company,
            "activities": activities or [],
            "message": message,
        }
    )


DEMO = {"type": "demo_request"}
PRICING = {"type": "page_view", "url": "https://acme.example/Pricing?plan=pro"}


# Engagement


def test_no_activity_and_no_message_earn_nothing() -> None:
    assert engagement(lead(), SCORING) == (0, [])


def test_activity_points_come_from_the_config_by_type_ignoring_case() -> None:
    points, signals = engagement(lead(activities=[{"type": "Demo_Request"}]), SCORING)

    assert points == 60
    assert len(signals) == 1


def test_pricing_url_adds_its_bonus_to_the_activity_points() -> None:
    points, signals = engagement(lead(activities=[PRICING]), SCORING)

    assert points == 5 + 25
    assert signals == ["visited the pricing page"]


def test_an_ordinary_page_view_earns_only_its_points() -> None:
    points, signals = engagement(lead(activities=[{"type": "page_view", "url": "/blog"}]), SCORING)

    assert points == 5
    assert signals == ["page view"]


def test_unknown_activity_types_earn_nothing() -> None:
    points, signals = engagement(lead(activities=[{"type": "podcast_listen", "url": "/podcast"}]), SCORING)

    assert points == 0
    assert signals == []


def test_a_message_earns_message_points() -> None:
    points, signals = engagement(lead(message="We need billing automation."), SCORING)

    assert points == 20
    assert signals == ["wrote a message"]


def test_a_blank_message_earns_nothing() -> None:
    assert engagement(lead(message="   \n "), SCORING) == (0, [])


def test_points_add_up_and_signals_are_not_repeated() -> None:
    views = [{"type": "page_view", "url": "/a"}, {"type": "page_view", "url": "/b"}]

    points, signals = engagement(lead(activities=views), SCORING)

    assert points == 10
    assert signals == ["page view"]


def test_engagement_is_capped_at_100() -> None:
    points, _ = engagement(lead(activities=[DEMO, DEMO, PRICING], message="Call me"), SCORING)

    assert points == 100


# Score and status


def test_score_weighs_icp_persona_and_engagement() -> None:
    # ICP yes (50 * 1.0), persona inconclusive (30 * 0.4), engagement 30 (20 * 0.3).
    evaluation = evaluate(lead(title=None, activities=[PRICING]), icp_config())

    assert evaluation.icp.status is Fit.YES
    assert evaluation.persona.status is Fit.INCONCLUSIVE
    assert evaluation.engagement == 30
    assert evaluation.score == 50 + 12 + 6


def test_full_fit_is_qualified() -> None:
    evaluation = evaluate(lead(), icp_config())

    assert evaluation.score == 80
    assert evaluation.status is Status.QUALIFIED
    assert evaluation.tier == "A"


@pytest.mark.parametrize(("qualified_min", "status"), [(80, Status.QUALIFIED), (81, Status.POTENTIAL)])
def test_qualified_needs_the_configured_minimum_score(qualified_min: int, status: Status) -> None:
    scoring = SCORING.model_copy(update={"qualified_min_score": qualified_min})

    evaluation = evaluate(lead(), icp_config(scoring))

    assert evaluation.score == 80
    assert evaluation.status is status


def test_fitting_company_with_a_middling_score_is_potential() -> None:
    evaluation = evaluate(lead(title="Software Engineer"), icp_config())  # 50 + 0 + 0

    assert evaluation.score == 50
    assert evaluation.status is Status.POTENTIAL


def test_fitting_company_below_the_potential_score_is_unqualified() -> None:
    scoring = SCORING.model_copy(update={"potential_min_score": 60})

    evaluation = evaluate(lead(title="Software Engineer"), icp_config(scoring))

    assert evaluation.score == 50
    assert evaluation.status is Status.UNQUALIFIED


def test_icp_no_is_unqualified_whatever_the_score() -> None:
    evaluation = evaluate(lead(OTHER_COMPANY, activities=[DEMO, DEMO]), icp_config())

    assert evaluation.icp.status is Fit.NO
    assert evaluation.score == 0 + 30 + 20
    assert evaluation.status is Status.UNQUALIFIED


def test_icp_and_persona_both_inconclusive_is_insufficient_info() -> None:
    evaluation = evaluate(lead(UNKNOWN_COMPANY, title=None, activities=[DEMO, DEMO]), icp_config())

    assert evaluation.score >= SCORING.potential_min_score
    assert evaluation.status is Status.INSUFFICIENT_INFO
    assert evaluation.reasons[-1] == "Not enough to decide: missing country, employees, industry, title"


def test_icp_inconclusive_with_a_high_score_is_potential_never_qualified() -> None:
    # 50 * 0.4 + 30 + 20 * 1.0 = 70: enough for qualified, but the company could not be judged.
    evaluation = evaluate(lead(UNKNOWN_COMPANY, activities=[DEMO, DEMO]), icp_config())

    assert evaluation.score == 70
    assert evaluation.score >= SCORING.qualified_min_score
    assert evaluation.status is Status.POTENTIAL


def test_icp_inconclusive_with_a_low_score_is_insufficient_info() -> None:
    evaluation = evaluate(lead(UNKNOWN_COMPANY, title="Software Engineer"), icp_config())

    assert evaluation.score == 20
    assert evaluation.status is Status.INSUFFICIENT_INFO
    assert evaluation.reasons[-1] == "Not enough to decide: missing country, employees, industry"


# Tiers and reasons


@pytest.mark.parametrize(
    ("score", "tier"), [(0, "C"), (49, "C"), (50, "B"), (79, "B"), (80, "A"), (100, "A")]
)
def test_tier_for_takes_the_highest_tier_reached(score: int, tier: str) -> None:
    assert SCORING.tier_for(score) == tier


def test_tier_for_does_not_depend_on_the_order_of_tiers() -> None:
    shuffled = SCORING.model_copy(update={"tiers": tuple(reversed(SCORING.tiers))})

    assert [shuffled.tier_for(s) for s in (10, 60, 90)] == ["C", "B", "A"]


def test_evaluation_tier_follows_its_score() -> None:
    evaluation = evaluate(lead(title="Software Engineer"), icp_config())

    assert evaluation.tier == SCORING.tier_for(evaluation.score) == "B"


def test_reasons_explain_company_person_and_engagement() -> None:
    evaluation = evaluate(lead(activities=[PRICING]), icp_config())

    company, person, engaged = evaluation.reasons
    assert company == f"Company: {evaluation.icp.reason}"
    assert person == f"Person: {evaluation.persona.reason}"
    assert engaged == "Engagement 30/100: visited the pricing page"


def test_reasons_say_when_there_is_no_engagement() -> None:
    evaluation = evaluate(lead(), icp_config())

    assert evaluation.reasons[-1] == "No engagement signals yet"


def test_the_issue_example_lead_is_qualified_under_deploy_config() -> None:
    config = load_config(CONFIG_DIR)
    example = Lead.model_validate(
        {
            "email": "maria.lopez@acme-logistics.com",
            "first_name": "Maria",
            "last_name": "Lopez",
            "title": "Head of Operations",
            "phone": "+34 600 123 456",
            "company": {
                "name": "Acme Logistics",
                "domain": "acme-logistics.com",
                "employees": 150,
                "industry": "Logistics",
                "country": "ES",
            },
            "source": "web",
            "message": "We need to automate billing for 40 depots.",
            "activities": [{"type": "page_view", "url": "/pricing", "at": "2026-11-20T10:15:00Z"}],
        }
    )

    evaluation = evaluate(example, config.icp)

    assert evaluation.status is Status.QUALIFIED
    assert evaluation.icp.matched == "Mid-market logistics"
    assert evaluation.persona.matched == "Operations leader"
    assert evaluation.engagement == 5 + 25 + 20
    assert evaluation.score >= config.icp.scoring.qualified_min_score
    assert evaluation.tier == config.icp.scoring.tier_for(evaluation.score)


def test_a_scoring_config_that_validates_never_makes_evaluate_raise() -> None:
    try:
        scoring = Scoring.model_validate({**SCORING.model_dump(), "engagement_points": {"unsubscribe": -30}})
    except ValidationError:
        return  # rejecting negative points up front would be a fix too

    evaluation = evaluate(lead(activities=[{"type": "unsubscribe"}]), icp_config(scoring))

    assert 0 <= evaluation.engagement <= 100


def test_engagement_alone_never_qualifies_someone_who_is_not_a_buyer() -> None:
    result = evaluate(lead(title="Student", activities=[DEMO, PRICING], message="hi"), icp_config())
    assert result.persona.status is Fit.NO
    assert result.score >= SCORING.qualified_min_score
    assert result.status is Status.POTENTIAL
