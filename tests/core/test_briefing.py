"""The AE's briefing (services/core/briefing.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.decision import Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.lead import Lead
from services.config import load_config
from services.core.briefing import briefing
from services.core.classify import evaluate

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"
NEXT_STEPS = {
    Status.QUALIFIED: "Call within the hour; offer a demo focused on their stated need.",
    Status.POTENTIAL: "Reach out today with a relevant case study and one qualifying question.",
    Status.UNQUALIFIED: "No sales action yet; keep in marketing nurture.",
    Status.INSUFFICIENT_INFO: "Find out industry (review queue, or ask the lead) before deciding.",
}

REASONS = (
    "Company: 150 employees in logistics in ES fits 'Mid-market logistics'",
    "Person: 'Head of Operations' matches persona 'Operations leader'",
    "Engagement 50/100: visited the pricing page, wrote a message",
)
ROUTING = RoutingDecision(
    rule_id="emea",
    owner="ana.garcia",
    team="EMEA mid-market",
    reason="rule 'emea': round robin in 'EMEA mid-market', Ana Garcia was next",
)


def lead(message: str | None = "We need to automate billing for 40 depots.", **person: str) -> Lead:
    return Lead.model_validate(
        {
            "first_name": "Maria",
            "last_name": "Lopez",
            "title": "Head of Operations",
            "email": "maria.lopez@acme-logistics.com",
            **person,
            "company": {"name": "Acme Logistics", "employees": 150, "industry": "Logistics", "country": "ES"},
            "source": "web",
            "message": message,
        }
    )


def evaluation(status: Status = Status.QUALIFIED) -> Evaluation:
    fit = FitResult(status=Fit.YES, reason="fits")
    return Evaluation(
        icp=fit,
        persona=fit,
        engagement=50,
        score=88,
        tier="hot",
        status=status,
        reasons=REASONS,
        next_step=NEXT_STEPS[status],
    )


def test_briefing_names_the_person_and_the_company() -> None:
    text = briefing(lead(), evaluation(), ROUTING)

    first = text.splitlines()[0]
    assert "Maria Lopez" in first
    assert "Head of Operations" in first
    assert "Acme Logistics" in first
    assert "150 employees" in first
    assert "ES" in first


def test_briefing_gives_status_tier_and_score() -> None:
    text = briefing(lead(), evaluation(), ROUTING)

    assert "Qualified" in text
    assert "tier hot" in text
    assert "88/100" in text


def test_briefing_lists_every_reason() -> None:
    text = briefing(lead(), evaluation(), ROUTING)

    for reason in REASONS:
        assert f"- {reason}" in text.splitlines()


def test_briefing_gives_the_routing_reason() -> None:
    assert ROUTING.reason in briefing(lead(), evaluation(), ROUTING)


@pytest.mark.parametrize("status", list(Status))
def test_briefing_ends_with_the_evaluation_s_next_step(status: Status) -> None:
    last = briefing(lead(), evaluation(status), ROUTING).splitlines()[-1]

    assert last == f"Next step: {NEXT_STEPS[status]}"


def test_an_insufficient_info_briefing_says_what_to_find_out() -> None:
    bare = Lead.model_validate({"email": "someone@gmail.com", "source": "web"})
    judged = evaluate(bare, None, load_config(CONFIG_DIR).icp, datetime(2026, 12, 1, tzinfo=UTC))

    last = briefing(bare, judged, ROUTING).splitlines()[-1]

    assert last == (
        "Next step: Find out industry, employees, country, title"
        " (review queue, or ask the lead) before deciding."
    )


def test_insufficient_info_status_reads_as_words() -> None:
    text = briefing(lead(), evaluation(Status.INSUFFICIENT_INFO), ROUTING)

    assert "Insufficient info" in text
    assert "insufficient_info" not in text


def test_short_message_is_quoted_whole() -> None:
    text = briefing(lead(), evaluation(), ROUTING)

    assert '"We need to automate billing for 40 depots."' in text
    assert "..." not in text


def test_long_message_is_truncated_with_an_ellipsis() -> None:
    message = " ".join(f"word{i}" for i in range(200))  # well past 280 characters

    text = briefing(lead(message=message), evaluation(), ROUTING)

    quoted = next(line for line in text.splitlines() if line.startswith("They wrote:"))
    assert quoted == f'They wrote: "{message[:280]}..."'
    assert message not in text


def test_message_whitespace_is_collapsed() -> None:
    text = briefing(lead(message="Need\n\n   billing\tautomation"), evaluation(), ROUTING)

    assert '"Need billing automation"' in text


def test_no_message_means_no_quote() -> None:
    assert "They wrote" not in briefing(lead(message=None), evaluation(), ROUTING)


def test_unknown_contact_is_said_plainly() -> None:
    anonymous = Lead.model_validate({"company": "Acme"})

    text = briefing(anonymous, evaluation(), ROUTING)

    assert text.splitlines()[0] == "Unknown contact at Acme"


def test_facts_are_the_ones_the_decision_judged_with_where_each_came_from() -> None:
    # The lead said 150 employees; the firmographic table, surer, says 180: the evaluation
    # judged 180, so the briefing shows 180, from the table, and what the lead had said.
    from schemas.enrichment import CompanyFacts, Enrichment, Provenance
    from services.core.briefing import build_context

    said = lead()
    enrichment = Enrichment(
        company=CompanyFacts(name="Acme Logistics", employees=180, industry="Logistics", country="ES"),
        provenance={
            "company.employees": Provenance(provider="firmographics", confidence=0.9),
            "company.industry": Provenance(provider="lead", confidence=0.7),
            "company.country": Provenance(provider="lead", confidence=1.0),
        },
    )
    context = build_context(said, enrichment, evaluation(), ROUTING)
    facts = {f.label: (f.value, f.source, f.said) for f in context.facts}
    assert facts["employees"] == ("180", "firmographics", "150")
    assert facts["industry"] == ("Logistics", "lead", None)
    from schemas.config import BriefingConfig
    from services.briefing import Briefer, Suggestion

    text = Briefer(BriefingConfig(), CONFIG_DIR).brief(said, enrichment, evaluation(), ROUTING, Suggestion())
    assert "180 employees [firmographics; the lead said 150] · Logistics industry [lead]" in text
