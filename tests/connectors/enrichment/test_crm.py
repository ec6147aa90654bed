"""Lead-to-account matching: the local CRM directory and the provider over any directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.crm.local import LocalCrm, records
from connectors.enrichment import Waterfall
from connectors.enrichment.crm import CrmProvider, LocalAccounts
from connectors.names import normalise_name
from connectors.store.engine import make_engine
from schemas.enrichment import AccountMatch
from schemas.lead import Lead
from tests.connectors.crm.contract import routed

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    await LocalCrm(engine).start()
    rows = [
        ("l1", "Atlas Freight", "ana", "qualified", 0),
        ("l2", "Atlas Freight S.L.", "luis", "potential", 60),  # newest: its owner is the account's
        ("l3", "atlas freight", None, "customer", 30),
        ("l4", "rhine-freight.example", "jonas", "qualified", 10),  # a lead that gave only a domain
        ("l5", "gmail.com", "sophie", "qualified", 5),  # someone typed a free-mail domain
        ("l6", "Atlas Freightliners", "marco", "qualified", 90),  # a different company
        ("l7", "Kühllogistik GmbH", "pieter", "potential", 20),
        ("l8", "Acme", "chloe", "qualified", 20),
    ]
    async with engine.begin() as conn:
        for lead_id, company, owner, status, minutes in rows:
            await conn.execute(
                records.insert().values(
                    lead_id=lead_id,
                    company=company,
                    company_key=normalise_name(company),  # as the local CRM writes it
                    owner=owner,
                    status=status,
                    locked=False,
                    writes=1,
                    updated_at=T0 + timedelta(minutes=minutes),
                )
            )
    yield engine
    await engine.dispose()


async def test_a_lead_the_local_crm_wrote_is_found_as_its_account(database_url: str) -> None:
    # The lookups read the record's company key, which only the local CRM's write sets.
    engine = make_engine(database_url)
    try:
        crm = LocalCrm(engine)
        await crm.start()
        by_name = routed(1, email="ana@atlas.example").model_copy(
            update={
                "lead": Lead(person={"email": "ana@atlas.example"}, company={"name": "Atlas Freight, Inc."})
            }
        )
        by_domain = routed(2, email="jo@rhine.example", owner="jonas").model_copy(
            update={
                "lead": Lead(
                    person={"email": "jo@rhine.example"}, company={"domain": "rhine-freight.example"}
                )
            }
        )
        for event in (by_name, by_domain):
            await crm.write(event)
        accounts = LocalAccounts(engine)
        found = await accounts.by_name("ATLAS FREIGHT")
        assert found is not None and (found.name, found.owner) == ("Atlas Freight, Inc.", "ana")
        found = await accounts.by_domain("Rhine-Freight.example")
        assert found is not None and (found.name, found.owner) == ("rhine-freight.example", "jonas")
    finally:
        await engine.dispose()


async def test_by_name_matches_normalised_names_exactly_newest_owner_wins(engine: AsyncEngine) -> None:
    accounts = LocalAccounts(engine)
    found = await accounts.by_name("ATLAS FREIGHT, S.L.")
    assert found == AccountMatch(
        crm="local",
        account_id="atlas freight",
        name="Atlas Freight S.L.",
        owner="luis",
        matched_by="name",
        customer=True,  # one record says so
    )
    assert await accounts.by_name("Atlas Freights") is None  # no fuzzy: a near miss is another company
    assert await accounts.by_name("") is None


@pytest.mark.parametrize(("name", "owner"), [("KÜHLLOGISTIK", "pieter"), ("Acme Corporation", "chloe")])
async def test_by_name_with_accents_and_legal_suffixes(engine: AsyncEngine, name: str, owner: str) -> None:
    found = await LocalAccounts(engine).by_name(name)
    assert found is not None and found.owner == owner and not found.customer


async def test_by_domain_finds_records_whose_company_is_the_domain(engine: AsyncEngine) -> None:
    accounts = LocalAccounts(engine)
    found = await accounts.by_domain("https://www.rhine-freight.example")
    assert found is not None and found.owner == "jonas" and found.matched_by == "domain"
    assert await accounts.by_domain("atlas-freight.example") is None  # the local CRM stores no domains


async def test_free_mail_domains_never_match_an_account(engine: AsyncEngine) -> None:
    assert await LocalAccounts(engine).by_domain("gmail.com") is None


async def test_the_provider_tries_the_domain_then_the_name(engine: AsyncEngine) -> None:
    waterfall = Waterfall([CrmProvider(LocalAccounts(engine))])
    by_domain = await waterfall.enrich(Lead(company={"name": "Rhine", "domain": "rhine-freight.example"}))
    assert by_domain.account is not None and by_domain.account.owner == "jonas"
    assert by_domain.provenance["account"].confidence == 1.0
    by_name = await waterfall.enrich(Lead(email="x@gmail.com", company={"name": "Atlas Freight"}))
    assert by_name.account is not None and by_name.account.matched_by == "name"
    assert by_name.provenance["account"].confidence == 0.9
    nothing = await waterfall.enrich(Lead(email="x@gmail.com"))
    assert nothing.account is None and nothing.calls[0].outcome == "skipped"


class Directory:
    """An in-memory AccountDirectory (HubSpot and Salesforce ones will look like this)."""

    crm = "memory"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def by_domain(self, domain: str) -> AccountMatch | None:
        self.asked.append(f"domain:{domain}")
        return None

    async def by_name(self, name: str) -> AccountMatch | None:
        self.asked.append(f"name:{name}")
        return AccountMatch(crm=self.crm, account_id="42", name=name, owner="ana", matched_by="name")


async def test_a_free_mail_domain_is_never_sent_to_the_directory() -> None:
    directory = Directory()
    waterfall = Waterfall([CrmProvider(directory)])
    await waterfall.enrich(Lead(company={"name": "Acme", "domain": "gmail.com"}))
    await waterfall.enrich(Lead(company={"name": "Acme", "domain": "acme.example"}))
    assert directory.asked == ["name:Acme", "domain:acme.example", "name:Acme"]


async def test_a_broken_database_is_an_error_not_a_crash(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")  # no tables
    try:
        enrichment = await Waterfall([CrmProvider(LocalAccounts(engine))]).enrich(Lead(company="Acme"))
    finally:
        await engine.dispose()
    assert enrichment.calls[0].outcome == "error"
