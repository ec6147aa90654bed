"""Classification: grade x engagement band -> tier, status, score, reasons (services/core/classify.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.config import (
    Classification,
    Disqualifiers,
    Engagement,
    Exclusions,
    IcpConfig,
    Persona,
    Range,
    Vertical,
)
from schemas.decision import Evaluation, Fit, Reason, Status
from schemas.enrichment import AccountMatch, CompanyFacts, ContactMatch, Enrichment
from schemas.lead import Lead
from services.config import load_config
from services.core.classify import FIT_SHARE, NEXT_STEP, evaluate

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

ICP = IcpConfig(
    verticals=(
        Vertical(
            name="EU logistics",
            industries=("logistics",),
            employees=Range(min=50, max=500),
            countries=("ES",),
            personas=("Ops",),
        ),
        Vertical(name="US anything", countries=("US",)),  # names no personas
    ),
    personas=(Persona(name="Ops", title_keywords=("operations",), seniority_keywords=("head",)),),
    exclusions=Exclusions(competitors=("routefleet.example",), customers=("atlas.example",)),
    engagement=Engagement(
        points={"demo_request": 60, "email_reply": 25, "email_open": 1, "x50": 50, "x20": 20, "x19": 19},
        page_points={"pricing": 25},
    ),
    disqualifiers=Disqualifiers(),
    classification=Classification(),
)

FITTING = {"name": "Acme", "industry": "Logistics", "employees": 150, "country": "ES"}
UNKNOWN = {"name": "Acme"}  # ICP inconclusive
OTHER = {"name": "Bank", "industry": "Banking", "employees": 150, "country": "ES"}  # ICP no
US = {"name": "Shop", "country": "US"}  # fits the vertical without personas

BUYER, NON_BUYER, NO_TITLE = "Head of Operations", "Software Engineer", None
HIGH, MEDIUM, LOW = ("demo_request",), ("email_reply",), ()  # engagement 60, 25, 0


def lead(
    company: dict[str, Any] = FITTING,
    title: str | None = BUYER,
    activities: tuple[str, ...] | list[dict[str, Any]] = LOW,
    **fields: Any,
) -> Lead:
    acts = [{"type": a} if isinstance(a, str) else a for a in activities]
    return Lead.model_validate(
        {"email": "maria@acme.example", "title": title, "company": company, "activities": acts, **fields}
    )


def judge(subject: Lead, enrichment: Enrichment | None = None, icp: IcpConfig = ICP) -> Evaluation:
    return evaluate(subject, enrichment, icp, NOW)


# The matrix


@pytest.mark.parametrize(
    ("title", "grade"), [(BUYER, "A"), (NO_TITLE, "B"), (NON_BUYER, "C")], ids=["A", "B", "C"]
)
@pytest.mark.parametrize(("activities", "band"), [(HIGH, 1), (MEDIUM, 2), (LOW, 3)], ids=["1", "2", "3"])
def test_grade_and_engagement_band_give_the_matrix_tier(
    title: str | None, grade: str, activities: tuple[str, ...], band: int
) -> None:
    result = judge(lead(title=title, activities=activities))

    assert result.fit == grade
    assert ICP.classification.band(result.engagement) == band
    assert result.tier == ICP.classification.matrix[grade][band - 1]


@pytest.mark.parametrize(
    ("grade", "tiers"),
    [("A", ("hot", "hot", "warm")), ("B", ("hot", "warm", "nurture")), ("C", ("warm", "nurture", "nurture"))],
)
def test_the_default_matrix(grade: str, tiers: tuple[str, str, str]) -> None:
    title = {"A": BUYER, "B": NO_TITLE, "C": NON_BUYER}[grade]

    assert tuple(judge(lead(title=title, activities=a)).tier for a in (HIGH, MEDIUM, LOW)) == tiers


@pytest.mark.parametrize(("activity", "band"), [("x50", 1), ("x20", 2), ("x19", 3)])
def test_band_lower_bounds_are_inclusive(activity: str, band: int) -> None:
    result = judge(lead(activities=(activity,)))

    assert ICP.classification.band(result.engagement) == band


def test_a_persona_skipped_by_the_vertical_grades_like_a_fitting_persona() -> None:
    result = judge(lead(company=US, title=NON_BUYER))

    assert result.persona.skipped
    assert result.fit == "A"
    assert result.tier == "warm"


def test_the_matrix_comes_from_the_config() -> None:
    matrix: Any = {
        "A": ("warm", "nurture", "nurture"),
        "B": ("hot", "warm", "nurture"),
        "C": ("warm", "nurture", "nurture"),
    }
    cold = ICP.model_copy(update={"classification": Classification(matrix=matrix)})

    assert judge(lead(activities=HIGH), icp=cold).tier == "warm"


# Status


@pytest.mark.parametrize(
    ("title", "activities", "status"),
    [
        (BUYER, LOW, Status.QUALIFIED),  # A3 warm
        (NO_TITLE, MEDIUM, Status.QUALIFIED),  # B2 warm
        (NO_TITLE, LOW, Status.POTENTIAL),  # B3 nurture
        (NON_BUYER, HIGH, Status.QUALIFIED),  # C1 warm: a fitting company asking for a demo
        (NON_BUYER, LOW, Status.POTENTIAL),  # C3 nurture
    ],
)
def test_qualified_tiers_qualify_a_fitting_company(
    title: str | None, activities: tuple[str, ...], status: Status
) -> None:
    assert judge(lead(title=title, activities=activities)).status is status


def test_qualified_tiers_come_from_the_config() -> None:
    strict = ICP.model_copy(update={"classification": Classification(qualified_tiers=("hot",))})

    assert judge(lead(), icp=strict).status is Status.POTENTIAL  # A3 warm


def test_a_disqualified_lead_is_unqualified_in_tier_disqualified_with_a_low_score() -> None:
    result = judge(lead(activities=HIGH, consent={"contact": False}))

    assert result.disqualified
    assert result.tier == "disqualified"
    assert result.status is Status.UNQUALIFIED
    assert result.score <= 10
    assert result.next_step == NEXT_STEP["disqualified"]
    assert "asked not to be contacted" in result.reasons


def test_icp_no_is_unqualified_and_nurture_whatever_the_engagement() -> None:
    result = judge(lead(company=OTHER, activities=("demo_request", "demo_request")))

    assert result.icp.status is Fit.NO
    assert result.fit is None
    assert result.engagement == 100
    assert result.tier == "nurture"
    assert result.status is Status.UNQUALIFIED
    assert not result.disqualified


def test_icp_and_persona_both_inconclusive_is_insufficient_info() -> None:
    result = judge(lead(company=UNKNOWN, title=NO_TITLE, activities=HIGH))

    assert result.status is Status.INSUFFICIENT_INFO
    assert result.fit is None
    assert result.tier == "nurture"
    assert result.missing == ("industry", "employees", "country", "title")
    assert result.next_step.startswith("Find out industry, employees, country, title")
    assert "review queue" in result.next_step
    assert result.factors[-1] == Reason(
        factor="missing",
        direction="neutral",
        text="Not enough to decide: missing industry, employees, country, title",
    )


def test_a_disqualifier_decides_even_when_fit_cannot_be_judged() -> None:
    result = judge(lead(company=UNKNOWN, title=NO_TITLE, first_name="asdf", last_name="qwer"))

    assert result.status is Status.UNQUALIFIED
    assert result.tier == "disqualified"
    assert result.missing == ()


@pytest.mark.parametrize("activities", [HIGH, MEDIUM, LOW])
def test_icp_inconclusive_is_never_qualified(activities: tuple[str, ...]) -> None:
    result = judge(lead(company=UNKNOWN, title=BUYER, activities=activities))

    assert result.icp.status is Fit.INCONCLUSIVE
    assert result.fit == "B"
    assert result.status is Status.POTENTIAL


def test_icp_inconclusive_with_a_non_buyer_is_unqualified() -> None:
    result = judge(lead(company=UNKNOWN, title=NON_BUYER, activities=HIGH))

    assert result.fit is None
    assert result.status is Status.UNQUALIFIED
    assert result.tier == "nurture"


def test_grade_c_when_the_company_fits_and_the_person_is_not_a_buyer() -> None:
    result = judge(lead(title="Operations Analyst"))

    assert result.icp.status is Fit.YES
    assert result.persona.status is Fit.NO
    assert result.fit == "C"


# Score


@pytest.mark.parametrize(("title", "grade"), [(BUYER, "A"), (NO_TITLE, "B"), (NON_BUYER, "C")])
@pytest.mark.parametrize("activities", [HIGH, MEDIUM, LOW])
def test_score_is_fit_share_plus_engagement_share(
    title: str | None, grade: str, activities: tuple[str, ...]
) -> None:
    result = judge(lead(title=title, activities=activities))

    assert result.score == round(70 * FIT_SHARE[grade] + 30 * result.engagement / 100)


def test_a_full_fit_without_engagement_scores_the_fit_weight() -> None:
    assert judge(lead()).score == 70
    assert judge(lead(activities=HIGH)).score == 70 + 18


def test_an_unjudged_company_scores_only_its_engagement() -> None:
    assert judge(lead(company=OTHER, activities=HIGH)).score == 18


# Next step


@pytest.mark.parametrize(
    ("title", "activities", "tier"), [(BUYER, HIGH, "hot"), (BUYER, LOW, "warm"), (NON_BUYER, LOW, "nurture")]
)
def test_the_next_step_follows_the_tier(title: str, activities: tuple[str, ...], tier: str) -> None:
    result = judge(lead(title=title, activities=activities))

    assert result.tier == tier
    assert result.next_step == NEXT_STEP[tier]


# Reasons as data


def test_every_reason_is_data_and_the_texts_are_the_reasons() -> None:
    result = judge(lead(activities=HIGH, company=FITTING | {"domain": "atlas.example"}))

    assert all(isinstance(f, Reason) and f.factor and f.text for f in result.factors)
    assert result.reasons == tuple(f.text for f in result.factors)
    assert [f.factor for f in result.factors] == ["icp", "persona", "engagement", "customer"]


def test_fit_reasons_carry_direction_and_weight() -> None:
    icp, persona, engaged = judge(lead(activities=HIGH)).factors

    assert (icp.direction, icp.weight) == ("positive", 70.0)
    assert icp.text == f"Company: {judge(lead()).icp.reason}"
    assert persona.direction == "positive"
    assert persona.text.startswith("Person: ")
    assert (engaged.direction, engaged.weight) == ("positive", 18.0)
    assert engaged.text == "Engagement 60/100: demo request"


def test_the_weights_add_up_to_the_score() -> None:
    result = judge(lead(title=NO_TITLE, activities=MEDIUM))

    assert round(sum(f.weight for f in result.factors)) == result.score


@pytest.mark.parametrize(
    ("company", "title", "directions"),
    [
        (OTHER, NON_BUYER, ("negative", "negative")),
        (UNKNOWN, NO_TITLE, ("neutral", "neutral")),
        (US, NON_BUYER, ("positive", "neutral")),  # persona skipped
    ],
)
def test_fit_directions(company: dict[str, Any], title: str | None, directions: tuple[str, str]) -> None:
    icp, persona, *_ = judge(lead(company=company, title=title)).factors

    assert (icp.direction, persona.direction) == directions


def test_no_engagement_is_a_neutral_reason() -> None:
    engaged = judge(lead()).factors[2]

    assert (engaged.factor, engaged.direction, engaged.weight) == ("engagement", "neutral", 0.0)
    assert engaged.text == "No engagement signals yet"


def test_disqualifiers_are_reasons_after_the_fit() -> None:
    result = judge(lead(company=FITTING | {"domain": "routefleet.example"}))

    assert result.factors[3] == Reason(
        factor="disqualifier:competitor",
        direction="negative",
        text="works for a competitor (routefleet.example)",
    )


# Customers


def test_an_existing_customer_is_flagged_and_still_judged() -> None:
    result = judge(lead(company=FITTING | {"domain": "atlas.example"}))

    assert result.customer
    assert result.status is Status.QUALIFIED
    assert "An existing customer: for its account manager" in result.reasons


def test_a_crm_customer_account_is_a_customer() -> None:
    account = AccountMatch(crm="local", account_id="a1", matched_by="domain", owner="ana", customer=True)

    result = judge(lead(), Enrichment(company=CompanyFacts(**FITTING), account=account))

    assert result.customer


# Enrichment


def test_enriched_company_facts_are_judged_instead_of_the_lead_s() -> None:
    result = judge(lead(company=UNKNOWN), Enrichment(company=CompanyFacts(**FITTING)))

    assert result.icp.status is Fit.YES
    assert result.status is Status.QUALIFIED


# Locked statuses


def locked(status: str, is_locked: bool = True) -> Enrichment:
    contact = ContactMatch(crm="hubspot", record_id="1", status=status, locked=is_locked)
    return Enrichment(company=CompanyFacts(**FITTING), contact=contact)


def test_a_locked_status_is_kept_and_the_result_says_so() -> None:
    result = judge(lead(activities=HIGH), locked("unqualified"))

    assert result.tier == "hot"  # what the evaluation found...
    assert result.status is Status.UNQUALIFIED  # ...but a person decided
    assert result.locked
    assert result.factors[-1] == Reason(
        factor="locked", direction="neutral", text="Status locked by a person in the CRM: kept as unqualified"
    )


def test_a_locked_status_is_kept_over_insufficient_info() -> None:
    result = judge(
        lead(company=UNKNOWN, title=NO_TITLE),
        locked("qualified").model_copy(update={"company": CompanyFacts(name="Acme")}),
    )

    assert result.status is Status.QUALIFIED
    assert result.locked


def test_an_unlocked_crm_status_is_not_kept() -> None:
    result = judge(lead(), locked("unqualified", is_locked=False))

    assert result.status is Status.QUALIFIED
    assert not result.locked
    assert not any("locked" in r for r in result.reasons)


def test_a_locked_value_that_is_not_a_status_is_ignored() -> None:
    result = judge(lead(), locked("customer"))

    assert result.status is Status.QUALIFIED
    assert not result.locked


def test_the_next_step_of_a_locked_unqualified_lead_is_not_a_sales_call() -> None:
    result = judge(lead(activities=HIGH), locked("unqualified"))

    assert "Call" not in result.next_step


# Time


def test_now_makes_the_evaluation_deterministic() -> None:
    dated = lead(activities=[{"type": "demo_request", "at": (NOW - timedelta(days=14)).isoformat()}])

    assert evaluate(dated, None, ICP, NOW) == evaluate(dated, None, ICP, NOW)
    assert evaluate(dated, None, ICP, NOW).engagement == 30  # the default half-life is 14 days
    assert evaluate(dated, None, ICP, NOW - timedelta(days=14)).engagement == 60


# The demo config


def test_the_issue_example_lead_is_qualified_and_hot_under_the_demo_config() -> None:
    config = load_config(CONFIG_DIR).icp
    example = Lead.model_validate(
        {
            "email": "maria.lopez@acme-logistics.com",
            "first_name": "Maria",
            "last_name": "Lopez",
            "title": "Head of Operations",
            "company": {
                "name": "Acme Logistics",
                "domain": "acme-logistics.com",
                "employees": 150,
                "industry": "Logistics",
                "country": "ES",
            },
            "message": "We need to automate billing for 40 depots.",
            "activities": [{"type": "page_view", "url": "/pricing", "at": "2026-11-30T10:15:00Z"}],
        }
    )

    result = evaluate(example, None, config, NOW)

    assert result.status is Status.QUALIFIED
    assert result.icp.matched == "Mid-market logistics"
    assert result.persona.matched == "Operations leader"
    assert result.fit == "A"
    assert result.tier == "hot"
    assert result.engagement == 47  # pricing page 28 a day old (26.5) + the message 20
