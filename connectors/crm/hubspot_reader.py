"""Reading HubSpot: a contact and its company for enrichment, owners for routing, pages of
contacts and companies to requalify, and GDPR deletion of a contact."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from connectors.crm.hubspot_api import HubSpotApi, HubSpotRejected
from connectors.crm.hubspot_records import is_locked
from connectors.crm.reader import CrmAccount, CrmOwner, CrmRecord, Selection
from connectors.enrichment.email import is_corporate
from connectors.enrichment.firmographics import normalise_domain
from schemas.crm import HubSpotCrm as HubSpotConfig
from schemas.enrichment import AccountMatch, ContactMatch
from schemas.lead import Lead

log = logging.getLogger(__name__)

CONTACT_FIELDS = ["email", "firstname", "lastname", "jobtitle", "phone", "company", "website", "country",
                  "hubspot_owner_id", "lastmodifieddate"]  # fmt: skip
SEARCH_WINDOW = 10_000  # results one search query can page through (HubSpot: 400 past it)
COMPANY_FIELDS = ["name", "domain", "industry", "numberofemployees", "annualrevenue", "country",
                  "hubspot_owner_id", "lifecyclestage"]  # fmt: skip


def _int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


class HubSpotReader:
    name = "hubspot"
    crm = "hubspot"  # AccountDirectory's name for it

    def __init__(self, api: HubSpotApi, config: HubSpotConfig) -> None:
        self.api, self.config = api, config
        self._warned_lookup = False

    # -- enrichment (ContactDirectory, AccountDirectory) ------------------------------------

    async def contact(self, lead_id: str) -> ContactMatch | None:
        """The contact Leadflow wrote for this lead (found by the unique lead-id property)."""
        status, locked = self.config.property_for("status"), self.config.property_for("locked")
        try:
            record = await self.api.call(
                "contacts.get", self.api.contacts_basic.get_by_id, lead_id,
                id_property=self.config.property_for("lead_id"),
                properties=["hubspot_owner_id", status, locked],
            )  # fmt: skip
        except HubSpotRejected as exc:
            if exc.status == 404:
                return None
            if exc.status == 400 and not self._warned_lookup:
                # The lead-id property is not there yet: the writer creates it on its first
                # start, and until then no contact can carry it. Not a reason to fail a lead.
                self._warned_lookup = True
                log.warning("HubSpot refused the lookup by %s: %s", self.config.property_for("lead_id"), exc)
            if exc.status == 400:
                return None
            raise
        return self._match(record)

    def _match(self, record: dict[str, Any]) -> ContactMatch:
        props = record.get("properties") or {}
        return ContactMatch(
            crm=self.name,
            record_id=str(record["id"]),
            owner=props.get("hubspot_owner_id") or None,
            status=props.get(self.config.property_for("status")) or None,
            locked=is_locked(props, self.config),
        )

    async def contacts(self, lead_ids: Sequence[str]) -> dict[str, ContactMatch]:
        """``contact`` for many leads, 100 to a batch read by the lead-id property: a qualifier's
        batch costs one call per 100 leads instead of one per lead."""
        status, locked = self.config.property_for("status"), self.config.property_for("locked")
        lead_prop = self.config.property_for("lead_id")
        unique = list(dict.fromkeys(lead_ids))
        found: dict[str, ContactMatch] = {}
        for start in range(0, len(unique), 100):
            body = {
                "inputs": [{"id": i} for i in unique[start : start + 100]],
                "idProperty": lead_prop,
                "properties": ["hubspot_owner_id", status, locked, lead_prop],
            }
            try:
                answer = await self.api.call("contacts.read", self.api.contacts_batch.read, body)
            except HubSpotRejected as exc:
                if exc.status != 400:
                    raise
                return {}  # the lead-id property is not there yet (see ``contact``): none can match
            for record in answer.get("results", []):
                lead_id = str((record.get("properties") or {}).get(lead_prop) or "")
                if lead_id:
                    found[lead_id] = self._match(record)
        return found

    async def by_domain(self, domain: str) -> AccountMatch | None:
        wanted = normalise_domain(domain)
        if not wanted or not is_corporate(wanted):
            return None
        return await self._company("domain", wanted, "domain")

    async def by_name(self, name: str) -> AccountMatch | None:
        return await self._company("name", name.strip(), "name") if name.strip() else None

    async def _company(self, prop: str, value: str, matched_by: Any) -> AccountMatch | None:
        body = {
            "filterGroups": [{"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}],
            "properties": COMPANY_FIELDS,
            "limit": 1,
        }
        answer = await self.api.call("companies.search", self.api.companies_search.do_search, body)
        results = answer.get("results") or []
        if not results:
            return None
        props = results[0].get("properties") or {}
        return AccountMatch(
            crm=self.name,
            account_id=str(results[0]["id"]),
            name=props.get("name"),
            owner=props.get("hubspot_owner_id") or None,
            matched_by=matched_by,
            customer=str(props.get("lifecyclestage") or "").lower() == "customer",
        )

    # -- routing ---------------------------------------------------------------------------

    async def owners(self) -> list[CrmOwner]:
        found: list[CrmOwner] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500, "archived": False}
            if after:
                kwargs["after"] = after
            page = await self.api.call("owners.list", self.api.owners.get_page, **kwargs)
            for o in page.get("results", []):
                name = " ".join(p for p in (o.get("firstName"), o.get("lastName")) if p) or None
                found.append(CrmOwner(self.name, str(o["id"]), o.get("email"), name, not o.get("archived")))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return found

    # -- requalify (CrmReader) -------------------------------------------------------------

    async def records(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmRecord]]:
        fields = [*CONTACT_FIELDS, self.config.property_for("locked")]
        async for page in self._pages("contacts", selection, fields, page_size):
            yield [self._record(r) for r in page]

    async def accounts(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmAccount]]:
        async for page in self._pages("companies", selection, COMPANY_FIELDS, page_size):
            yield [self._account(r) for r in page]

    async def _pages(
        self, kind: str, selection: Selection, fields: list[str], page_size: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        size = max(1, min(page_size, 100))
        if selection.ids:
            batch = self.api.contacts_batch if kind == "contacts" else None
            for start in range(0, len(selection.ids), size):
                ids: Sequence[str] = selection.ids[start : start + size]
                if batch is None:  # companies: one read per id (rare: ids come from a person)
                    yield [await self._get_company(i) for i in ids]
                    continue
                read = {"inputs": [{"id": i} for i in ids], "properties": fields}
                yield (await self.api.call(f"{kind}.read", batch.read, read)).get("results", [])
            return
        search = self.api.contacts_search if kind == "contacts" else self.api.companies_search
        sort = {"propertyName": "hs_object_id", "direction": "ASCENDING"}
        first: dict[str, Any] = {"properties": fields, "limit": size, "sorts": [sort]}
        if selection.query:
            first["query"] = selection.query
        filters: list[dict[str, Any]] = []
        if selection.since:
            stamp = str(int(selection.since.timestamp() * 1000))
            modified = "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"
            filters.append({"propertyName": modified, "operator": "GTE", "value": stamp})
        if filters:
            first["filterGroups"] = [{"filters": filters}]
        body, reached = first, 0  # results this query has paged through
        while True:
            answer = await self.api.call(f"{kind}.search", search.do_search, body)
            results = answer.get("results") or []
            if results:
                yield results
            reached += len(results)
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after or not results:
                return
            if reached + size <= SEARCH_WINDOW:
                body = {**body, "after": after}
                continue
            # HubSpot refuses (400) to page one query past SEARCH_WINDOW results: the same query
            # again, for the ids after the last one seen (the results are sorted by id).
            past = {"propertyName": "hs_object_id", "operator": "GT", "value": str(results[-1]["id"])}
            body, reached = {**first, "filterGroups": [{"filters": [*filters, past]}]}, 0

    async def _get_company(self, company_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.api.call(
            "companies.get", self.api.companies_basic.get_by_id, company_id, properties=COMPANY_FIELDS
        )
        return result

    def _record(self, r: dict[str, Any]) -> CrmRecord:
        p = r.get("properties") or {}
        company = {"name": p.get("company"), "domain": p.get("website"), "country": p.get("country")}
        lead = Lead.model_validate(
            {
                "person": {
                    k: p.get(h)
                    for k, h in (
                        ("first_name", "firstname"),
                        ("last_name", "lastname"),
                        ("email", "email"),
                        ("title", "jobtitle"),
                        ("phone", "phone"),
                    )
                },
                "company": {k: v for k, v in company.items() if v},
                "source": "hubspot",
                "source_record_id": str(r["id"]),
            }
        )
        return CrmRecord(self.name, str(r["id"]), lead, is_locked(p, self.config))

    def _account(self, r: dict[str, Any]) -> CrmAccount:
        p = r.get("properties") or {}
        return CrmAccount(
            crm=self.name,
            record_id=str(r["id"]),
            name=p.get("name"),
            domain=p.get("domain"),
            industry=p.get("industry"),
            employees=_int(p.get("numberofemployees")),
            revenue=_float(p.get("annualrevenue")),
            country=p.get("country"),
            owner=p.get("hubspot_owner_id") or None,
        )

    # -- GDPR ------------------------------------------------------------------------------

    async def forget(self, email: str) -> bool:
        """Permanently delete the contact with this email (HubSpot's GDPR delete); False if none.

        The contact is found by email first and deleted by its id: HubSpot's GDPR delete by an
        email no contact has adds that email to the portal's blocklist for good (as documented),
        which forgetting someone HubSpot never knew must not do."""
        read = {"inputs": [{"id": email.lower()}], "idProperty": "email", "properties": ["email"]}
        found = (await self.api.call("contacts.read", self.api.contacts_batch.read, read)).get("results")
        if not found:
            return False
        body = {"objectId": str(found[0]["id"])}
        try:
            await self.api.call("contacts.gdpr_delete", self.api.contacts_basic.purge, body)
        except HubSpotRejected as exc:
            if exc.status == 404:
                return False
            raise
        return True
