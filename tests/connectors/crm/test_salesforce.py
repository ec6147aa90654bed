"""The Salesforce connector through simple-salesforce against the TLS fake: the contract the other
CRMs keep (one write per event, redelivery unchanged, a lock respected, one briefing per event,
per-record failures), Salesforce's own rules (Sforce-Auto-Assign, Sforce-Limit-Info, error shapes,
session renewal), faults through the Guard, and reading (paging, accounts, users, forget)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from connectors.crm import WriteAction, WriteOutcome, draft_event_id
from connectors.crm.reader import Selection
from connectors.crm.resilience import BreakerState
from connectors.errors import ConnectorError, CrmUnavailable, FatalConnectorError, RetriableConnectorError
from schemas.crm import CrmLimits, SalesforceCrm
from schemas.decision import EmailDraft, Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.events import LeadRouted
from schemas.lead import Lead
from tests.connectors.crm.salesforce_fixture import TEST_LIMITS, USERS, SalesforceHarness, salesforce_harness
from tests.fakes.salesforce import VERSION, FakeSalesforce

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def routed(
    n: int,
    *,
    lead: int | None = None,
    tier: str = "hot",
    owner: str | None = "ana.garcia",
    queue: str | None = None,
    sf_id: str | None = None,
    due: datetime | None = None,
) -> LeadRouted:
    fit = FitResult(status=Fit.YES, reason="fits")
    k = n if lead is None else lead
    person = {"email": f"p{k}@example.com", "first_name": "Pat", "last_name": f"Doe{k}"}
    source = {"source": "salesforce", "source_record_id": sf_id} if sf_id else {"source": "web"}
    return LeadRouted(
        event_id=f"ev-{n}",
        lead_id=f"lead-{k}",
        received_at=T0 + timedelta(minutes=n),
        decided_at=T0 + timedelta(minutes=n, seconds=1),
        config_version="cfg1",
        lead=Lead.model_validate({"person": person, "company": {"name": f"Acme {k}"}, **source}),
        evaluation=Evaluation(
            icp=fit,
            persona=fit,
            engagement=40,
            score=80 if tier == "hot" else 50,
            tier=tier,
            status=Status.QUALIFIED,
            reasons=("Company fits", "Person fits"),
        ),
        routing=RoutingDecision(rule_id="r", owner=owner, queue=queue, reason="next", first_touch_due=due),
        briefing=f"Briefing for lead {k}, event {n}",
    )


def outcome(result: object) -> WriteOutcome:
    assert isinstance(result, WriteOutcome), result
    return result


async def test_a_new_lead_is_upserted_with_owner_fields_and_one_briefing_task() -> None:
    async with salesforce_harness() as h:
        due = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
        result = await h.crm.write(routed(1, due=due))
        assert result.action is WriteAction.CREATED
        lead = h.lead_for("lead-1")
        assert lead is not None and result.record_id == lead["Id"]
        assert (lead["Leadflow_Score__c"], lead["Leadflow_Tier__c"], lead["Leadflow_Status__c"]) == (
            80,
            "hot",
            "qualified",
        )
        assert lead["Leadflow_Reasons__c"] == "Company fits\nPerson fits"
        assert lead["Leadflow_Last_Event_Id__c"] == "ev-1" and lead["Leadflow_Config_Version__c"] == "cfg1"
        assert (lead["LastName"], lead["Company"], lead["Email"]) == ("Doe1", "Acme 1", "p1@example.com")
        # Matched to the active User by email local part, and assignment rules did not undo it.
        assert lead["OwnerId"] == USERS["ana.garcia"]
        assert [c.auto_assign_false for c in h.fake.owner_changes] == [True]
        [task] = h.fake.tasks_for(lead["Id"])
        assert task["Leadflow_Event_Id__c"] == "ev-1"
        assert task["Description"] == "Briefing for lead 1, event 1"
        assert task["ActivityDate"] == "2026-11-21" and task["OwnerId"] == USERS["ana.garcia"]
        assert task["Subject"].startswith("Leadflow briefing: hot")


async def test_a_batch_costs_three_calls_and_a_redelivery_changes_nothing() -> None:
    async with salesforce_harness() as h:
        batch = [routed(n) for n in range(1, 51)]
        results = await h.crm.write_many(batch)
        assert all(outcome(r).action is WriteAction.CREATED for r in results)
        users_query = 1  # the active Users, once, to match owner names (then cached)
        assert sum(h.fake.calls.values()) == 3 + users_query
        before = sum(h.fake.calls.values())
        again = await h.crm.write_many(batch)
        assert {outcome(r).action for r in again} == {WriteAction.UNCHANGED}
        assert sum(h.fake.calls.values()) - before == 1  # only the read
        assert all(h.note_count(f"lead-{n}") == 1 for n in range(1, 51))
        assert len(h.fake.owner_changes) == 50


async def test_an_older_event_redelivered_after_a_newer_one_does_not_overwrite_it() -> None:
    async with salesforce_harness() as h:
        await h.crm.write(routed(1, lead=7, tier="warm"))
        await h.crm.write(routed(2, lead=7, tier="hot"))
        assert (await h.crm.write(routed(1, lead=7, tier="warm"))).action is WriteAction.UNCHANGED
        assert h.record("lead-7") == {
            "status": "qualified", "owner": "ana.garcia", "tier": "hot", "score": 80,
            "last_event_id": "ev-2", "locked": False,
        }  # fmt: skip
        assert h.note_count("lead-7") == 2  # one per event


async def test_a_locked_lead_keeps_its_status_and_owner_but_gets_the_score_and_briefing() -> None:
    async with salesforce_harness() as h:
        sf_id = h.fake.add(
            "Lead", LastName="Ruiz", Company="Acme", OwnerId=USERS["ben.dubois"],
            Leadflow_Status__c="potential", Leadflow_Locked__c=True,
        )  # fmt: skip
        result = await h.crm.write(routed(1, sf_id=sf_id, owner="ana.garcia"))
        assert result == WriteOutcome("salesforce", sf_id, WriteAction.LOCKED)
        lead = h.fake.objects["Lead"][sf_id]
        assert (lead["Leadflow_Status__c"], lead["OwnerId"]) == ("potential", USERS["ben.dubois"])
        assert (lead["Leadflow_Score__c"], lead["Leadflow_Tier__c"]) == (80, "hot")
        assert h.fake.owner_changes == []
        [task] = h.fake.tasks_for(sf_id)
        assert task["OwnerId"] == USERS["ben.dubois"]  # the briefing goes to whoever owns it


async def test_an_existing_salesforce_lead_is_updated_in_place_without_assignment_rules() -> None:
    async with salesforce_harness() as h:
        sf_id = h.fake.add("Lead", LastName="Ruiz", Company="Acme", Email="r@acme.example")
        result = await h.crm.write(routed(1, sf_id=sf_id, owner="ben.dubois"))
        assert result.action is WriteAction.UPDATED and result.record_id == sf_id
        assert len(h.fake.objects["Lead"]) == 1  # no second Lead
        assert h.fake.objects["Lead"][sf_id]["OwnerId"] == USERS["ben.dubois"]
        assert [(c.lead_id, c.auto_assign_false) for c in h.fake.owner_changes] == [(sf_id, True)]


async def test_a_queue_from_config_becomes_the_owner_and_an_unknown_one_leaves_it() -> None:
    config = SalesforceCrm(api_version=VERSION, queues={"SDR review": "00G000000000042AAA"})
    async with salesforce_harness(config=config) as h:
        await h.crm.write(routed(1, owner=None, queue="SDR review"))
        await h.crm.write(routed(2, owner=None, queue="Nurture"))
        assert h.lead_for("lead-1")["OwnerId"] == "00G000000000042AAA"  # type: ignore[index]
        assert h.lead_for("lead-2")["OwnerId"] == "005000000000001AAA"  # type: ignore[index]  # the API user
        # A queue cannot own a Task: it stays with the API user.
        assert h.fake.tasks_for(h.lead_for("lead-1")["Id"])[0]["OwnerId"] == "005000000000001AAA"  # type: ignore[index]


async def test_one_bad_record_fails_alone_and_the_rest_of_the_batch_is_written() -> None:
    async with salesforce_harness() as h:
        bad = h.fake.add("Lead", LastName="Bad", Company="Acme")
        h.fake.validation[bad] = (
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Tier needs a reason for p9@example.com",
        )
        gone = "00Q000000000999AAA"
        results = await h.crm.write_many([routed(1), routed(2, sf_id=bad), routed(3), routed(4, sf_id=gone)])
        assert outcome(results[0]).action is WriteAction.CREATED
        assert outcome(results[2]).action is WriteAction.CREATED
        assert isinstance(results[1], FatalConnectorError) and "FIELD_CUSTOM_VALIDATION" in str(results[1])
        assert "p9@example.com" not in str(results[1])  # Salesforce echoes values; never an email
        assert isinstance(results[3], FatalConnectorError) and "not found" in str(results[3])
        assert h.fake.tasks_for(bad) == []
        assert h.note_count("lead-1") == h.note_count("lead-3") == 1


async def test_a_returning_person_whose_lead_was_converted_gets_the_briefing_on_their_contact() -> None:
    # A person whose Lead was converted fills in a form again: same lead id, same Lead, which
    # Salesforce no longer lets anyone update (CANNOT_UPDATE_CONVERTED_LEAD), nor hang a Task on.
    # The briefing goes on the Contact the Lead became, for the Lead's owner; the Lead stays.
    async with salesforce_harness() as h:
        by_lead_id = h.fake.add("Lead", LastName="Doe2", Company="Acme 2", Leadflow_Lead_Id__c="lead-2")
        by_sf_id = h.fake.add("Lead", LastName="Doe3", Company="Acme 3", OwnerId="005000000000009AAA")
        contacts = [h.fake.convert(by_lead_id), h.fake.convert(by_sf_id)]
        before = {i: dict(h.fake.objects["Lead"][i]) for i in (by_lead_id, by_sf_id)}
        batch = [routed(1), routed(2), routed(3, sf_id=by_sf_id)]
        results = await h.crm.write_many(batch)
        assert outcome(results[0]).action is WriteAction.CREATED
        for result, contact in zip(results[1:], contacts, strict=True):
            assert outcome(result) == WriteOutcome("salesforce", contact, WriteAction.CONVERTED)
        [task] = h.fake.tasks_for(contacts[1])
        assert task["OwnerId"] == "005000000000009AAA" and task["Leadflow_Event_Id__c"] == "ev-3"
        assert len(h.fake.tasks_for(contacts[0])) == 1
        assert {i: h.fake.objects["Lead"][i] for i in before} == before  # the converted Leads untouched
        again = await h.crm.write_many(batch)  # a redelivery: nothing more
        assert [outcome(r).action for r in again] == [WriteAction.UNCHANGED] * 3
        assert [len(h.fake.tasks_for(c)) for c in contacts] == [1, 1]


async def test_a_lead_a_duplicate_rule_only_alerts_on_is_saved_and_one_it_blocks_fails_alone() -> None:
    # Salesforce's standard Lead duplicate rule is "Allow, with an alert": a person clicks past
    # the alert, but the API saves only with Sforce-Duplicate-Rule-Header allowSave=true.
    async with salesforce_harness(FakeSalesforce(duplicate_rule="alert")) as h:
        h.fake.add("Lead", LastName="Doe1", Company="Acme 1", Email="p1@example.com")  # a list import
        assert outcome(await h.crm.write(routed(1))).action is WriteAction.CREATED
        assert h.note_count("lead-1") == 1
        assert outcome(await h.crm.write(routed(2, lead=1))).action is WriteAction.UPDATED
    async with salesforce_harness(FakeSalesforce(duplicate_rule="block")) as h:
        h.fake.add("Lead", LastName="Doe1", Company="Acme 1", Email="p1@example.com")
        blocked, written = await h.crm.write_many([routed(1), routed(2)])
        assert isinstance(blocked, FatalConnectorError) and "DUPLICATES_DETECTED" in str(blocked)
        assert outcome(written).action is WriteAction.CREATED


async def test_a_name_or_title_longer_than_the_lead_field_is_cut_to_fit_instead_of_failing() -> None:
    # Leadflow takes a 300-character title (LinkedIn titles run long); Lead.Title holds 128 and the
    # REST API refuses a longer value (STRING_TOO_LONG) rather than truncating it.
    title = "Head of Revenue Operations | Sales Enablement | GTM Systems | " * 3
    event = routed(1)
    person = event.lead.person.model_copy(update={"title": title, "first_name": "Maria Fernanda " * 4})
    event = event.model_copy(update={"lead": event.lead.model_copy(update={"person": person})})
    async with salesforce_harness() as h:
        assert outcome(await h.crm.write(event)).action is WriteAction.CREATED
        lead = h.lead_for("lead-1")
        assert lead is not None
        assert lead["Title"] == title[:128] and lead["FirstName"] == person.first_name[:40]  # type: ignore[index]


async def test_a_lead_merged_since_its_outbound_message_is_written_on_the_surviving_lead() -> None:
    async with salesforce_harness() as h:
        sent = h.fake.add("Lead", LastName="Doe1", Company="Acme 1", Email="p1@example.com")
        survivor = h.fake.add("Lead", LastName="Doe", Company="Acme", Email="pat@example.com")
        h.fake.merge(survivor, sent)  # a rep merges the duplicates before the write-back
        written = outcome(await h.crm.write(routed(1, sf_id=sent)))
        assert (written.record_id, written.action) == (survivor, WriteAction.UPDATED)
        lead = h.fake.objects["Lead"][survivor]
        assert (lead["Leadflow_Last_Event_Id__c"], lead["OwnerId"]) == ("ev-1", USERS["ana.garcia"])
        assert len(h.fake.tasks_for(survivor)) == 1
        assert outcome(await h.crm.write(routed(1, sf_id=sent))).action is WriteAction.UNCHANGED


async def test_a_field_missing_in_the_org_is_fatal_for_the_event() -> None:
    config = SalesforceCrm(api_version=VERSION, fields={"score": "Leadflow_Scoring__c"})
    async with salesforce_harness(config=config) as h:
        [result] = await h.crm.write_many([routed(1)])
        assert isinstance(result, FatalConnectorError) and "INVALID_FIELD" in str(result)
        assert h.fake.objects["Task"] == {}


async def test_a_lost_answer_on_the_task_write_never_makes_a_second_task() -> None:
    async with salesforce_harness() as h:
        await h.crm.write(routed(1))
        h.fake.fail("lost")  # the next call (the read) is done, then answered too late
        h.fake.delay = 1.5
        await h.crm.write(routed(2, lead=1))
        assert h.note_count("lead-1") == 2
        # The Task upsert done but its answer lost: the retry upserts onto the same Task.
        h.fake.faults = ["ok", "ok", "lost"]
        await h.crm.write(routed(3, lead=1))
        assert h.note_count("lead-1") == 3
        assert sorted(t["Leadflow_Event_Id__c"] for t in h.fake.objects["Task"].values()) == [
            "ev-1",
            "ev-2",
            "ev-3",
        ]


async def test_a_crash_between_the_lead_and_its_task_is_finished_on_redelivery() -> None:
    async with salesforce_harness() as h:
        h.fake.faults = ["ok", "ok"] + [
            "error"
        ] * 3  # read, leads, then the Task fails until the breaker opens
        with pytest.raises(CrmUnavailable):
            await h.crm.write_many([routed(1, owner=USERS["ana.garcia"])])
        assert h.record("lead-1")["last_event_id"] == "ev-1" and h.note_count("lead-1") == 0  # type: ignore[index]
        await asyncio.sleep(0.35)  # the breaker (3 failures) lets a probe through
        changes = len(h.fake.owner_changes)
        again = await h.crm.write(routed(1, owner=USERS["ana.garcia"]))
        assert again.action is WriteAction.UPDATED
        assert h.note_count("lead-1") == 1
        assert len(h.fake.owner_changes) == changes  # the Lead was not written again


async def test_5xx_and_timeouts_are_retried() -> None:
    async with salesforce_harness() as h:
        h.fake.fail("error", 2)
        assert (await h.crm.write(routed(1))).action is WriteAction.CREATED
        h.fake.fail("slow")
        h.fake.delay = 1.5  # over the 1 s client timeout
        assert (await h.crm.write(routed(2))).action is WriteAction.CREATED
        h.fake.fail("concurrent")  # too many long requests at once: throttled, then retried
        assert (await h.crm.write(routed(3))).action is WriteAction.CREATED
        assert all(h.note_count(f"lead-{n}") == 1 for n in (1, 2, 3))


async def test_the_org_limit_info_feeds_the_daily_budget() -> None:
    async with salesforce_harness(FakeSalesforce(daily_limit=5000, api_used=1200)) as h:
        await h.crm.write(routed(1))
        assert h.guard.daily.limit == 5000
        assert h.guard.daily.used == h.fake.api_used == 1204  # read, users, leads, tasks


async def test_a_daily_cap_counts_leadflows_own_calls_not_the_whole_orgs() -> None:
    # crm.yaml's `daily` caps what Leadflow itself may use; Sforce-Limit-Info counts every
    # integration of the org. Other integrations' 50,000 calls must not spend Leadflow's 1,000.
    capped = SalesforceCrm(api_version=VERSION, limits=CrmLimits(daily=1000))
    limits = dataclasses.replace(TEST_LIMITS, daily=1000)
    async with salesforce_harness(FakeSalesforce(api_used=50_000), limits=limits, config=capped) as h:
        assert outcome(await h.crm.write(routed(1))).action is WriteAction.CREATED
        assert outcome(await h.crm.write(routed(2))).action is WriteAction.CREATED
        assert h.guard.daily.used == sum(h.fake.calls.values()) == 7  # read, users once, leads, tasks
    # ... and the org's own allowance, when it is nearly spent, still stops Leadflow first.
    async with salesforce_harness(
        FakeSalesforce(daily_limit=100_000, api_used=99_996), limits=limits, config=capped
    ) as h:
        await h.crm.write(routed(1))  # the org's last 4 calls
        calls = sum(h.fake.calls.values())
        with pytest.raises(CrmUnavailable, match="daily API budget"):
            await h.crm.write(routed(2))
        assert sum(h.fake.calls.values()) == calls


async def test_a_request_limit_stretch_loses_nothing() -> None:
    """403 REQUEST_LIMIT_EXCEEDED is CrmUnavailable: the writer waits and retries the batch."""
    async with salesforce_harness() as h:
        h.fake.fail("limit", 5)
        batch = [routed(n) for n in range(1, 21)]
        waits = 0
        while True:
            try:
                results = await h.crm.write_many(batch)
                break
            except CrmUnavailable as exc:
                assert "REQUEST_LIMIT_EXCEEDED" in str(exc)
                waits += 1
                await asyncio.sleep(exc.retry_after)
        assert waits == 5
        assert all(isinstance(r, WriteOutcome) for r in results)
        assert all(h.note_count(f"lead-{n}") == 1 for n in range(1, 21))


async def test_a_spent_daily_budget_stops_calls_before_they_are_made() -> None:
    async with salesforce_harness(FakeSalesforce(daily_limit=3, api_used=0)) as h:
        await h.crm.write(routed(1, owner=USERS["ana.garcia"]))  # read, leads, tasks: 3 of 3
        calls = sum(h.fake.calls.values())
        with pytest.raises(CrmUnavailable, match="daily API budget"):
            await h.crm.write(routed(2))
        assert sum(h.fake.calls.values()) == calls


async def test_when_salesforce_is_down_the_breaker_opens_then_the_backlog_drains() -> None:
    async with salesforce_harness() as h:
        h.fake.down = True
        with pytest.raises(RetriableConnectorError):
            await h.crm.write(routed(1))
        assert h.guard.breaker.state is BreakerState.OPEN
        calls = sum(h.fake.calls.values())
        with pytest.raises(CrmUnavailable, match="circuit open"):
            await h.crm.write(routed(1))
        assert sum(h.fake.calls.values()) == calls  # not even tried
        h.fake.down = False
        backlog = [routed(n) for n in range(1, 31)]
        for _ in range(50):
            try:
                results = await h.crm.write_many(backlog)
                break
            except CrmUnavailable as exc:
                await asyncio.sleep(exc.retry_after)
        assert h.guard.breaker.state is BreakerState.CLOSED
        assert all(isinstance(r, WriteOutcome) for r in results)
        assert all(h.note_count(f"lead-{n}") == 1 for n in range(1, 31))


async def test_an_expired_session_is_renewed_once_with_username_and_password() -> None:
    fake = FakeSalesforce()
    logins: list[str] = []

    def login() -> tuple[str, str]:
        logins.append("login")
        return fake.issue_token(), fake.url

    async with salesforce_harness(fake, login=login) as h:
        await h.crm.write(routed(1))
        h.fake.expire_sessions()
        assert (await h.crm.write(routed(2))).action is WriteAction.CREATED
        assert logins == ["login"]


async def test_a_refused_or_unreachable_login_on_renewal_comes_out_as_the_connector_tree() -> None:
    # What simple-salesforce's SalesforceLogin raises when the password was changed or the user
    # frozen (a SOAP fault), or when login.salesforce.com cannot be reached.
    fake = FakeSalesforce()
    failure: list[Exception] = []

    def login() -> tuple[str, str]:
        raise failure[0]

    async with salesforce_harness(fake, login=login) as h:
        await h.crm.write(routed(1))
        h.fake.expire_sessions()
        failure.append(SalesforceAuthenticationFailed("INVALID_LOGIN", "Invalid username, password"))
        with pytest.raises(CrmUnavailable, match="INVALID_LOGIN"):
            await h.crm.write(routed(2))
        failure[0] = requests.ConnectionError("login.salesforce.com unreachable")
        with pytest.raises(RetriableConnectorError):
            await h.crm.write(routed(2))


async def test_an_expired_token_without_a_login_waits_instead_of_dead_lettering() -> None:
    async with salesforce_harness() as h:
        h.fake.expire_sessions()
        with pytest.raises(CrmUnavailable, match="INVALID_SESSION_ID"):
            await h.crm.write(routed(1))


# -- reading ---------------------------------------------------------------------------------------


LEAD = {
    "FirstName": "Lee",
    "Company": "Acme",
    "Website": "https://www.acme.example/about",
    "NumberOfEmployees": 120,
    "Country": "ES",
}


def _leads(h: SalesforceHarness, n: int) -> list[str]:
    return [
        h.fake.add(
            "Lead",
            FirstName="Lee",
            LastName=f"L{i}",
            Email=f"lee{i}@acme.example",
            Company="Acme",
            Website="https://www.acme.example/about",
            NumberOfEmployees=120,
            Country="ES",
            Leadflow_Locked__c=i == 2,
        )
        for i in range(n)
    ]


async def test_records_are_read_page_by_page_following_next_records_url() -> None:
    async with salesforce_harness(FakeSalesforce(query_batch=2)) as h:
        ids = _leads(h, 5)
        h.fake.add("Lead", LastName="Converted", Company="X", IsConverted=True)
        pages = [page async for page in h.crm.records(Selection(), page_size=2)]
        assert [len(p) for p in pages] == [2, 2, 1]
        assert h.fake.calls["GET query"] == 3  # one query, two nextRecordsUrl pages
        records = [r for p in pages for r in p]
        assert [r.record_id for r in records] == ids
        first = records[0]
        assert (first.lead.source, first.lead.source_record_id) == ("salesforce", ids[0])
        assert (first.lead.company.domain, first.lead.company.employees) == ("acme.example", 120)
        assert [r.locked for r in records] == [False, False, True, False, False]


async def test_records_by_ids_query_and_since() -> None:
    async with salesforce_harness() as h:
        ids = _leads(h, 4)
        by_ids = [r.record_id async for p in h.crm.records(Selection(ids=ids[1:3])) for r in p]
        assert by_ids == ids[1:3]
        by_query = [
            r.record_id async for p in h.crm.records(Selection(query="LastName IN ('L0', 'L3')")) for r in p
        ]
        assert by_query == [ids[0], ids[3]]
        h.fake.objects["Lead"][ids[1]]["LastModifiedDate"] = "2020-01-01T00:00:00.000+0000"
        since = datetime(2024, 1, 1, tzinfo=UTC)
        assert ids[1] not in [r.record_id async for p in h.crm.records(Selection(since=since)) for r in p]


async def test_a_bad_query_expression_is_fatal() -> None:
    async with salesforce_harness() as h:
        with pytest.raises(FatalConnectorError, match="INVALID_FIELD"):
            [p async for p in h.crm.records(Selection(query="Nope__c = 1"))]


async def test_accounts_owners_icp_write_and_forget() -> None:
    async with salesforce_harness() as h:
        account = h.fake.add(
            "Account", Name="Acme", Website="acme.example", Industry="Logistics", NumberOfEmployees=150,
            BillingCountry="ES",
        )  # fmt: skip
        [[found]] = [page async for page in h.crm.accounts(Selection())]
        assert (found.record_id, found.domain, found.employees, found.country) == (
            account,
            "acme.example",
            150,
            "ES",
        )
        assert await h.crm.write_account_icp([(account, "yes")]) == 1
        assert h.fake.objects["Account"][account]["Leadflow_ICP_Status__c"] == "yes"
        owners = await h.crm.owners()
        assert {o.owner_id for o in owners} == set(USERS.values())
        _leads(h, 2)
        assert await h.crm.forget("lee1@acme.example") == 1
        assert h.fake.find("Lead", Email="lee1@acme.example") == []
        assert len(h.fake.objects["Lead"]) == 1


async def test_an_accounts_icp_status_is_saved_past_an_alert_only_duplicate_rule() -> None:
    # Salesforce's standard Account duplicate rule also alerts on edit: two "Acme" Accounts.
    async with salesforce_harness(FakeSalesforce(duplicate_rule="alert")) as h:
        account = h.fake.add("Account", Name="Acme", Website="acme.example")
        h.fake.add("Account", Name="ACME", Website="acme.example")
        assert await h.crm.write_account_icp([(account, "yes")]) == 1
        assert h.fake.objects["Account"][account]["Leadflow_ICP_Status__c"] == "yes"


async def test_errors_come_out_as_the_connector_tree() -> None:
    async with salesforce_harness() as h:
        with pytest.raises(ConnectorError):
            await h.crm._call("bad", "GET", "sobjects/Nope/1")


async def test_a_lost_draft_task_is_written_on_the_redelivery_without_a_second_briefing() -> None:
    async with salesforce_harness() as h:
        base = routed(1)
        event = base.model_copy(
            update={
                "routing": base.routing.model_copy(update={"draft": EmailDraft(subject="Hi", body="Hello")})
            }
        )
        await h.crm.write(event)
        [draft] = h.drafts(event.lead_id)
        assert draft["Leadflow_Event_Id__c"] == draft_event_id(event.event_id)
        h.fake.delete(draft["Id"])  # as if the run stopped after the briefing Task, before the draft's
        again = await h.crm.write(event)
        assert again.action is not WriteAction.UNCHANGED
        assert len(h.drafts(event.lead_id)) == 1 and h.note_count(event.lead_id) == 1
        assert (await h.crm.write(event)).action is WriteAction.UNCHANGED
