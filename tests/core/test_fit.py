"""ICP fit of the company and persona fit of the person (services/core/fit.py)."""

from __future__ import annotations

import pytest

from schemas.config import Persona, Range, Vertical
from schemas.decision import Fit
from schemas.lead import Company, Person
from services.core.fit import icp_fit, persona_fit

EU_LOGISTICS = Vertical(
    name="EU logistics",
    industries=("logistics", "freight"),
    employees=Range(min=50, max=500),
    countries=("ES", "FR"),
)
US_RETAIL = Vertical(name="US retail", industries=("retail",), employees=Range(min=100), countries=("US",))
VERTICALS = (EU_LOGISTICS, US_RETAIL)

OPS = Persona(
    name="Operations leader",
    title_keywords=("operations", "supply chain"),
    seniority_keywords=("head", "director"),
)
FOUNDER = Persona(name="Founder", title_keywords=("founder", "owner"))
PERSONAS = (OPS, FOUNDER)


def company(**overrides: object) -> Company:
    fields: dict[str, object] = {
        "name": "Acme",
        "industry": "Logistics",
        "employees": 150,
        "country": "ES",
    }
    return Company.model_validate(fields | overrides)


# ICP fit


def test_icp_yes_names_the_vertical_and_the_facts_that_fit() -> None:
    result = icp_fit(company(), VERTICALS)

    assert result.status is Fit.YES
    assert result.matched == "EU logistics"
    assert result.missing == ()
    assert "150 employees" in result.reason
    assert "logistics" in result.reason
    assert "ES" in result.reason
    assert "'EU logistics'" in result.reason


def test_icp_yes_takes_the_first_vertical_that_fits() -> None:
    wide = Vertical(name="Anything", employees=Range())

    assert icp_fit(company(), (EU_LOGISTICS, wide)).matched == "EU logistics"
    assert icp_fit(company(), (wide, EU_LOGISTICS)).matched == "Anything"


def test_a_vertical_with_empty_lists_accepts_any_industry_and_country() -> None:
    anything = Vertical(name="Anything")

    result = icp_fit(company(industry="Banking", country="JP", employees=0), (anything,))

    assert result.status is Fit.YES
    assert result.matched == "Anything"


def test_icp_no_reports_the_closest_vertical_and_what_missed() -> None:
    # EU logistics misses on size only; US retail misses on industry and country.
    result = icp_fit(company(employees=20), VERTICALS)

    assert result.status is Fit.NO
    assert result.matched is None
    assert "closest 'EU logistics'" in result.reason
    assert "20 employees is outside 50-500" in result.reason
    assert "industry" not in result.reason


def test_icp_no_lists_every_miss_of_the_closest_vertical() -> None:
    # EU logistics misses three ways; US retail two (industry, country): it is the closest.
    result = icp_fit(company(industry="Banking", employees=1000, country="DE"), VERTICALS)

    assert result.status is Fit.NO
    assert "closest 'US retail'" in result.reason
    assert "industry 'Banking' is not one of retail" in result.reason
    assert "country DE is not in US" in result.reason
    assert "employees is outside" not in result.reason


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"industry": None}, ("industry",)),
        ({"employees": None}, ("employees",)),
        ({"country": None}, ("country",)),
        ({"employees": None, "country": None}, ("employees", "country")),
        ({"industry": None, "employees": None, "country": None}, ("industry", "employees", "country")),
    ],
)
def test_icp_inconclusive_lists_the_missing_fields(
    overrides: dict[str, object], missing: tuple[str, ...]
) -> None:
    result = icp_fit(company(**overrides), VERTICALS)

    assert result.status is Fit.INCONCLUSIVE
    assert result.matched is None
    assert result.missing == missing
    assert all(field in result.reason for field in missing)


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
def test_industry_matches_whole_words_only_ignoring_case(industry: str, fits: bool) -> None:
    result = icp_fit(company(industry=industry), (EU_LOGISTICS,))

    assert (result.status is Fit.YES) is fits


@pytest.mark.parametrize(("employees", "fits"), [(49, False), (50, True), (500, True), (501, False)])
def test_employee_range_bounds_are_inclusive(employees: int, fits: bool) -> None:
    result = icp_fit(company(employees=employees), (EU_LOGISTICS,))

    assert (result.status is Fit.YES) is fits


def test_open_ended_range_has_no_upper_bound() -> None:
    result = icp_fit(company(industry="Retail", employees=1_000_000, country="US"), VERTICALS)

    assert result.status is Fit.YES
    assert result.matched == "US retail"


def test_company_country_is_compared_case_insensitively() -> None:
    assert icp_fit(company(country="es"), VERTICALS).status is Fit.YES


def test_icp_no_when_known_fields_rule_out_every_vertical_despite_a_missing_one() -> None:
    # A 3-person bakery fits no vertical whatever its country is.
    result = icp_fit(company(industry="Bakery", employees=3, country=None), VERTICALS)

    assert result.status is Fit.NO


# Persona fit


def test_persona_yes_when_function_and_seniority_are_in_the_title() -> None:
    result = persona_fit(Person(title="Head of Operations"), PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Operations leader"
    assert "Head of Operations" in result.reason
    assert "Operations leader" in result.reason


def test_persona_keywords_of_several_words_match() -> None:
    result = persona_fit(Person(title="Director, Supply-Chain"), PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Operations leader"


def test_persona_without_seniority_keywords_needs_only_the_function() -> None:
    result = persona_fit(Person(title="Co-Founder"), PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Founder"


def test_persona_no_when_in_the_function_but_too_junior() -> None:
    result = persona_fit(Person(title="Operations Analyst"), PERSONAS)

    assert result.status is Fit.NO
    assert result.matched == "Operations leader"
    assert "not senior enough" in result.reason
    assert "Operations Analyst" in result.reason


def test_persona_no_when_the_title_matches_no_persona() -> None:
    result = persona_fit(Person(title="Software Engineer"), PERSONAS)

    assert result.status is Fit.NO
    assert result.matched is None
    assert "matches no buyer persona" in result.reason
    assert result.missing == ()


@pytest.mark.parametrize("title", [None, ""])
def test_persona_inconclusive_without_a_title(title: str | None) -> None:
    result = persona_fit(Person(email="a@example.com", title=title), PERSONAS)

    assert result.status is Fit.INCONCLUSIVE
    assert result.matched is None
    assert result.missing == ("title",)


def test_persona_too_junior_for_one_persona_still_fits_a_later_one() -> None:
    # "Operations" is in the first persona's function (without its seniority words), but a
    # founder is a buyer of their own.
    result = persona_fit(Person(title="Founder & Operations"), PERSONAS)

    assert result.status is Fit.YES
    assert result.matched == "Founder"
