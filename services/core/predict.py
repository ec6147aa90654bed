"""The model inside classification: the rules' evaluation, then the calibrated probability.

With a usable model the tier, score and status come from the probability (bands in
model.yaml); disqualifiers and a status locked in the CRM still win. Without one (none trained,
below the minimum of labelled history, or the lead drawn into the A/B holdout) the rules decide
and the decision says why the model was not used. Pure: the qualifier and the backtest both
call `with_model` on the evaluation and the model's score.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from schemas.decision import Evaluation, Fit, Reason, Status
from schemas.model import ModelConfig, ModelScore
from services.core.classify import NEXT_STEP

Arm = Literal["model", "holdout"]


def holdout_arm(lead_id: str, share: float) -> Arm:
    """A stable draw per lead: the same lead is always in the same arm, on every replica."""
    if share <= 0:
        return "model"
    draw = int.from_bytes(hashlib.sha256(lead_id.encode()).digest()[:8], "big") / 2**64
    return "holdout" if draw < share else "model"


def not_usable(score: ModelScore | None, config: ModelConfig) -> str | None:
    """Why the model may not decide, or None when it may."""
    if score is None:
        return "no trained model is in use"
    if score.trained_rows < config.min_rows or score.trained_positives < config.min_positives:
        return (
            f"it was trained on {score.trained_rows:,} labelled leads and {score.trained_positives:,}"
            f" conversions, below the minimum of {config.min_rows:,} and {config.min_positives:,}"
        )
    return None


def _merged(evaluation: Evaluation, extra: list[Reason], **update: object) -> Evaluation:
    factors = (*evaluation.factors, *extra)
    return evaluation.model_copy(
        update={"factors": factors, "reasons": tuple(f.text for f in factors), **update}
    )


def with_model(
    evaluation: Evaluation,
    score: ModelScore | None,
    config: ModelConfig,
    lead_id: str,
    qualified_tiers: tuple[str, ...] = ("hot", "warm"),
) -> Evaluation:
    """The final evaluation: the model's tier, score and status where it may decide."""
    why = not_usable(score, config)
    if why is not None or score is None:
        note = Reason(factor="model", direction="neutral", text=f"Model not used: {why}; the rules decided")
        return _merged(evaluation, [note])
    p = score.probability
    arm = holdout_arm(lead_id, config.holdout_share)
    headline = f"Model {score.version}: {p:.0%} likely to convert"
    if arm == "holdout":
        note = Reason(
            factor="model", direction="neutral", text=f"{headline}; A/B holdout lead, so the rules decided"
        )
        return _merged(evaluation, [note, *score.factors], probability=p, arm=arm)
    tier = config.bands.tier(p)
    if evaluation.disqualified:
        note = Reason(factor="model", direction="neutral", text=f"{headline}; the disqualifier stands")
        return _merged(evaluation, [note, *score.factors], probability=p, arm=arm)
    note = Reason(
        factor="model",
        direction="positive" if tier != "nurture" else "negative",
        weight=round(100 * p, 1),
        text=f"{headline}: tier {tier}",
    )
    # Fit that is not judged is no longer missing information: the model judged from history.
    kept = tuple(f for f in evaluation.factors if f.factor != "missing")
    status = evaluation.status
    if not evaluation.locked:
        if tier in qualified_tiers:
            status = Status.QUALIFIED
        else:
            status = Status.UNQUALIFIED if evaluation.icp.status is Fit.NO else Status.POTENTIAL
    base = evaluation.model_copy(update={"factors": kept})
    return _merged(
        base,
        [note, *score.factors],
        tier=tier,
        score=round(100 * p),
        status=status,
        missing=(),
        next_step=evaluation.next_step if evaluation.locked else NEXT_STEP[tier],
        probability=p,
        arm=arm,
    )
