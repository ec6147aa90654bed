"""Feedback labels, A/B arms and drift figures through the real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.bus import Message
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.decision import Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.events import LeadFeedback, LeadRouted
from schemas.lead import Lead, lead_id_for
from services.config import load_config
from services.core.feedback import classify
from services.model.drift import EDGES, counts, daily_counts, psi, shares
from services.model.feedback import FeedbackRecorder
from tests.conftest import CONFIG_DIR

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def routed(i: int, arm: str, p: float, version: str = "m1") -> LeadRouted:
    unknown = FitResult(status=Fit.INCONCLUSIVE, reason="?")
    evaluation = Evaluation(
        icp=unknown, persona=unknown, engagement=0, score=round(p * 100), tier="warm",
        status=Status.POTENTIAL, reasons=(), probability=p, arm=arm,  # type: ignore[arg-type]
    )  # fmt: skip
    return LeadRouted(
        event_id=f"e{i}", lead_id=f"l{i}", received_at=T0, decided_at=T0 + timedelta(days=i % 2),
        config_version="c", model_version=version, lead=Lead.model_validate({"email": f"p{i}@x.example"}),
        evaluation=evaluation, routing=RoutingDecision(rule_id="r", queue="q", reason="."), briefing="",
    )  # fmt: skip


def feedback(
    i: int, value: str, at: datetime, prop: str = "lifecyclestage", source: str = "hubspot"
) -> Message:
    kind, label = classify(prop, value) or (None, None)
    event = LeadFeedback(
        event_id=f"f{i}-{prop}-{value}", lead_id=f"l{i}", received_at=at, source=source,
        object_id=str(i), property=prop, value=value, occurred_at=at, kind=kind, label=label,
    )  # fmt: skip
    return Message(
        topic="leads.feedback",
        partition=0,
        offset=i,
        key=None,
        value=event.model_dump_json().encode(),
        headers=(),
    )


async def test_feedback_becomes_labels_and_arms_compare_conversion(tmp_path: Path) -> None:
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"))
    await store.start()
    try:
        for i in range(6):
            await store.record_decision(routed(i, "holdout" if i < 2 else "model", 0.3 + i / 10))
        recorder = FeedbackRecorder(store, lambda: load_config(CONFIG_DIR))
        await recorder.handle(feedback(0, "lost", T0))
        await recorder.handle(feedback(2, "closedwon", T0))
        await recorder.handle(feedback(2, "closedwon", T0))  # a redelivery changes nothing
        await recorder.handle(feedback(3, "Lost", T0 + timedelta(hours=2)))
        await recorder.handle(feedback(3, "won", T0 + timedelta(hours=1)))  # older than the loss: ignored
        await recorder.handle(feedback(4, "appointmentscheduled", T0))  # says nothing about the outcome
        labelled = await store.labelled_decisions()
        assert [(r.lead_id, label) for r, label in labelled] == [("l0", 0), ("l2", 1), ("l3", 0)]
        assert await store.arms() == [
            {"arm": "holdout", "leads": 2, "labelled": 1, "conversions": 0},
            {"arm": "model", "leads": 4, "labelled": 2, "conversions": 1},
        ]
        assert sum(await store.score_counts(T0, T0 + timedelta(days=2), EDGES)) == 6
    finally:
        await store.close()


async def test_salesforce_outcomes_and_a_not_a_fit_correction_become_labels(tmp_path: Path) -> None:
    """Salesforce says won as IsConverted = true or Status = Closed - Converted, values no
    feedback.won list holds: the outcome the intake normalised is the label. An AE's "not a
    fit" is a loss; "good lead" says nothing about the outcome."""
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"))
    await store.start()
    try:
        for i in range(5):
            await store.record_decision(routed(i, "model", 0.5))
        recorder = FeedbackRecorder(store, lambda: load_config(CONFIG_DIR))
        await recorder.handle(feedback(0, "true", T0, "IsConverted", "salesforce"))
        await recorder.handle(feedback(1, "Closed - Converted", T0, "Status", "salesforce"))
        await recorder.handle(feedback(2, "Closed - Not Converted", T0, "Status", "salesforce"))
        await recorder.handle(feedback(3, "Not a fit", T0, "leadflow_feedback"))  # an AE's correction
        await recorder.handle(feedback(4, "Good lead", T0, "leadflow_feedback"))  # not an outcome
        labelled = await store.labelled_decisions()
        assert [(r.lead_id, label) for r, label in labelled] == [("l0", 1), ("l1", 1), ("l2", 0), ("l3", 0)]
    finally:
        await store.close()


async def test_feedback_on_a_crm_record_labels_the_lead_written_there(tmp_path: Path) -> None:
    """A web lead the writer put in HubSpot as contact 901: HubSpot's feedback names the contact
    (its lead id is the contact's), and the outcome belongs to the lead written there."""
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"))
    await store.start()
    try:
        await store.record_decision(routed(0, "model", 0.5))
        await store.mark_written("l0", "e0", T0, "hubspot", "901")
        event = LeadFeedback(
            event_id="hubspot:1:2:901:lifecyclestage", lead_id=lead_id_for("hubspot:901"), received_at=T0,
            source="hubspot", object_id="901", property="lifecyclestage", value="customer",
            occurred_at=T0, kind="outcome", label="won",
        )  # fmt: skip
        message = Message("leads.feedback", 0, 0, None, event.model_dump_json().encode(), ())
        await FeedbackRecorder(store, lambda: load_config(CONFIG_DIR)).handle(message)
        assert [(r.lead_id, label) for r, label in await store.labelled_decisions()] == [("l0", 1)]
    finally:
        await store.close()


async def test_drift_reads_the_scores_of_one_model_only(tmp_path: Path) -> None:
    """After a promotion the old champion's scores are not the new one's distribution."""
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"))
    await store.start()
    try:
        await store.record_decision(routed(0, "model", 0.1, version="old"))
        await store.record_decision(routed(1, "model", 0.9, version="new"))
        end = T0 + timedelta(days=2)
        assert await store.score_counts(T0, end, EDGES, model_version="new") == [0] * 9 + [1]
        assert sum(await store.score_counts(T0, end, EDGES)) == 2
    finally:
        await store.close()


async def test_a_review_of_a_scored_lead_is_not_a_second_score(tmp_path: Path) -> None:
    """A review re-records the decision with its evaluation (the model's probability in it):
    drift counts each scoring once, on the day the model scored."""
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"))
    await store.start()
    try:
        first = routed(0, "model", 0.9)
        await store.record_decision(first)
        reviewed = first.model_copy(update={"event_id": "e0:review", "decided_at": T0 + timedelta(days=3)})
        await store.record_routed(reviewed, review={"action": "approve", "changes": {}, "note": None})
        assert await store.score_counts(T0, T0 + timedelta(days=4), EDGES) == [0] * 9 + [1]
    finally:
        await store.close()


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift() -> None:
    reference = shares([i / 100 for i in range(100)])
    assert psi(reference, reference) == 0
    by_day = {"2026-11-21": counts([0.95] * 50), "2026-11-20": counts([i / 50 for i in range(50)])}
    rows = daily_counts(reference, by_day)
    assert [r["day"] for r in rows] == ["2026-11-20", "2026-11-21"]
    assert rows[0]["level"] == "stable" and rows[1]["level"] == "shifted" and rows[1]["psi"] > 1
