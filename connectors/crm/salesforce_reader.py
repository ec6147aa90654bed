"""Reading a Salesforce org: Leads and Accounts page by page (SOQL + nextRecordsUrl), active Users,
an Account's ICP status written back, and forgetting a person (their Leads deleted).

A mixin of SalesforceConnector: it needs ``_run`` / ``_call`` (calls within the Guard) and the
config. Salesforce hands out 200-2000 records per query batch (``Sforce-Query-Options:
batchSize``); they are re-cut into ``page_size`` pages, so at most one batch is held at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from connectors.crm.reader import CrmAccount, CrmOwner, CrmRecord, Selection
from connectors.crm.salesforce_client import SalesforceClient, record_error
from connectors.crm.salesforce_soql import chunks, datetime_literal, in_list, quote, select
from schemas.crm import SalesforceCrm
from schemas.lead import Lead

T = TypeVar("T")

LEAD_COLUMNS = (
    "Id", "FirstName", "LastName", "Email", "Phone", "Title", "Company", "Website",
    "NumberOfEmployees", "Industry", "Country", "AnnualRevenue", "Description", "LeadSource",
)  # fmt: skip
ACCOUNT_COLUMNS = (
    "Id", "Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue", "BillingCountry", "OwnerId",
)  # fmt: skip
USER_COLUMNS = ("Id", "Name", "Email", "Username", "Alias", "IsActive")
# A duplicate rule set to "Allow" with an alert saves through the API only when told so.
ALLOW_SAVE = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}
IDS_PER_QUERY = 200  # keeps an `Id IN (...)` query well under SOQL's length limit


def host_of(website: str | None) -> str | None:
    if not website:
        return None
    text = website.strip()
    host = urlsplit(text if "//" in text else f"//{text}").hostname
    return host.removeprefix("www.") if host else None


def lead_of(row: dict[str, Any]) -> Lead:
    """A Salesforce Lead as our Lead; ``source_record_id`` is its Id, so the write finds it again."""
    data: dict[str, Any] = {
        "source": "salesforce",
        "source_record_id": row["Id"],
        "person": {
            "first_name": row.get("FirstName"),
            "last_name": row.get("LastName"),
            "email": row.get("Email"),
            "phone": row.get("Phone"),
            "title": row.get("Title"),
        },
        "company": {
            "name": row.get("Company"),
            "domain": host_of(row.get("Website")),
            "employees": row.get("NumberOfEmployees"),
            "industry": row.get("Industry"),
            "country": row.get("Country"),
            "revenue": row.get("AnnualRevenue"),
        },
        "message": row.get("Description"),
        "attributes": {"lead_source": row.get("LeadSource")} if row.get("LeadSource") else {},
    }
    try:
        return Lead.model_validate(data)
    except ValidationError:
        # A person typed something we cannot take (an email without a domain): keep the rest.
        data["person"] = {**data["person"], "email": None}
        return Lead.model_validate(data)


class SalesforceReading:
    name: str
    _config: SalesforceCrm
    _client: SalesforceClient

    async def _run(self, op: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    async def _call(self, op: str, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def _rows(self, soql: str, batch_size: int = 2000) -> AsyncIterator[list[dict[str, Any]]]:
        """Each batch of a query's records, following nextRecordsUrl until done."""
        page = await self._run("query", self._client.query, soql, batch_size)
        while True:
            yield list(page.get("records", []))
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = await self._run("query_more", self._client.query_more, page["nextRecordsUrl"])

    def _selects(
        self, sobject: str, columns: Sequence[str], selection: Selection, always: str = ""
    ) -> list[str]:
        """One SOQL per chunk of ids (or one for a query / since); ``always`` is ANDed in."""
        conditions = [always] if always else []
        if selection.query:
            conditions.append(f"({selection.query})")
        if selection.since is not None:
            conditions.append(f"LastModifiedDate >= {datetime_literal(selection.since)}")
        if selection.ids:
            return [
                select(columns, sobject, " AND ".join([*conditions, in_list("Id", ids)]))
                for ids in chunks(list(selection.ids), IDS_PER_QUERY)
            ]
        return [select(columns, sobject, " AND ".join(conditions))]

    async def _pages(self, soqls: list[str], page_size: int) -> AsyncIterator[list[dict[str, Any]]]:
        batch_size = min(2000, max(200, page_size))
        for soql in soqls:
            async for rows in self._rows(soql, batch_size):
                for start in range(0, len(rows), page_size):
                    yield rows[start : start + page_size]

    async def records(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmRecord]]:
        locked = self._config.field("locked")
        soqls = self._selects("Lead", [*LEAD_COLUMNS, locked], selection, always="IsConverted = false")
        async for rows in self._pages(soqls, page_size):
            yield [CrmRecord(self.name, row["Id"], lead_of(row), bool(row.get(locked))) for row in rows]

    async def accounts(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmAccount]]:
        async for rows in self._pages(self._selects("Account", ACCOUNT_COLUMNS, selection), page_size):
            yield [
                CrmAccount(
                    crm=self.name,
                    record_id=row["Id"],
                    name=row.get("Name"),
                    domain=host_of(row.get("Website")),
                    industry=row.get("Industry"),
                    employees=row.get("NumberOfEmployees"),
                    revenue=row.get("AnnualRevenue"),
                    country=row.get("BillingCountry"),
                    owner=row.get("OwnerId"),
                )
                for row in rows
            ]

    async def user_rows(self) -> list[dict[str, Any]]:
        soql = select(USER_COLUMNS, "User", "IsActive = true")
        return [row async for rows in self._rows(soql) for row in rows]

    async def owners(self) -> list[CrmOwner]:
        return [
            CrmOwner(self.name, row["Id"], row.get("Email"), row.get("Name"), bool(row.get("IsActive", True)))
            for row in await self.user_rows()
        ]

    async def write_account_icp(self, statuses: Sequence[tuple[str, str]]) -> int:
        """Set each Account's ICP status field (requalify --accounts); returns how many were saved."""
        saved = 0
        for part in chunks(list(statuses), 200):
            records = [
                {"attributes": {"type": "Account"}, "id": account_id, self._config.account_icp_field: status}
                for account_id, status in part
            ]
            answers = await self._call(
                "write_accounts",
                "PATCH",
                "composite/sobjects",
                json={"allOrNone": False, "records": records},
                headers=ALLOW_SAVE,  # the standard Account duplicate rule alerts on edit too
            )
            saved += sum(1 for a in answers if a.get("success"))
        return saved

    async def forget(self, email: str) -> int:
        """Delete the Leads with this email (a person asked to be forgotten); returns how many."""
        ids = [
            row["Id"]
            async for rows in self._rows(select(["Id"], "Lead", f"Email = {quote(email)}"))
            for row in rows
        ]
        deleted = 0
        for part in chunks(ids, 200):
            answers = await self._call(
                "forget", "DELETE", "composite/sobjects", params={"ids": ",".join(part), "allOrNone": "false"}
            )
            for answer in answers:
                if not answer.get("success"):
                    raise record_error(answer.get("errors"))
                deleted += 1
        return deleted
