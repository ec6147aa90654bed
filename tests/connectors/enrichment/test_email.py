"""Email facts without the network: syntax, free-mail, disposable, role accounts, company domain."""

from __future__ import annotations

import pytest

from connectors.enrichment import Waterfall
from connectors.enrichment.email import EmailProvider, email_facts, is_corporate, is_role_account
from schemas.enrichment import EmailFacts, Enrichment
from schemas.lead import Lead


def test_a_person_at_a_company() -> None:
    assert email_facts("Maria.Lopez@Atlas-Freight.example") == EmailFacts(
        valid_syntax=True, domain="atlas-freight.example"
    )


@pytest.mark.parametrize(
    "address", ["jo@gmail.com", "jo@yahoo.es", "jo@gmx.de", "jo@orange.fr", "jo@outlook.com"]
)
def test_free_mail(address: str) -> None:
    facts = email_facts(address)
    assert facts.free_mail and not facts.disposable and facts.valid_syntax


@pytest.mark.parametrize("address", ["x@mailinator.com", "x@10minutemail.com", "x@guerrillamail.com"])
def test_disposable(address: str) -> None:
    assert email_facts(address).disposable


@pytest.mark.parametrize(
    ("local", "role"),
    [
        ("info", True),
        ("sales", True),
        ("Sales.EU", True),
        ("info-de", True),
        ("contacto", True),
        ("noreply", True),
        ("hr+jobs", True),
        ("maria.lopez", False),
        ("salesforce.admin", False),  # a person who runs Salesforce, not the sales mailbox
        ("infante", False),
    ],
)
def test_role_accounts(local: str, role: bool) -> None:
    assert is_role_account(local) is role
    assert email_facts(f"{local}@acme.example").role_account is role


@pytest.mark.parametrize("address", ["no-at-sign.example", "two@@acme.example", "x@localhost", "x@acme.test"])
def test_bad_syntax_is_a_fact_not_an_error(address: str) -> None:
    assert not email_facts(address).valid_syntax


def test_a_subdomain_of_a_listed_domain_is_classified_like_it() -> None:
    assert email_facts("x@eu.mailinator.com").disposable
    assert is_corporate("mail.acme.example") and not is_corporate("gmail.com") and not is_corporate(None)


async def test_the_provider_gives_the_company_domain_only_for_corporate_addresses() -> None:
    waterfall = Waterfall([EmailProvider()])
    corporate = await waterfall.enrich(Lead(email="ana@atlas-freight.example"))
    assert corporate.company.domain == "atlas-freight.example"
    assert corporate.provenance["company.domain"].provider == "email"
    assert corporate.provenance["company.domain"].confidence == 0.9
    free = await waterfall.enrich(Lead(email="ana@gmail.com", company="Atlas Freight"))
    assert free.email is not None and free.email.free_mail
    assert free.company.domain is None


async def test_the_lead_own_domain_outranks_the_one_in_the_address() -> None:
    lead = Lead(email="ana@agency.example", company={"domain": "atlas-freight.example"})
    enrichment = await Waterfall([EmailProvider()]).enrich(lead)
    assert enrichment.company.domain == "atlas-freight.example"
    assert enrichment.provenance["company.domain"].provider == "lead"


def test_the_cache_key_never_holds_the_address() -> None:
    key = EmailProvider().key(Lead(email="ana@atlas-freight.example"), Enrichment())
    assert key and "@" not in key and "ana" not in key
