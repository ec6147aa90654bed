"""Warnings on routing rules (services/rulecheck.py): pure, no files."""

from __future__ import annotations

from typing import Any

from schemas.config import Condition, Range, Rule
from services.config import load_config
from services.rulecheck import check_rules, covers
from tests.conftest import CONFIG_DIR

ICP = load_config(CONFIG_DIR).icp


def rule(id: str, **when: Any) -> Rule:
    return Rule(id=id, when=Condition(**when), queue="SDR review")


def messages(*rules: Rule) -> list[str]:
    return [message for _, message in check_rules(list(enumerate(rules)), ICP)]


def test_an_unconditional_rule_shadows_every_later_rule() -> None:
    found = check_rules(list(enumerate([rule("all"), rule("es", countries=["ES"]), rule("fallback")])), ICP)
    assert [loc for loc, _ in found] == [("rules", 1, "when"), ("rules", 2, "when")]
    assert all("taken first by rule 'all'" in m for _, m in found)


def test_a_narrower_earlier_rule_shadows_nothing() -> None:
    narrow, wide = rule("es-hot", countries=["ES"], tiers=["hot"]), rule("es", countries=["ES"])
    assert messages(narrow, wide, rule("fallback")) == []


def test_covers_needs_every_given_condition_to_be_wider() -> None:
    assert covers(Condition(countries=("ES", "PT")), Condition(countries=("ES",), tiers=("hot",)))
    assert not covers(Condition(countries=("ES",)), Condition(countries=("ES", "PT")))
    assert not covers(Condition(countries=("ES",)), Condition(tiers=("hot",)))
    assert not covers(Condition(customer=True), Condition())
    assert covers(Condition(), Condition(customer=False))


def test_an_account_owner_rule_shadows_nothing_since_it_passes_leads_on() -> None:
    owner = Rule(id="owner", account_owner=True)
    assert messages(owner, rule("fallback")) == []


def test_rules_that_can_never_match() -> None:
    found = messages(
        rule("gold", tiers=["gold"]),
        rule("typo", statuses=["qualifed"]),
        rule("qualified-nurture", statuses=["qualified"], tiers=["nurture"]),
        rule("dq-qualified", statuses=["qualified", "potential"], tiers=["disqualified"]),
        rule("insufficient-vertical", statuses=["insufficient_info"], verticals=["Mid-market logistics"]),
        rule("na-in-spain", verticals=["North America distribution"], countries=["ES"]),
        rule("fallback"),
    )
    assert len(found) == 6, found
    assert all("can never match" in m for m in found)
    assert "no lead gets tier gold" in found[0]
    assert "status qualifed does not exist" in found[1]


def test_possible_rules_get_no_warning() -> None:
    assert (
        messages(
            rule("qualified-hot", statuses=["qualified"], tiers=["hot"]),
            rule("dq", tiers=["disqualified"], statuses=["unqualified"]),
            rule("enterprise-es", verticals=["Enterprise logistics"], countries=["ES", "US"]),
            rule("fallback"),
        )
        == []
    )


def test_rules_on_different_regions_do_not_shadow_each_other() -> None:
    emea = Condition(regions=("EMEA",))
    americas = Condition(regions=("North America",))
    assert not covers(emea, americas)
    assert not covers(emea, Condition())  # a fallback takes what no region rule took
    assert covers(Condition(regions=("EMEA", "North America")), emea)


def test_ranges_and_field_paths_shadow_only_when_they_contain_the_later_rule() -> None:
    wide = Condition(employees=Range(min=50))
    assert covers(wide, Condition(employees=Range(min=200, max=500)))
    assert not covers(wide, Condition(employees=Range(max=500)))
    assert not covers(Condition(score=Range(min=80)), Condition())
    spring = Condition(field={"lead.attributes.campaign": ("spring", "summer")})
    assert covers(spring, Condition(field={"lead.attributes.campaign": "spring"}))
    assert not covers(spring, Condition(field={"lead.attributes.campaign": "autumn"}))
    assert not covers(spring, Condition())
