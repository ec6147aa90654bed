"""The promises every CRM writer keeps (connectors/crm/__init__.py), run against each CRM by the
``crm`` fixture in conftest.py: local, the HubSpot fake through hubspot-api-client, ..."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.crm import WriteAction, WriteOutcome
from connectors.errors import ConnectorError
from schemas.decision import EmailDraft, Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.events import LeadRouted
from schemas.lead import Lead
from tests.connectors.crm.conftest import Harness

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def routed(
    n: int,
    *,
    email: str | None = None,
    event: str | None = None,
    status: Status = Status.QUALIFIED,
    owner: str = "ana",
    score: int = 80,
    tier: str = "hot",
    draft: EmailDraft | None = None,
    due: datetime | None = None,
) -> LeadRouted:
    fit = FitResult(status=Fit.YES, reason="fits")
    email = email or f"person{n}@acme-logistics.com"
    return LeadRouted(
        event_id=event or f"ev-{n}",
        lead_id=f"lead-{email}",
        received_at=T0 + timedelta(minutes=n),
        decided_at=T0 + timedelta(minutes=n, seconds=1),
        config_version="cfg1",
        lead=Lead(person={"email": email, "first_name": "Maria"}, source="web"),  # type: ignore[arg-type]
        evaluation=Evaluation(
            icp=fit, persona=fit, engagement=10, score=score, tier=tier, status=status, reasons=("fits",)
        ),
        routing=RoutingDecision(
            rule_id="r", owner=owner, team="T", reason="next", draft=draft, first_touch_due=due
        ),
        briefing=f"Maria at Acme, event {n}.\nCall within the hour.",
    )


async def test_a_decision_lands_with_owner_score_tier_status_and_one_note(crm: Harness) -> None:
    event = routed(1)
    outcome = await crm.crm.write(event)
    assert outcome.action in (WriteAction.CREATED, WriteAction.UPDATED)
    record = await crm.record(event)
    assert record is not None
    assert (record.status, record.owner, record.score, record.tier) == (
        "qualified",
        crm.owner("ana"),
        80,
        "hot",
    )
    assert record.last_event_id == "ev-1"
    assert await crm.notes(event) == 1


async def test_a_redelivered_event_changes_nothing(crm: Harness) -> None:
    event = routed(1)
    await crm.crm.write(event)
    before = await crm.record(event)
    again = await crm.crm.write(event)
    assert again.action is WriteAction.UNCHANGED
    assert await crm.record(event) == before
    assert await crm.notes(event) == 1
    (batch_again,) = await crm.crm.write_many([event])
    assert isinstance(batch_again, WriteOutcome) and batch_again.action is WriteAction.UNCHANGED
    assert await crm.notes(event) == 1


async def test_a_locked_record_keeps_status_and_owner_but_gets_the_score(crm: Harness) -> None:
    first = routed(1, email="locked@acme-logistics.com")
    await crm.crm.write(first)
    await crm.lock(first)
    later = routed(2, email="locked@acme-logistics.com", status=Status.UNQUALIFIED, owner="ben", score=12,
                   tier="nurture")  # fmt: skip
    outcome = await crm.crm.write(later)
    assert outcome.action is WriteAction.LOCKED
    record = await crm.record(later)
    assert record is not None
    assert (record.status, record.owner) == ("qualified", crm.owner("ana"))
    assert (record.score, record.tier, record.last_event_id) == (12, "nurture", "ev-2")
    assert await crm.notes(later) == 2  # one briefing per event, the locked one too


async def test_a_batch_with_one_bad_record_writes_the_others(crm: Harness) -> None:
    events = [routed(n) for n in range(1, 6)]
    if crm.refused is not None:
        events[2] = crm.refused(events[2])
    results = await crm.crm.write_many(events)
    assert len(results) == len(events)
    for i, (event, result) in enumerate(zip(events, results, strict=True)):
        if i == 2 and crm.refused is not None:
            assert isinstance(result, ConnectorError), result
            record = await crm.record(event)
            assert record is None or record.last_event_id != event.event_id
            continue
        assert isinstance(result, WriteOutcome), result
        record = await crm.record(event)
        assert record is not None and record.last_event_id == event.event_id
        assert await crm.notes(event) == 1


async def test_one_note_per_event_across_batches_and_redeliveries(crm: Harness) -> None:
    firsts = [routed(n, email=f"p{n}@acme-logistics.com") for n in range(1, 11)]
    seconds = [routed(n + 100, email=f"p{n}@acme-logistics.com", event=f"ev-{n}-b") for n in range(1, 11)]
    assert all(isinstance(r, WriteOutcome) for r in await crm.crm.write_many(firsts))
    assert all(isinstance(r, WriteOutcome) for r in await crm.crm.write_many(seconds))
    again = await crm.crm.write_many([*firsts[:5]])  # a redelivery of an older batch
    assert all(isinstance(r, WriteOutcome) and r.action is WriteAction.UNCHANGED for r in again)
    for event in seconds:
        assert await crm.notes(event) == 2
        record = await crm.record(event)
        assert record is not None and record.last_event_id == event.event_id  # the newer decision stays


async def test_results_come_back_one_per_event_in_order(crm: Harness) -> None:
    events = [routed(n) for n in range(1, 31)]
    results = await crm.crm.write_many(events)
    assert [r.record_id for r in results if isinstance(r, WriteOutcome)] == [
        r.record_id for r in results if isinstance(r, WriteOutcome)
    ]
    assert len({r.record_id for r in results if isinstance(r, WriteOutcome)}) == 30
    for event, result in zip(events, results, strict=True):
        assert isinstance(result, WriteOutcome)
        record = await crm.record(event)
        assert record is not None and record.last_event_id == event.event_id


DRAFT = EmailDraft(subject="Acme and Leadflow", body="Hi Maria,\n\nWould a 20-minute call work?\n\nAna")


async def test_a_decision_with_a_draft_leaves_one_draft_for_the_owner_also_after_a_redelivery(
    crm: Harness,
) -> None:
    event = routed(1, draft=DRAFT, due=T0 + timedelta(minutes=5))
    first = await crm.crm.write(event)
    assert first.action in (WriteAction.CREATED, WriteAction.UPDATED)
    expected = [(crm.owner("ana"), DRAFT.subject, DRAFT.body)]
    assert await crm.drafts(event) == expected
    assert await crm.notes(event) == 1  # the draft is not a second briefing
    assert (await crm.crm.write(event)).action is WriteAction.UNCHANGED
    (again,) = await crm.crm.write_many([event])
    assert isinstance(again, WriteOutcome) and again.action is WriteAction.UNCHANGED
    assert await crm.drafts(event) == expected


async def test_no_draft_without_one_on_the_decision_and_one_per_event_in_a_batch(crm: Harness) -> None:
    plain = routed(1)
    await crm.crm.write(plain)
    assert await crm.drafts(plain) == []
    # A full batch with a deadline task and a draft each: more Tasks than one call of the CRM takes.
    due = T0 + timedelta(hours=1)
    events = [routed(n, draft=DRAFT, owner="ben", due=due) for n in range(2, 2 + crm.crm.max_batch)]
    assert all(isinstance(r, WriteOutcome) for r in await crm.crm.write_many(events))
    assert all(isinstance(r, WriteOutcome) for r in await crm.crm.write_many(events))
    for event in events[::7]:
        assert await crm.drafts(event) == [(crm.owner("ben"), DRAFT.subject, DRAFT.body)]
