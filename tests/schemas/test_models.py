"""The data models: leads, events, decisions and config (schemas/*.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.config import (
    Classification,
    Condition,
    IcpConfig,
    Member,
    Persona,
    Range,
    RoutingConfig,
    Rule,
    Team,
    Vertical,
)
from schemas.decision import Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.events import DeadLetter, LeadReceived, LeadRouted
from schemas.lead import Company, Lead, Person, lead_id_for
from tests.examples import EXAMPLE

AT = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)


ICP = IcpConfig(
    verticals=(
        Vertical(name="EU logistics", industries=("logistics",), employees=Range(min=50), countries=("ES",)),
    ),
    personas=(Persona(name="Ops", title_keywords=("operations",), seniority_keywords=("head",)),),
)
TEAM = Team(name="EMEA", members=(Member(id="ana", name="Ana Garcia"),))
ROUTING = RoutingConfig(
    teams=(TEAM,),
    rules=(
        Rule(id="review", when=Condition(statuses=("insufficient_info",)), queue="SDR review"),
        Rule(id="fallback", team="EMEA"),
    ),
)


def example_lead() -> Lead:
    return Lead.model_validate(EXAMPLE)


def example_evaluation() -> Evaluation:
    return Evaluation(
        icp=FitResult(status=Fit.YES, matched="EU logistics", reason="fits"),
        persona=FitResult(status=Fit.INCONCLUSIVE, reason="no job title given", missing=("title",)),
        engagement=30,
        score=75,
        tier="warm",
        status=Status.POTENTIAL,
        reasons=("Company: fits", "Person: no job title given"),
    )


# Lead: the shapes it accepts


def test_the_issue_example_lead_is_accepted_with_person_fields_lifted() -> None:
    lead = example_lead()

    assert lead.person == Person(
        first_name="Maria",
        last_name="Lopez",
        email="maria.lopez@acme-logistics.com",
        phone="+34 600 123 456",
        title="Head of Operations",
    )
    assert lead.person.name == "Maria Lopez"
    assert lead.company.name == "Acme Logistics"
    assert lead.company.employees == 150
    assert lead.source == "web"
    assert lead.activities[0].type == "page_view"
    assert lead.activities[0].at == AT
    assert lead.attributes == {}


def test_the_nested_person_form_gives_the_same_lead() -> None:
    person_keys = ("email", "first_name", "last_name", "title", "phone")
    nested = {k: v for k, v in EXAMPLE.items() if k not in person_keys}
    nested["person"] = {k: EXAMPLE[k] for k in person_keys}

    assert Lead.model_validate(nested) == example_lead()


def test_a_string_company_is_its_name() -> None:
    lead = Lead.model_validate({"email": "a@example.com", "company": "Acme"})

    assert lead.company == Company(name="Acme")


def test_unknown_top_level_keys_are_kept_in_attributes() -> None:
    lead = Lead.model_validate(
        {**EXAMPLE, "utm_campaign": "spring", "budget": 5000, "attributes": {"form": "contact"}}
    )

    assert lead.attributes == {"utm_campaign": "spring", "budget": 5000, "form": "contact"}
    assert lead.person.email == "maria.lopez@acme-logistics.com"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"phone": "+34 600 123 456"},
        {"company": {"name": "Acme"}},
        {"company": {"domain": "acme.example"}},
        {"source": "hubspot", "source_record_id": "1246978"},
    ],
)
def test_one_way_to_reach_the_lead_is_enough(body: dict[str, Any]) -> None:
    assert isinstance(Lead.model_validate(body), Lead)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"first_name": "Maria", "title": "Head of Operations"},
        {"company": {"industry": "Logistics", "employees": 150}, "message": "hi"},
    ],
)
def test_a_lead_with_no_email_phone_or_company_is_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=r"needs an email, a phone, a company .* or a source record id"):
        Lead.model_validate(body)


@pytest.mark.parametrize("email", ["not-an-email", "maria@", "@acme.example", "maria lopez@acme.example"])
def test_an_invalid_email_is_rejected(email: str) -> None:
    with pytest.raises(ValidationError, match="email"):
        Lead.model_validate({**EXAMPLE, "email": email})


# Lead: identity and id


def test_identity_is_the_lower_cased_email() -> None:
    lead = Lead.model_validate({"email": "Maria.Lopez@ACME-Logistics.com", "source_record_id": "42"})

    assert lead.identity == "maria.lopez@acme-logistics.com"


def test_identity_without_email_is_source_and_record_id() -> None:
    lead = Lead.model_validate({"phone": "+1 555 0100", "source": "hubspot", "source_record_id": "42"})

    assert lead.identity == "hubspot:42"


def test_identity_is_empty_without_email_or_record_id() -> None:
    assert Lead.model_validate({"phone": "+1 555 0100", "source": "hubspot"}).identity == ""


def test_lead_id_is_stable_and_differs_per_identity() -> None:
    first = lead_id_for("maria.lopez@acme-logistics.com")

    assert first == lead_id_for("maria.lopez@acme-logistics.com")
    assert first != lead_id_for("hubspot:42")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", first)
    assert "maria" not in first


# Round trips and immutability


def _round_trips(model: BaseModel) -> None:
    assert type(model).model_validate_json(model.model_dump_json()) == model


def test_lead_round_trips_through_json() -> None:
    lead = Lead.model_validate(
        {
            **EXAMPLE,
            "linkedin_url": "https://www.linkedin.com/in/maria-lopez",
            "consent": {"marketing": True, "contact": False},
            "source_record_id": "42",
            "utm_campaign": "spring",
            "activities": [{"type": "webinar", "at": "2026-11-20T10:15:00Z", "session": "billing 101"}],
        }
    )

    _round_trips(lead)


def test_events_round_trip_through_json() -> None:
    lead = example_lead()
    routing = RoutingDecision(rule_id="fallback", owner="ana", team="EMEA", reason="round robin")

    _round_trips(
        LeadReceived(event_id="evt-1", lead_id=lead_id_for(lead.identity), received_at=AT, lead=lead)
    )
    _round_trips(
        LeadRouted(
            event_id="evt-1",
            lead_id=lead_id_for(lead.identity),
            received_at=AT,
            decided_at=AT,
            config_version="0123456789ab",
            lead=lead,
            evaluation=example_evaluation(),
            routing=routing,
            briefing="Maria Lopez, Head of Operations at Acme Logistics",
        )
    )


@pytest.mark.parametrize(
    "dead",
    [
        DeadLetter(
            topic="leads.received",
            key="k",
            value='{"x": 1}',
            error="boom",
            consumer="qualifier",
            failed_at=AT,
        ),
        DeadLetter(
            topic="leads.routed",
            key=None,
            value="AAEC",
            encoding="base64",
            error="bad",
            consumer="writer",
            failed_at=AT,
        ),
    ],
)
def test_dead_letter_round_trips_through_json(dead: DeadLetter) -> None:
    _round_trips(dead)


@pytest.mark.parametrize("config", [ICP, ROUTING], ids=["icp", "routing"])
def test_config_models_round_trip_through_json(config: BaseModel) -> None:
    _round_trips(config)


def test_events_reject_naive_timestamps() -> None:
    with pytest.raises(ValidationError):
        LeadReceived(event_id="e", lead_id="l", received_at=datetime(2026, 1, 1), lead=example_lead())


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (example_lead(), "source", "api"),
        (example_lead().person, "email", "other@example.com"),
        (example_lead().company, "employees", 10),
        (example_evaluation(), "score", 1),
        (ICP, "verticals", ()),
        (ROUTING.rules[0], "queue", "Nurture"),
        (LeadReceived(event_id="e", lead_id="l", received_at=AT, lead=example_lead()), "lead_id", "x"),
    ],
)
def test_models_are_frozen(model: BaseModel, field: str, value: object) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        setattr(model, field, value)


# Config models


def test_range_rejects_min_above_max() -> None:
    with pytest.raises(ValidationError, match=r"min \(10\) is greater than max \(5\)"):
        Range(min=10, max=5)


def test_range_bounds_are_inclusive_and_optional() -> None:
    assert [n in Range(min=5, max=5) for n in (4, 5, 6)] == [False, True, False]
    assert 10**9 in Range(min=1)
    assert None not in Range()


def test_classification_bands_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="engagement_bands"):
        Classification(engagement_bands=(20, 50))
    assert [Classification().band(e) for e in (80, 50, 49, 20, 19, 0)] == [1, 1, 2, 2, 3, 3]


def test_the_matrix_needs_every_fit_grade() -> None:
    with pytest.raises(ValidationError, match="fit grades C"):
        Classification(matrix={"A": ("hot", "hot", "warm"), "B": ("hot", "warm", "nurture")})
    with pytest.raises(ValidationError):
        Classification(matrix={"A": ("hot", "hot", "lukewarm")})  # type: ignore[dict-item]


def test_verticals_may_only_name_known_personas() -> None:
    vertical = Vertical(name="EU", industries=("logistics",), personas=("Nobody",))
    with pytest.raises(ValidationError, match="unknown personas: Nobody"):
        IcpConfig(verticals=(vertical,), personas=ICP.personas)


def test_a_persona_needs_functions_or_keywords() -> None:
    with pytest.raises(ValidationError, match="functions or title_keywords"):
        Persona(name="Anyone")


@pytest.mark.parametrize("country", ["Spain", "E", "ESP", "E1"])
def test_country_codes_must_be_two_letters(country: str) -> None:
    with pytest.raises(ValidationError, match="pattern"):
        Vertical(name="v", countries=(country,))


def test_country_codes_are_upper_cased() -> None:
    assert Vertical(name="v", countries=("es",)).countries == ("ES",)


def test_config_models_reject_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Vertical.model_validate({"name": "v", "industry": ["logistics"]})


@pytest.mark.parametrize(
    "actions", [{"team": "EMEA", "queue": "SDR review"}, {}, {"account_owner": True, "queue": "SDR review"}]
)
def test_a_rule_needs_exactly_one_action(actions: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="exactly one of 'account_owner', 'team', 'queue', 'nurture'"):
        Rule.model_validate({"id": "r", **actions})


def test_routing_rejects_a_rule_naming_an_unknown_team() -> None:
    with pytest.raises(ValidationError, match="rule 'fallback' names unknown team 'Nobody'"):
        RoutingConfig(teams=(TEAM,), rules=(Rule(id="fallback", team="Nobody"),))


def test_routing_rejects_duplicate_rule_ids() -> None:
    with pytest.raises(ValidationError, match="rule id 'r' is used more than once"):
        RoutingConfig(
            teams=(TEAM,),
            rules=(
                Rule(id="r", when=Condition(countries=("ES",)), team="EMEA"),
                Rule(id="r", team="EMEA"),
            ),
        )


def test_routing_needs_a_catch_all_last_rule() -> None:
    with pytest.raises(ValidationError, match="last rule must be a fallback"):
        RoutingConfig(
            teams=(TEAM,),
            rules=(
                Rule(id="all", team="EMEA"),
                Rule(id="es", when=Condition(countries=("ES",)), team="EMEA"),
            ),
        )


def test_routing_team_looks_up_by_name() -> None:
    assert ROUTING.team("EMEA") == TEAM


def test_a_single_name_field_is_split_into_first_and_last() -> None:
    person = Lead.model_validate({"email": "a@b.co", "name": " Maria de la Cruz "}).person
    assert (person.first_name, person.last_name, person.name) == ("Maria", "de la Cruz", "Maria de la Cruz")
    assert Lead.model_validate({"email": "a@b.co", "name": "Cher"}).person.last_name is None


@pytest.mark.parametrize(
    "body",
    [
        {"person": [None, None]},
        {"person": "x", "email": "a@b.co"},
        {"email": "a@b.co", "x": 1, "attributes": [1]},
    ],
)
def test_wrong_shapes_are_validation_errors_not_crashes(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Lead.model_validate(body)
