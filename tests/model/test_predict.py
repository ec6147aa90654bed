"""The model inside classification (services.core.predict): guard, holdout, precedence."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.decision import Reason, Status
from schemas.lead import Lead
from schemas.model import ModelConfig, ModelScore
from services.config import load_config
from services.core.classify import evaluate
from services.core.predict import holdout_arm, not_usable, with_model
from tests.conftest import CONFIG_DIR

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CONFIG = load_config(CONFIG_DIR)
FACTOR = Reason(
    factor="model:visits", direction="positive", weight=0.8, text="Model: visits = 12 raises the chance"
)


def score(p: float, rows: int = 5000, positives: int = 900) -> ModelScore:
    return ModelScore(
        version="abc", probability=p, factors=(FACTOR,), trained_rows=rows, trained_positives=positives
    )


def judged(lead: Lead) -> object:
    return evaluate(lead, None, CONFIG.icp, NOW)


UNKNOWN = Lead.model_validate({"email": "sam@example.org"})  # the rules cannot judge it


def test_a_usable_model_sets_tier_score_and_status_with_its_reasons() -> None:
    rules = evaluate(UNKNOWN, None, CONFIG.icp, NOW)
    assert rules.status is Status.INSUFFICIENT_INFO
    decided = with_model(rules, score(0.91), ModelConfig(), "lead-1")
    assert (decided.tier, decided.score, decided.status) == ("hot", 91, Status.QUALIFIED)
    assert decided.probability == 0.91 and decided.arm == "model" and decided.missing == ()
    assert "Model abc: 91% likely to convert: tier hot" in decided.reasons
    assert FACTOR in decided.factors and FACTOR.text in decided.reasons
    assert with_model(rules, score(0.2), ModelConfig(), "lead-1").tier == "nurture"


def test_below_the_minimum_of_history_the_rules_decide_and_say_why() -> None:
    rules = evaluate(UNKNOWN, None, CONFIG.icp, NOW)
    config = ModelConfig(min_rows=1000, min_positives=120)
    decided = with_model(rules, score(0.95, rows=800, positives=300), config, "lead-1")
    assert (decided.tier, decided.status, decided.probability) == (rules.tier, rules.status, None)
    assert decided.reasons[-1] == (
        "Model not used: it was trained on 800 labelled leads and 300 conversions, below the minimum of"
        " 1,000 and 120; the rules decided"
    )
    assert not_usable(score(0.5, rows=5000, positives=119), config) is not None
    assert not_usable(score(0.5, rows=1000, positives=120), config) is None
    assert "no trained model" in with_model(rules, None, config, "x").reasons[-1]


def test_a_disqualifier_wins_over_the_model() -> None:
    rules = evaluate(
        Lead.model_validate({"email": "a@b.example", "company": {"name": "RouteFleet"}}),
        None,
        CONFIG.icp,
        NOW,
    )
    assert rules.disqualified
    decided = with_model(rules, score(0.97), ModelConfig(), "lead-1")
    assert (decided.tier, decided.status) == ("disqualified", rules.status)
    assert decided.probability == 0.97 and "the disqualifier stands" in decided.reasons[-2]


def test_holdout_leads_are_decided_by_the_rules_and_marked() -> None:
    config = ModelConfig(holdout_share=0.2)
    arms = [holdout_arm(f"lead-{i}", 0.2) for i in range(5000)]
    assert 0.18 < arms.count("holdout") / len(arms) < 0.22
    assert holdout_arm("lead-7", 0.2) == holdout_arm("lead-7", 0.2)  # stable per lead
    assert holdout_arm("lead-7", 0.0) == "model"
    lead_id = f"lead-{arms.index('holdout')}"
    rules = evaluate(UNKNOWN, None, CONFIG.icp, NOW)
    decided = with_model(rules, score(0.91), config, lead_id)
    assert (decided.arm, decided.tier, decided.probability) == ("holdout", rules.tier, 0.91)
    assert "A/B holdout lead, so the rules decided" in decided.reasons[-2]
    assert decided.factors[-1] == FACTOR and decided.reasons[-1] == FACTOR.text  # scored: explained
