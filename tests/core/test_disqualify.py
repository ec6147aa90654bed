"""Disqualifiers and existing customers (services/core/disqualify.py)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.config import Disqualifiers, Exclusions, IcpConfig, Persona, Vertical
from schemas.decision import Reason
from schemas.enrichment import AccountMatch, CompanyFacts, EmailFacts, Enrichment, Seniority, TitleFacts
from schemas.lead import Lead
from services.core.disqualify import disqualifiers, gibberish, is_customer
from services.core.facts import company_facts

ICP = IcpConfig(
    verticals=(Vertical(name="Anything"),),
    personas=(Persona(name="Ops", title_keywords=("operations",)),),
    exclusions=Exclusions(
        competitors=("routefleet.example", "RouteFleet", "dispatchly.example"),
        customers=("atlas-freight.example", "Nordic Haulage"),
    ),
)
DISPOSABLE = EmailFacts(valid_syntax=True, domain="mailinator.com", disposable=True)


def lead(**fields: Any) -> Lead:
    base: dict[str, Any] = {
        "first_name": "Maria",
        "last_name": "Lopez",
        "email": "maria@acme.example",
        "title": "Head of Operations",
        "company": {"name": "Acme", "domain": "acme.example"},
    }
    return Lead.model_validate(base | fields)


def found(
    subject: Lead, enrichment: Enrichment | None = None, icp: IcpConfig = ICP, **rules: Any
) -> list[Reason]:
    if rules:
        icp = icp.model_copy(update={"disqualifiers": Disqualifiers(**rules)})
    return disqualifiers(subject, enrichment, company_facts(subject, enrichment), icp)


def kinds(reasons: list[Reason]) -> list[str]:
    return [r.factor.removeprefix("disqualifier:") for r in reasons]


def with_company(**facts: Any) -> Lead:
    return lead(company=facts)


def test_an_ordinary_lead_has_no_disqualifier() -> None:
    assert found(lead()) == []


def test_every_disqualifier_is_a_negative_reason_with_a_sentence() -> None:
    spammy = lead(
        first_name="asdf",
        last_name="qwer",
        title="Student, open to work",
        consent={"contact": False},
        message=" ".join(f"http://spam{i}.example" for i in range(5)),
        company={"name": "RouteFleet"},
    )

    reasons = found(spammy, Enrichment(email=DISPOSABLE, company=CompanyFacts(name="RouteFleet")))

    assert kinds(reasons) == [
        "disposable_email",
        "do_not_contact",
        "student",
        "job_seeker",
        "spam",
        "spam",
        "competitor",
    ]
    assert all(r.direction == "negative" and r.weight == 0 and r.text for r in reasons)


# Disposable email


def test_a_disposable_email_domain_disqualifies() -> None:
    reasons = found(lead(email="x@mailinator.com"), Enrichment(email=DISPOSABLE))

    assert kinds(reasons) == ["disposable_email"]
    assert reasons[0].text == "disposable email domain (mailinator.com)"


def test_free_mail_is_not_disposable() -> None:
    free = EmailFacts(valid_syntax=True, domain="gmail.com", free_mail=True)

    assert found(lead(email="maria@gmail.com"), Enrichment(email=free)) == []


def test_disposable_email_is_judged_from_email_facts_only() -> None:
    assert found(lead(email="x@mailinator.com")) == []  # no enrichment: no facts to judge


def test_disposable_email_flag_off() -> None:
    assert found(lead(), Enrichment(email=DISPOSABLE), disposable_email=False) == []


# Do not contact


def test_a_lead_that_asked_not_to_be_contacted_is_disqualified() -> None:
    reasons = found(lead(consent={"contact": False}))

    assert kinds(reasons) == ["do_not_contact"]
    assert reasons[0].text == "asked not to be contacted"


@pytest.mark.parametrize("contact", [True, None])
def test_consent_given_or_unknown_is_no_disqualifier(contact: bool | None) -> None:
    assert found(lead(consent={"contact": contact, "marketing": False})) == []


def test_do_not_contact_flag_off() -> None:
    assert found(lead(consent={"contact": False}), do_not_contact=False) == []


# Students


def test_a_student_by_title_facts_is_disqualified_whatever_the_title() -> None:
    reasons = found(lead(title="MBA Candidate"), Enrichment(title=TitleFacts(seniority=Seniority.STUDENT)))

    assert kinds(reasons) == ["student"]
    assert reasons[0].text == "a student or intern ('MBA Candidate')"


@pytest.mark.parametrize(
    "title",
    [
        "Student",
        "Logistics student at TU Berlin",
        "Summer Intern, Operations",
        "Estudiante de logística",  # Spanish
        "Becario de operaciones",  # Spanish
        "Werkstudent Logistik",  # German
        "Praktikant Supply Chain",  # German
        "Etudiant en logistique",  # French, written without the accent
        "Étudiant en logistique",
    ],
)
def test_a_student_by_title_keywords_without_facts(title: str) -> None:
    assert kinds(found(lead(title=title))) == ["student"]


@pytest.mark.parametrize(
    "title", ["Internal Audit Manager", "International Sales Director", "Studio Manager"]
)
def test_student_keywords_match_whole_words(title: str) -> None:
    assert found(lead(title=title)) == []


def test_students_flag_off() -> None:
    student = lead(title="Student")

    assert found(student, Enrichment(title=TitleFacts(seniority=Seniority.STUDENT)), students=False) == []


# Job seekers


def test_a_job_seeker_by_title_facts() -> None:
    reasons = found(lead(title="Ex-Logistics Manager"), Enrichment(title=TitleFacts(job_seeker=True)))

    assert kinds(reasons) == ["job_seeker"]
    assert reasons[0].text == "looking for a job, not a product"


@pytest.mark.parametrize(
    "title", ["Open to work", "Seeking new opportunities", "Logistics manager | looking for a new role"]
)
def test_a_job_seeker_by_title_keywords(title: str) -> None:
    assert kinds(found(lead(title=title))) == ["job_seeker"]


def test_job_seekers_flag_off() -> None:
    assert found(lead(title="Open to work"), job_seekers=False) == []


# Gibberish names (form spam)


@pytest.mark.parametrize(
    "name",
    ["asdf qwer", "Xkcdtrvbnm", "Aaaaa", "J0hn", "Test Test", "zxcv", "Bcdfgh", "12345", "{{7*7}}"],
)
def test_made_up_names_are_gibberish(name: str) -> None:
    assert gibberish(name)


@pytest.mark.parametrize(
    "name",
    [
        "Ana García",
        "Nguyen Van Anh",
        "Nguyễn Văn Anh",
        "Björn Ågren",
        "Siobhán Ní Bhriain",
        "Anne-Marie O'Brien",
        "Li Na",
        "Ng",
        "Łukasz Wójcik",
        "Robert'); DROP TABLE leads;--",  # odd, but a name-shaped string: not judged here
        "Fritz Schneider",  # 'tz' + 'Schn' is not one run: words are judged apart
        "Ruth Schmidt",
        "Vardan Mkrtchyan",
        "Bob Strengths",
        "王伟",
        "Иван Петров",
        "Δημήτρης Παπαδόπουλος",
    ],
)
def test_real_names_are_not_gibberish(name: str) -> None:
    assert not gibberish(name)


def test_a_gibberish_name_disqualifies_as_spam() -> None:
    reasons = found(lead(first_name="asdf", last_name="qwer"))

    assert kinds(reasons) == ["spam"]
    assert reasons[0].text == "the name looks made up (form spam)"


def test_a_lead_without_a_name_is_not_spam() -> None:
    assert found(lead(first_name=None, last_name=None)) == []


def test_gibberish_names_flag_off() -> None:
    assert found(lead(first_name="Xkcdtrvbnm", last_name=None), gibberish_names=False) == []


# Link stuffing


def links(count: int) -> str:
    return "Check " + " ".join(f"http://site{i}.example/p" for i in range(count))


def test_more_links_than_the_maximum_is_link_stuffing() -> None:
    reasons = found(lead(message=links(4)))

    assert kinds(reasons) == ["spam"]
    assert reasons[0].text == "the message carries 4 links (link stuffing)"


def test_up_to_the_maximum_links_is_fine() -> None:
    assert found(lead(message=links(3))) == []


def test_www_links_count_too() -> None:
    message = "see www.a.example www.b.example www.c.example WWW.d.example"

    assert kinds(found(lead(message=message))) == ["spam"]


@pytest.mark.parametrize(("maximum", "count", "spam"), [(0, 1, True), (0, 0, False), (10, 10, False)])
def test_the_maximum_comes_from_the_config(maximum: int, count: int, spam: bool) -> None:
    assert bool(found(lead(message=links(count)), max_links_in_message=maximum)) is spam


def test_a_link_with_scheme_and_www_counts_once() -> None:
    message = "Our site https://www.acme.example and my profile https://www.linkedin.com/in/maria"

    assert found(lead(message=message)) == []


# Competitors


@pytest.mark.parametrize(
    ("facts", "entry"),
    [
        ({"domain": "routefleet.example"}, "routefleet.example"),
        ({"domain": "ROUTEFLEET.example"}, "routefleet.example"),
        ({"domain": "www.routefleet.example"}, "routefleet.example"),
        ({"domain": "eu.dispatchly.example"}, "dispatchly.example"),
        ({"name": "RouteFleet"}, "routefleet"),
        ({"name": "routefleet"}, "routefleet"),
        ({"name": "Acme", "domain": "dispatchly.example"}, "dispatchly.example"),
    ],
)
def test_a_competitor_by_domain_subdomain_or_exact_name(facts: dict[str, str], entry: str) -> None:
    reasons = found(with_company(**facts))

    assert kinds(reasons) == ["competitor"]
    assert reasons[0].text == f"works for a competitor ({entry})"


@pytest.mark.parametrize(
    "facts",
    [
        {"domain": "notroutefleet.example"},  # not a subdomain
        {"domain": "routefleet.example.org"},
        {"name": "RouteFleet Logistics"},  # names match whole, not by a word in them
        {"name": "Acme", "domain": "acme.example"},
    ],
)
def test_only_the_competitor_itself_matches(facts: dict[str, str]) -> None:
    assert found(with_company(**facts)) == []


def test_a_competitor_is_found_from_the_enriched_company_even_on_gmail() -> None:
    enrichment = Enrichment(
        email=EmailFacts(valid_syntax=True, domain="gmail.com", free_mail=True),
        company=CompanyFacts(name="RouteFleet"),
    )

    assert kinds(found(lead(email="spy@gmail.com", company={"name": "RouteFleet"}), enrichment)) == [
        "competitor"
    ]


def test_competitors_flag_off() -> None:
    assert found(with_company(domain="routefleet.example"), competitors=False) == []


# Existing customers


def customer(subject: Lead, enrichment: Enrichment | None = None) -> bool:
    return is_customer(company_facts(subject, enrichment), enrichment, ICP)


@pytest.mark.parametrize(
    "facts",
    [
        {"domain": "atlas-freight.example"},
        {"domain": "es.atlas-freight.example"},
        {"name": "Nordic Haulage"},
        {"name": "NORDIC  haulage"},
    ],
)
def test_a_customer_from_the_exclusions_by_domain_or_name(facts: dict[str, str]) -> None:
    assert customer(with_company(**facts))


def test_a_customer_from_the_crm_account() -> None:
    account = AccountMatch(crm="hubspot", account_id="42", matched_by="domain", customer=True)

    assert customer(lead(), Enrichment(company=CompanyFacts(name="Acme"), account=account))


def test_a_known_account_that_is_not_a_customer() -> None:
    account = AccountMatch(crm="hubspot", account_id="42", matched_by="name", customer=False)

    assert not customer(lead(), Enrichment(company=CompanyFacts(name="Acme"), account=account))


def test_an_unknown_company_is_not_a_customer() -> None:
    assert not customer(lead())


def test_being_a_customer_is_not_a_disqualifier() -> None:
    assert found(with_company(domain="atlas-freight.example")) == []
