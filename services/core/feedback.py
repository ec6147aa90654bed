"""What a person's change in the CRM means for training: an AE's correction or a lifecycle outcome.

Pure: a property (HubSpot) or field (Salesforce) name and its new value in, a (kind, label) out.
Corrections come from a "Leadflow feedback" picklist the AE sets (good lead, wrong tier, not a fit,
wrong owner); outcomes from the CRM's own lifecycle (HubSpot ``lifecyclestage`` = customer, or
``hs_lead_status`` = UNQUALIFIED; Salesforce ``IsConverted`` or a closed Lead ``Status``).
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["correction", "outcome"]

FEEDBACK_FIELDS = frozenset({"leadflow_feedback", "leadflow_feedback__c"})
CORRECTIONS = {
    "good lead": "good_lead",
    "wrong tier": "wrong_tier",
    "not a fit": "not_a_fit",
    "wrong owner": "wrong_owner",
}
# (property, value), lower-cased -> outcome label.
OUTCOMES: dict[tuple[str, str], str] = {
    ("lifecyclestage", "customer"): "won",
    ("hs_lead_status", "unqualified"): "lost",
    ("isconverted", "true"): "won",
    ("status", "closed - converted"): "won",
    ("status", "closed - not converted"): "lost",
}


def _words(value: str) -> str:
    return " ".join(value.lower().replace("_", " ").replace("-", " ").split())


def classify(prop: str, value: str | None) -> tuple[Kind, str] | None:
    """(kind, label) for a change that is feedback, None for any other change (kept unlabelled)."""
    if value is None or not value.strip():
        return None
    name = prop.strip().lower()
    if name in FEEDBACK_FIELDS:
        label = CORRECTIONS.get(_words(value))
        return ("correction", label) if label else None
    outcome = OUTCOMES.get((name, value.strip().lower()))
    return ("outcome", outcome) if outcome else None
