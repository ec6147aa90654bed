"""Every condition and action of route() (services/core/routing.py), with the decision path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.config import Condition, Member, Range, RoutingConfig, Rule, SlaConfig, SlaTarget, Team
from schemas.decision import Evaluation, Fit, FitResult, RotationState, Status
from schemas.enrichment import CompanyFacts, Enrichment, Seniority, TitleFacts
from schemas.lead import Company, Lead
from services.core.routing import route

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday
POOL = Team(name="Pool", members=(Member(id="ana", name="Ana"), Member(id="ben", name="Ben")))


def config(when: Condition, **action: object) -> RoutingConfig:
    return RoutingConfig(
        teams=(POOL,),
        regions={"DACH": ("DE", "AT", "CH")},
        rules=(Rule(id="r", when=when, **action), Rule(id="fallback", queue="Else")),  # type: ignore[arg-type]
    )


def lead(country: str = "DE", employees: int | None = 120, language: str | None = None) -> Lead:
    attributes = {"language": language} if language else {}
    return Lead(
        company=Company(name="Acme", country=country, employees=employees),
        source="web",
        attributes=attributes,
    )


def judged(
    status: Status = Status.QUALIFIED, tier: str = "hot", score: int = 80, persona: str | None = "Ops leader"
) -> Evaluation:
    return Evaluation(
        icp=FitResult(status=Fit.YES, matched="Mid-market", reason="icp"),
        persona=FitResult(status=Fit.YES if persona else Fit.NO, matched=persona, reason="persona"),
        engagement=40,
        score=score,
        tier=tier,
        status=status,
        reasons=("r",),
    )


@pytest.mark.parametrize(
    ("when", "subject", "evaluation", "matches"),
    [
        (Condition(countries=("DE",)), lead(), judged(), True),
        (Condition(countries=("FR",)), lead(), judged(), False),
        (Condition(regions=("DACH",)), lead("AT"), judged(), True),
        (Condition(regions=("DACH",)), lead("ES"), judged(), False),
        (Condition(employees=Range(min=50, max=500)), lead(employees=120), judged(), True),
        (Condition(employees=Range(min=500)), lead(employees=120), judged(), False),
        (Condition(employees=Range(min=1)), lead(employees=None), judged(), False),
        (Condition(verticals=("Mid-market",)), lead(), judged(), True),
        (Condition(tiers=("warm",)), lead(), judged(tier="hot"), False),
        (Condition(statuses=("potential",)), lead(), judged(Status.POTENTIAL), True),
        (Condition(sources=("web",)), lead(), judged(), True),
        (Condition(sources=("partner",)), lead(), judged(), False),
        (Condition(languages=("de",)), lead(language="de-AT"), judged(), True),
        (Condition(languages=("de",)), lead(language="es"), judged(), False),
        (Condition(languages=("de",)), lead(), judged(), False),
        (Condition(score=Range(min=40, max=60)), lead(), judged(score=50), True),
        (Condition(score=Range(min=40, max=60)), lead(), judged(score=61), False),
        (Condition(personas=("Ops leader",)), lead(), judged(), True),
        (Condition(personas=("Ops leader",)), lead(), judged(persona=None), False),
        (Condition(customer=False), lead(), judged(), True),
        (Condition(field={"lead.company.name": "ACME"}), lead(), judged(), True),
        (Condition(field={"evaluation.tier": ("warm", "hot")}), lead(), judged(), True),
        (Condition(field={"lead.attributes.campaign": "spring"}), lead(), judged(), False),
    ],
)
def test_each_condition(when: Condition, subject: Lead, evaluation: Evaluation, matches: bool) -> None:
    decision = route(subject, evaluation, config(when, queue="Q"), now=NOW).decision

    assert (decision.rule_id == "r") is matches
    assert decision.path[0].startswith("rule 'r': " + ("matched" if matches else "no match"))


def test_a_field_path_reads_enrichment() -> None:
    when = Condition(field={"enrichment.title.seniority": ["vp", "c_level"]})
    enriched = Enrichment(company=CompanyFacts(), title=TitleFacts(seniority=Seniority("vp")))

    assert (
        route(lead(), judged(), config(when, queue="Q"), now=NOW, enrichment=enriched).decision.rule_id == "r"
    )


def test_employees_come_from_enrichment_when_the_lead_does_not_say() -> None:
    enriched = Enrichment(company=CompanyFacts(employees=900))
    when = Condition(employees=Range(min=500))

    decision = route(
        lead(employees=None), judged(), config(when, queue="Q"), now=NOW, enrichment=enriched
    ).decision

    assert decision.rule_id == "r"


def test_queue_action() -> None:
    decision = route(lead(), judged(), config(Condition(), queue="SDR review"), now=NOW).decision

    assert (decision.queue, decision.owner, decision.disposition) == ("SDR review", None, None)


@pytest.mark.parametrize("kind", ["nurture", "archive"])
def test_nurture_and_archive_carry_their_reason(kind: str) -> None:
    decision = route(lead(), judged(), config(Condition(), **{kind: "too small"}), now=NOW).decision

    assert decision.disposition == kind
    assert decision.owner is None and decision.queue is None
    assert "too small" in decision.reason


def test_account_owner_with_an_owner_and_without() -> None:
    rules = config(Condition(), account_owner=True)

    assert route(lead(), judged(), rules, now=NOW, account_owner="olga").decision.owner == "olga"
    without = route(lead(), judged(), rules, now=NOW).decision
    assert without.rule_id == "fallback"
    assert "no account owner" in without.path[0]


def test_team_action_records_the_rule_and_takes_a_turn() -> None:
    routed = route(
        lead(), judged(), config(Condition(), team="Pool"), now=NOW, state=RotationState({"Pool": 7})
    )

    assert routed.decision.rule_id == "r"
    assert routed.decision.owner == "ben"  # slot 7 of [ana, ben]
    assert routed.take is not None
    assert (routed.take.seen, routed.take.turn, routed.take.member) == (7, 8, "ben")


def test_first_touch_due_by_tier_and_notify_and_draft_from_the_rule() -> None:
    rules = RoutingConfig(
        teams=(POOL,),
        rules=(Rule(id="r", team="Pool", notify=("owner",), draft_email=True),),
        sla=SlaConfig(tiers={"hot": SlaTarget(minutes=5)}),
    )

    hot = route(lead(), judged(tier="hot"), rules, now=NOW).decision
    warm = route(lead(), judged(tier="warm"), rules, now=NOW).decision

    assert hot.first_touch_due == datetime(2026, 11, 18, 10, 5, tzinfo=UTC)
    assert warm.first_touch_due is None
    assert hot.notify == ("owner",)
    assert hot.draft is not None and not hot.draft.auto_send and "Ana" in hot.draft.body


def test_a_rule_without_a_fallback_is_refused() -> None:
    with pytest.raises(ValueError, match="fallback"):
        RoutingConfig(teams=(POOL,), rules=(Rule(id="r", when=Condition(countries=("DE",)), queue="Q"),))


def test_unknown_region_and_channel_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        RoutingConfig(
            teams=(POOL,),
            rules=(Rule(id="r", when=Condition(regions=("X",)), queue="Q"), Rule(id="f", queue="Q")),
        )
    with pytest.raises(ValueError, match="unknown channel"):
        RoutingConfig(teams=(POOL,), rules=(Rule(id="f", queue="Q", notify=("slack",)),))


def test_auto_send_needs_a_draft() -> None:
    with pytest.raises(ValueError, match="auto_send"):
        Rule(id="r", team="Pool", auto_send=True)
