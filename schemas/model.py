"""The predictive model as the decision sees it: its config (deploy/config/model.yaml) and a
lead's score. No I/O; the model itself lives in services/model/."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.decision import Reason


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bands(Strict):
    """Calibrated probability of converting from which a lead is hot or warm (else nurture)."""

    hot: float = Field(default=0.8, gt=0, le=1)
    warm: float = Field(default=0.55, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.warm > self.hot:
            raise ValueError(f"warm ({self.warm}) must not be above hot ({self.hot})")
        return self

    def tier(self, probability: float) -> str:
        return "hot" if probability >= self.hot else "warm" if probability >= self.warm else "nurture"


class Feedback(Strict):
    """Which CRM values (lower-cased, any property) mean won or lost, to turn leads.feedback
    events into training labels."""

    won: tuple[str, ...] = ("won", "closedwon", "closed won", "customer", "converted")
    lost: tuple[str, ...] = ("lost", "closedlost", "closed lost", "unqualified", "disqualified", "not_a_fit")

    def label(self, value: str | None) -> int | None:
        v = (value or "").strip().lower()
        return 1 if v in self.won else 0 if v in self.lost else None


class ModelConfig(Strict):
    """How the qualifier uses a trained model. Below the minimum of labelled history the
    model is not used: a model fitted on a few hundred leads ranks them by noise."""

    bands: Bands = Bands()
    min_rows: int = Field(default=1000, ge=0)
    min_positives: int = Field(default=120, ge=0)
    holdout_share: float = Field(default=0.0, ge=0, le=0.5)  # live leads decided by the rules alone
    factors: int = Field(default=3, ge=0, le=10)  # top positive and top negative factors shown
    feedback: Feedback = Feedback()


class ModelScore(Strict):
    """One lead as the model scored it: calibrated probability and the factors that moved it."""

    version: str
    probability: float = Field(ge=0, le=1)
    factors: tuple[Reason, ...] = ()
    trained_rows: int = 0
    trained_positives: int = 0
