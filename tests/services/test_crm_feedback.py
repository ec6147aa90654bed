"""Feedback from the CRM through the intake endpoints: an AE's correction and a lifecycle outcome
become LeadFeedback on leads.feedback with a normalised kind and label; other changes stay unlabelled."""

from __future__ import annotations

import pytest

from schemas.lead import lead_id_for
from services.core.feedback import classify
from tests.services.webhooks.conftest import Hooks, hooks  # noqa: F401 - the fixture
from tests.services.webhooks.test_hubspot import change
from tests.services.webhooks.test_hubspot import post as post_hubspot
from tests.services.webhooks.test_salesforce import envelope, lead
from tests.services.webhooks.test_salesforce import post as post_salesforce


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        ("leadflow_feedback", "Good lead", ("correction", "good_lead")),
        ("Leadflow_Feedback__c", "wrong_tier", ("correction", "wrong_tier")),
        ("leadflow_feedback", "Not a fit", ("correction", "not_a_fit")),
        ("leadflow_feedback", "wrong-owner", ("correction", "wrong_owner")),
        ("leadflow_feedback", "meh", None),
        ("lifecyclestage", "customer", ("outcome", "won")),
        ("lifecyclestage", "opportunity", None),
        ("hs_lead_status", "UNQUALIFIED", ("outcome", "lost")),
        ("IsConverted", "true", ("outcome", "won")),
        ("IsConverted", "false", None),
        ("Status", "Closed - Not Converted", ("outcome", "lost")),
        ("Status", "Open - Not Contacted", None),
        ("leadflow_feedback", None, None),
    ],
)
def test_classify(prop: str, value: str | None, expected: tuple[str, str] | None) -> None:
    assert classify(prop, value) == expected


async def test_hubspot_corrections_and_outcomes_become_labelled_feedback(hooks: Hooks) -> None:  # noqa: F811
    events = [
        change(11, 501, "leadflow_feedback", "wrong tier"),
        change(12, 501, "lifecyclestage", "customer"),
        change(13, 502, "hs_lead_status", "IN_PROGRESS"),
        change(14, 502, "firstname", "Ana"),  # not a feedback property: ignored
    ]
    response = await post_hubspot(hooks, events)
    assert response.status_code == 202, response.text
    assert response.json()["ignored"] == 1
    got = {(f.object_id, f.property): (f.kind, f.label, f.value) for f in hooks.feedback()}
    assert got == {
        ("501", "leadflow_feedback"): ("correction", "wrong_tier", "wrong tier"),
        ("501", "lifecyclestage"): ("outcome", "won", "customer"),
        ("502", "hs_lead_status"): (None, None, "IN_PROGRESS"),
    }
    assert hooks.leads() == []
    again = await post_hubspot(hooks, events)
    assert again.status_code == 200 and len(hooks.feedback()) == 3  # a redelivery publishes nothing


async def test_a_salesforce_lead_with_feedback_is_feedback_not_a_new_lead(hooks: Hooks) -> None:  # noqa: F811
    body = envelope(
        lead(1, Leadflow_Feedback__c="Not a fit"),
        lead(2, IsConverted="true", Status="Closed - Converted"),
        lead(3, Status="Open - Not Contacted"),  # a new lead
    )
    response = await post_salesforce(hooks, body)
    assert response.status_code == 200, response.text
    got = sorted((f.object_id, f.property, f.kind, f.label) for f in hooks.feedback())
    assert got == [
        ("00Q000000000000001", "Leadflow_Feedback__c", "correction", "not_a_fit"),
        ("00Q000000000000002", "IsConverted", "outcome", "won"),
        ("00Q000000000000002", "Status", "outcome", "won"),
    ]
    [new] = hooks.leads()
    assert new.lead.source_record_id == "00Q000000000000003"
    first = next(f for f in hooks.feedback() if f.object_id.endswith("1"))
    assert first.lead_id == lead_id_for("ana1@freight.example")  # keyed like the lead itself
    assert first.source == "salesforce" and first.event_id.startswith("salesforce:04l")
    again = await post_salesforce(hooks, body)
    assert again.status_code == 200 and len(hooks.feedback()) == 3
