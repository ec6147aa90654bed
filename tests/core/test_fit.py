"""ICP fit of the company and persona fit of the person (services/core/fit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.config import IcpConfig, Persona, Range, Vertical
from schemas.decision import Fit
from schemas.enrichment import CompanyFacts, JobFunction, Seniority, TitleFacts
from schemas.lead import Person
from services.config import load_config
from services.core.fit import icp_fit, persona_fit

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"

OPS = Persona(
    name="Operations leader",
    functions=(JobFunction.OPERATIONS,),
    seniorities=(Seniority.HEAD, Seniority.DIRECTOR),
    title_keywords=("operations", "supply chain"),
    seniority_keywords=("head", "director"),
)
FOUNDER = Persona(name="Founder", title_keywords=("founder", "owner"))  # no seniorities: any level
FINANCE = Persona(
    name="Finance leader",
    functions=(JobFunction.FINANCE,),
    seniorities=(Seniority.C_LEVEL, Seniority.VP),
    title_keywords=("finance", "cfo"),
    seniority_keywords=("cfo", "vp"),
)
PERSONAS = (OPS, FOUNDER, FINANCE)

EU_LOGISTICS = Vertical(
    name="EU logistics",
    industries=("logistics", "freight"),
    employees=Range(min=50, max=500),
    countries=("ES", "FR"),
    personas=("Operations leader", "Founder"),
)
US_RETAIL = Vertical(  # names no personas: persona fit is skipped there
    name="US retail",
    industries=("retail",),
    employees=Range(min=100),
    revenue=Range(min=10_000_000, max=1_000_000_000),
    countries=("US",),
    technologies=("sap", "netsuite"),
)
ICP = IcpConfig(verticals=(EU_LOGISTICS, US_RETAIL), personas=PERSONAS)


def icp(*verticals: Vertical) -> IcpConfig:
    return IcpConfig(verticals=verticals, personas=PERSONAS)


def company(**overrides: object) -> CompanyFacts:
    fields: dict[str, object] = {"name": "Acme", "industry": "Logistics", "employees": 150, "country": "ES"}
    return CompanyFacts.model_validate(fields | overrides)


def retailer(**overrides: object) -> CompanyFacts:
    fields: dict[str, object] = {
        "name": "Shopco",
        "industry": "Retail",
        "employees": 2_000,
        "revenue": 50_000_000,
        "country": "US",
        "technologies": ("SAP", "Shopify"),
    }
    return CompanyFacts.model_validate(fields | overrides)


# ICP fit: yes


def test_icp_yes_returns_the_vertical_and_names_the_facts_that_fit() -> None:
    result, vertical = icp_fit(company(), ICP)

    assert result.status is Fit.YES
    assert result.matched == "EU logistics"
    assert vertical is EU_LOGISTICS
    assert result.missing == ()
    assert "150 employees in logistics in ES fits 'EU logistics'" in result.reason
    assert "50-500 employees" in result.reason


def test_icp_yes_takes_the_first_vertical_that_fits() -> None:
    anything = Vertical(name="Anything")

    assert icp_fit(company(), icp(EU_LOGISTICS, anything))[1] is EU_LOGISTICS
    assert icp_fit(company(), icp(anything, EU_LOGISTICS))[1] is anything


def test_a_vertical_with_empty_lists_and_open_ranges_accepts_any_company() -> None:
    result, vertical = icp_fit(
        CompanyFacts(name="Bank", industry="Banking", country="JP"), icp(Vertical(name="Any"))
    )

    assert result.status is Fit.YES
    assert vertical is not None and vertical.name == "Any"


def test_company_country_is_compared_case_insensitively() -> None:
    assert icp_fit(company(country="es"), ICP)[0].status is Fit.YES


def test_an_open_ended_range_has_no_upper_bound() -> None:
    result, vertical = icp_fit(retailer(employees=2_000_000), ICP)

    assert result.status is Fit.YES
    assert vertical is US_RETAIL


# ICP fit: industries match whole words


@pytest.mark.parametrize(
    ("industry", "fits"),
    [
        ("Logistics", True),
        ("LOGISTICS", True),
        ("Third-party logistics", True),
        ("Logistics & Freight", True),
        ("freight/logistics", True),
        ("Biologistics", False),
        ("Logisticsware", False),
        ("Freighters", False),
    ],
)
def test_industry_matches_whole_words_ignoring_case(industry: str, fits: bool) -> None:
    result, _ = icp_fit(company(industry=industry), icp(EU_LOGISTICS))

    assert (result.status is Fit.YES) is fits


# ICP fit: bounds are inclusive


@pytest.mark.parametrize(("employees", "fits"), [(49, False), (50, True), (500, True), (501, False)])
def test_employee_bounds_are_inclusive(employees: int, fits: bool) -> None:
    result, _ = icp_fit(company(employees=employees), icp(EU_LOGISTICS))

    assert (result.status is Fit.YES) is fits


@pytest.mark.parametrize(
    ("revenue", "fits"),
    [
        (9_999_999, False),
        (10_000_000, True),
        (10_000_000.0, True),
        (1_000_000_000, True),
        (1_000_000_001, False),
    ],
)
def test_revenue_bounds_are_inclusive(revenue: float, fits: bool) -> None:
    result, _ = icp_fit(retailer(revenue=revenue), icp(US_RETAIL))

    assert (result.status is Fit.YES) is fits


def test_revenue_outside_the_range_is_said_in_millions() -> None:
    result, _ = icp_fit(retailer(revenue=5_000_000), icp(US_RETAIL))

    assert result.status is Fit.NO
    assert "revenue $5M is outside the range" in result.reason


# ICP fit: technologies


def test_a_company_using_one_of_the_technologies_fits_ignoring_case() -> None:
    assert icp_fit(retailer(technologies=("NetSuite",)), icp(US_RETAIL))[0].status is Fit.YES


def test_a_company_using_none_of_the_technologies_does_not_fit() -> None:
    result, vertical = icp_fit(retailer(technologies=("Shopify", "Oracle")), icp(US_RETAIL))

    assert result.status is Fit.NO
    assert vertical is None
    assert "uses none of sap, netsuite" in result.reason


def test_unknown_technologies_are_not_held_against_the_company() -> None:
    # Technologies are rarely known; an empty list is "unknown", not "uses none".
    result, _ = icp_fit(retailer(technologies=()), icp(US_RETAIL))

    assert result.status is Fit.YES
    assert result.missing == ()


# ICP fit: no


def test_icp_no_reports_the_closest_vertical_and_what_missed() -> None:
    # EU logistics misses on size only; US retail on industry, size and country.
    result, vertical = icp_fit(company(employees=20), ICP)

    assert result.status is Fit.NO
    assert vertical is None
    assert result.matched is None
    assert "closest 'EU logistics'" in result.reason
    assert "20 employees is outside 50-500" in result.reason
    assert "industry" not in result.reason


def test_icp_no_lists_every_miss_of_the_closest_vertical() -> None:
    # EU logistics misses three ways; US retail two (industry, country): it is the closest.
    result, _ = icp_fit(company(industry="Banking", employees=1000, country="DE"), ICP)

    assert result.status is Fit.NO
    assert "closest 'US retail'" in result.reason
    assert "industry 'Banking' is not one of retail" in result.reason
    assert "country DE is not in US" in result.reason
    assert "employees is outside" not in result.reason


def test_icp_no_when_known_facts_rule_out_every_vertical_despite_a_missing_one() -> None:
    # A 3-person bakery fits no vertical whatever its country is.
    result, _ = icp_fit(company(industry="Bakery", employees=3, country=None), ICP)

    assert result.status is Fit.NO
    assert result.missing == ()


# ICP fit: inconclusive


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"industry": None}, ("industry",)),
        ({"employees": None}, ("employees",)),
        ({"country": None}, ("country",)),
        ({"employees": None, "country": None}, ("employees", "country")),
    ],
)
def test_icp_inconclusive_lists_the_missing_fields(
    overrides: dict[str, object], missing: tuple[str, ...]
) -> None:
    result, vertical = icp_fit(company(**overrides), icp(EU_LOGISTICS))

    assert result.status is Fit.INCONCLUSIVE
    assert vertical is None
    assert result.matched is None
    assert result.missing == missing
    assert all(field in result.reason for field in missing)
    assert "'EU logistics'" in result.reason


def test_icp_inconclusive_on_a_bare_name_lists_every_field_the_verticals_need() -> None:
    result, _ = icp_fit(CompanyFacts(name="Acme"), ICP)

    assert result.status is Fit.INCONCLUSIVE
    assert result.missing == ("industry", "employees", "country")
    assert "could fit 'EU logistics', 'US retail'" in result.reason


def test_unknown_revenue_is_not_held_against_the_company() -> None:
    # Like technologies, revenue counts when known: few leads state it.
    result, vertical = icp_fit(retailer(revenue=None), ICP)

    assert result.status is Fit.YES
    assert vertical is US_RETAIL


# ICP fit on the demo config


def test_the_issue_example_company_fits_mid_market_logistics() -> None:
    config = load_config(CONFIG_DIR).icp

    result, vertical = icp_fit(company(name="Acme Logistics"), config)

    assert result.status is Fit.YES
    assert vertical is not None and vertical.name == "Mid-market logistics"
    assert "150 employees in logistics in ES fits 'Mid-market logistics'" in result.reason


@pytest.mark.parametrize(
    ("facts", "vertical"),
    [
        ({"industry": "Freight", "employees": 501, "country": "FR"}, "Enterprise logistics"),
        ({"industry": "Trucking", "employees": 5_000, "country": "US"}, "Enterprise logistics"),
        (
            {"industry": "Wholesale", "employees": 100, "revenue": 10_000_000, "country": "CA"},
            "North America distribution",
        ),
    ],
)
def test_each_demo_vertical_is_reachable(facts: dict[str, object], vertical: str) -> None:
    result, _ = icp_fit(CompanyFacts.model_validate(facts), load_config(CONFIG_DIR).icp)

    assert result.status is Fit.YES
    assert result.matched == vertical


# Persona fit: from TitleFacts


def test_persona_yes_from_title_facts_whatever_the_language() -> None:
    facts = TitleFacts(seniority=Seniority.DIRECTOR, function=JobFunction.OPERATIONS)

    result = persona_fit(Person(title="Directora de Operaciones"), facts, PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Operations leader"
    assert "'Directora de Operaciones' matches persona 'Operations leader'" in result.reason


def test_persona_no_when_title_facts_put_the_person_below_the_persona() -> None:
    facts = TitleFacts(seniority=Seniority.INDIVIDUAL, function=JobFunction.OPERATIONS)

    result = persona_fit(Person(title="Analista de Operaciones"), facts, PERSONAS)

    assert result.status is Fit.NO
    assert result.matched == "Operations leader"
    assert "in Operations leader's function but not senior enough" in result.reason


def test_title_facts_in_another_function_match_no_persona() -> None:
    facts = TitleFacts(seniority=Seniority.DIRECTOR, function=JobFunction.MARKETING)

    result = persona_fit(Person(title="Directeur marketing"), facts, PERSONAS)

    assert result.status is Fit.NO
    assert result.matched is None
    assert "matches no buyer persona" in result.reason


# Persona fit: keyword fallback without facts


@pytest.mark.parametrize(
    "title", ["Head of Operations", "Director, Supply-Chain", "OPERATIONS DIRECTOR", "head of supply chain"]
)
def test_persona_yes_from_title_keywords_without_facts(title: str) -> None:
    result = persona_fit(Person(title=title), None, PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Operations leader"


def test_keywords_still_count_when_facts_cannot_classify_the_title() -> None:
    result = persona_fit(Person(title="Head of Operations"), TitleFacts(), PERSONAS)

    assert result.status is Fit.YES


def test_persona_no_when_in_the_function_but_too_junior_by_keywords() -> None:
    result = persona_fit(Person(title="Operations Analyst"), None, PERSONAS)

    assert result.status is Fit.NO
    assert result.matched == "Operations leader"
    assert "not senior enough" in result.reason


def test_a_persona_without_seniorities_takes_any_level() -> None:
    result = persona_fit(Person(title="Co-Founder"), TitleFacts(seniority=Seniority.INDIVIDUAL), PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Founder"


def test_keyword_fallback_works_for_a_persona_without_seniority_keywords() -> None:
    owner = Persona(
        name="Founder or owner",
        functions=(JobFunction.EXECUTIVE,),
        seniorities=(Seniority.C_LEVEL,),
        title_keywords=("founder", "ceo"),
    )

    assert persona_fit(Person(title="CEO"), None, (owner,)).status is Fit.YES


def test_a_title_too_junior_for_one_persona_fits_another() -> None:
    # In the first persona's function without its seniority, but a founder buys on their own.
    facts = TitleFacts(seniority=Seniority.INDIVIDUAL, function=JobFunction.OPERATIONS)

    result = persona_fit(Person(title="Operations Analyst & Founder"), facts, PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Founder"


def test_the_first_fitting_persona_is_named() -> None:
    result = persona_fit(Person(title="Head of Operations and Founder"), None, PERSONAS)

    assert result.matched == "Operations leader"


def test_persona_no_when_the_title_matches_no_persona() -> None:
    result = persona_fit(Person(title="Software Engineer"), None, PERSONAS)

    assert result.status is Fit.NO
    assert result.matched is None
    assert result.missing == ()
    assert "'Software Engineer' matches no buyer persona" in result.reason


@pytest.mark.parametrize("title", [None, ""])
def test_persona_inconclusive_without_a_title(title: str | None) -> None:
    result = persona_fit(Person(email="a@example.com", title=title), None, PERSONAS)

    assert result.status is Fit.INCONCLUSIVE
    assert result.matched is None
    assert result.missing == ("title",)
    assert result.reason == "no job title given"


# Persona fit: the vertical's personas


def test_persona_fit_is_skipped_when_the_vertical_names_no_personas() -> None:
    result = persona_fit(Person(title="Software Engineer"), None, ICP.personas_for(US_RETAIL), US_RETAIL)

    assert result.status is Fit.INCONCLUSIVE
    assert result.skipped
    assert result.missing == ()
    assert "skipped" in result.reason
    assert "'US retail' names no personas" in result.reason


def test_persona_fit_is_skipped_even_without_a_title() -> None:
    result = persona_fit(Person(email="a@example.com"), None, ICP.personas_for(US_RETAIL), US_RETAIL)

    assert result.skipped
    assert result.missing == ()


def test_only_the_vertical_s_personas_are_tried() -> None:
    cfo = Person(title="CFO")

    assert [p.name for p in ICP.personas_for(EU_LOGISTICS)] == ["Operations leader", "Founder"]
    assert persona_fit(cfo, None, ICP.personas_for(EU_LOGISTICS), EU_LOGISTICS).status is Fit.NO
    assert persona_fit(cfo, None, ICP.personas_for(None)).matched == "Finance leader"


def test_without_a_vertical_every_persona_is_tried() -> None:
    assert ICP.personas_for(None) == PERSONAS
    assert ICP.personas_for(US_RETAIL) == PERSONAS  # skipped anyway, but never an empty tuple
