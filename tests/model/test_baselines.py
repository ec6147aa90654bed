"""The baselines a backtest reports: the points sheet scores what the ICP's words say."""

from __future__ import annotations

from schemas.lead import Lead
from services.config import load_config
from services.model.baselines import points
from tests.conftest import CONFIG_DIR

ICP = load_config(CONFIG_DIR).icp


def _lead(**data: object) -> Lead:
    return Lead.model_validate({"source": "history", "source_record_id": "r1", **data})


def test_points_count_industry_title_pricing_and_opens() -> None:
    lead = _lead(
        company={"industry": "Freight and Logistics"},  # the ICP lists logistics: a whole word
        person={"title": "Head of Operations"},
        activities=[
            {"type": "page_view", "url": "https://example.com/pricing"},
            {"type": "email_open"},
            {"type": "email_open"},
        ],
    )
    assert points(lead, ICP) == 20 + 15 + 10 + 5 + 5


def test_industry_fit_needs_no_employees_or_country() -> None:
    # The rules call this company inconclusive (size and country unknown); a points sheet
    # still gives the industry its 20 points.
    assert points(_lead(company={"industry": "Retail"}), ICP) == 20


def test_a_lead_the_sheet_has_nothing_on_scores_zero() -> None:
    assert points(_lead(company={"industry": "Education"}, person={"title": "Student"}), ICP) == 0
    assert points(_lead(attributes={"TotalVisits": 5}), ICP) == 0


def test_logistic_ignores_a_number_never_given() -> None:
    # A history without one of the model's numeric columns (backtest --model on another export).
    import numpy as np

    from services.model.baselines import logistic
    from services.model.features import Feature, FeatureSpec

    spec = FeatureSpec(
        features=(
            Feature(name="visits", path="attributes.visits", kind="numeric"),
            Feature(name="budget", path="attributes.budget", kind="numeric"),
            Feature(name="industry", path="company.industry", kind="categorical", categories=("a", "b")),
        ),
        missing_as_category=True,
    )
    rng = np.random.default_rng(1)
    rows = np.column_stack([rng.integers(0, 20, 200), np.full(200, np.nan), rng.integers(0, 4, 200)])
    labels = (rows[:, 0] > 10).astype(int)
    probability = logistic(spec, rows, labels).predict_proba(rows)[:, 1]
    assert probability[rows[:, 0] > 15].mean() > probability[rows[:, 0] < 5].mean()

    never = np.full((200, 1), np.nan)
    only = FeatureSpec(features=spec.features[1:2], missing_as_category=True)
    assert np.allclose(logistic(only, never, labels).predict_proba(never)[:, 1], labels.mean())
