"""Salesforce write-back: Lead fields, OwnerId and a briefing Task, a batch of 200 in three API calls.

1. One composite request with two queries: the Leads (by Id; by ``Leadflow_Lead_Id__c`` for leads
   from other sources) with owner, lock and last event id, and the Tasks already made for these events.
2. One composite request: an sObject Collections update of the existing Leads and an upsert (on
   ``Leadflow_Lead_Id__c``) of the new ones, each with ``Sforce-Auto-Assign: FALSE`` so the org's
   assignment rules do not overwrite the OwnerId we set, and ``Sforce-Duplicate-Rule-Header:
   allowSave=true`` so a duplicate rule that only alerts (the standard Lead rule) saves as in the UI.
3. One sObject Collections upsert of the briefing Tasks on their event-id External ID, with the
   first-touch email draft (when the rule makes one) as a Task of its own under ``<event_id>:draft``.

Idempotent by event id. The Lead is written before its Tasks, so an existing Task for the event (and
for its draft, when it has one) means the event is done (UNCHANGED, even when a newer decision has
since been written over the Lead); a Lead that already carries the event id but lacks a Task, or an
event with its briefing Task but not its draft, gets its Tasks only (a crash between 2 and 3);
and upserting the Task on the event id can never make a second Task, even when an answer was lost.
A Lead with ``Leadflow_Locked__c`` keeps its Leadflow status and OwnerId (score, tier, reasons are
still written). A converted Lead (the person came back after becoming a Contact) cannot be updated
by anyone: it is left as it is and the briefing Task goes on the Contact it became, for the Lead's
owner (CONVERTED). Every call goes through the org's Guard (budget, retries, breaker), and each answer's
``Sforce-Limit-Info`` corrects the Guard's daily budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote_plus

from connectors.crm import BatchResult, WriteAction, WriteOutcome, draft_event_id
from connectors.crm.resilience import Guard, Limits
from connectors.crm.salesforce_client import SalesforceClient, error_for, record_error
from connectors.crm.salesforce_reader import ALLOW_SAVE, SalesforceReading
from connectors.crm.salesforce_soql import in_list, is_id, select
from connectors.errors import ConnectorError, CrmUnavailable, FatalConnectorError
from schemas.crm import SalesforceCrm
from schemas.events import LeadRouted

T = TypeVar("T")
USERS_TTL = 900.0  # seconds an active-user list is trusted for owner matching


# Standard Lead text fields shorter than what a Leadflow lead may hold (schemas/lead.py).
LEAD_FIELD_LENGTHS = {"FirstName": 40, "LastName": 80, "Title": 128, "Company": 255, "Phone": 40}


def _fit(name: str, value: Any) -> Any:
    limit = LEAD_FIELD_LENGTHS.get(name)
    return value[:limit].rstrip() if limit is not None and isinstance(value, str) else value


def guard_for(config: SalesforceCrm) -> Guard:
    return Guard("salesforce", Limits(**config.limits.model_dump()))


@dataclass
class _Pending:
    """One event on its way through a batch."""

    index: int
    routed: LeadRouted
    record_id: str | None = None
    locked: bool = False
    owner_id: str | None = None
    action: WriteAction = WriteAction.UPDATED
    lead: dict[str, Any] = field(default_factory=dict)
    who_id: str | None = None  # what the Tasks are about when not the Lead: a converted Lead's Contact


class SalesforceConnector(SalesforceReading):
    name = "salesforce"
    max_batch = 200  # sObject Collections take up to 200 records

    def __init__(self, config: SalesforceCrm, client: SalesforceClient, guard: Guard | None = None) -> None:
        self._config, self._client = config, client
        self._guard = guard or guard_for(config)
        self._users: tuple[float, list[dict[str, Any]]] | None = None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)

    # -- calls -------------------------------------------------------------------------------------

    async def _run(self, op: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call in a thread, within the Guard; the org's own usage corrects our budget."""

        async def request() -> T:
            return await asyncio.to_thread(fn, *args, **kwargs)

        try:
            return await self._guard.call(op, request)
        finally:
            usage = self._client.usage
            if usage is not None:
                used, total = usage  # the whole org's: every integration's calls count in it
                cap, daily = self._guard.limits.daily, self._guard.daily  # this process's share
                if cap is None:
                    daily.observe(used, total)
                else:
                    # `daily` caps Leadflow's own calls (counted by the Guard); what is left of the
                    # org's allowance can only lower that, never spend it for the others' calls.
                    daily.observe(daily.used, min(cap, daily.used + max(0, total - used)))

    async def _call(self, op: str, method: str, path: str, **kwargs: Any) -> Any:
        return await self._run(op, self._client.call, op, method, path, **kwargs)

    async def _composite(self, op: str, subrequests: list[dict[str, Any]]) -> dict[str, tuple[int, Any]]:
        """POST /composite (allOrNone false): each subrequest's (status, body) by its referenceId."""
        body = {"allOrNone": False, "compositeRequest": subrequests}
        answer = await self._call(op, "POST", "composite", json=body)
        return {r["referenceId"]: (int(r["httpStatusCode"]), r["body"]) for r in answer["compositeResponse"]}

    def _url(self, path: str) -> str:
        return f"/services/data/v{self._config.api_version}/{path}"

    # -- writing -----------------------------------------------------------------------------------

    async def write(self, routed: LeadRouted) -> WriteOutcome:
        [result] = await self.write_many([routed])
        if isinstance(result, ConnectorError):
            raise result
        return result

    async def write_many(self, batch: Sequence[LeadRouted]) -> list[BatchResult]:
        if len(batch) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} events per batch, not {len(batch)}")
        results: list[BatchResult | None] = [None] * len(batch)
        leads, tasks = await self._read_state(batch)
        merged = await self._merged_leads(batch, leads)
        users = await self._active_users(batch)
        to_write: list[_Pending] = []
        task_only: list[_Pending] = []
        for index, routed in enumerate(batch):
            pending = _Pending(index, routed)
            row = self._row_for(routed, leads) or merged.get((self._salesforce_id(routed) or "")[:15])
            if row is None and self._salesforce_id(routed):
                results[index] = FatalConnectorError(
                    f"salesforce: Lead {self._salesforce_id(routed)} not found (deleted or merged)"
                )
                continue
            if routed.event_id in tasks and (  # the Tasks are written last: the event is done
                routed.routing.draft is None or draft_event_id(routed.event_id) in tasks
            ):
                record_id = row["Id"] if row else tasks[routed.event_id]
                results[index] = WriteOutcome(self.name, record_id, WriteAction.UNCHANGED)
                continue
            if row is not None and row.get("IsConverted"):
                converted = self._converted(pending, row)
                if converted is not None:
                    results[index] = converted
                else:
                    task_only.append(pending)
                continue
            pending.locked = bool(row and row.get(self._config.field("locked")))
            pending.owner_id = None if pending.locked else self._owner_id(routed, users)
            if pending.locked:
                pending.action = WriteAction.LOCKED
                pending.owner_id = row.get("OwnerId") if row else None
            if row is not None:
                pending.record_id = row["Id"]
                if (
                    routed.event_id in tasks
                    or row.get(self._config.field("last_event_id")) == routed.event_id
                ):
                    task_only.append(pending)  # a crash between the Lead write and its Task
                    continue
            to_write.append(pending)
        written = await self._write_leads(to_write, results)
        await self._write_tasks(task_only + written, results)
        return [r if r is not None else FatalConnectorError("salesforce: no result") for r in results]

    @staticmethod
    def _converted(pending: _Pending, row: dict[str, Any]) -> ConnectorError | None:
        """Salesforce refuses every update of a converted Lead (CANNOT_UPDATE_CONVERTED_LEAD): the
        returning person's briefing goes on the Contact the Lead became, for the Lead's owner (who
        converted it), and the Lead stays as it is. An error when there is no Contact to put it on."""
        contact = row.get("ConvertedContactId")
        if not is_id(contact, "003"):
            return FatalConnectorError(f"salesforce: Lead {row['Id']} is converted and has no Contact")
        pending.record_id, pending.who_id = contact, contact
        pending.owner_id, pending.action = row.get("OwnerId"), WriteAction.CONVERTED
        return None

    def _salesforce_id(self, routed: LeadRouted) -> str | None:
        """The Lead's own id when the lead came from Salesforce (an Outbound Message, a requalify)."""
        record_id = routed.lead.source_record_id
        return record_id if routed.lead.source == "salesforce" and is_id(record_id, "00Q") else None

    def _row_for(self, routed: LeadRouted, leads: list[dict[str, Any]]) -> dict[str, Any] | None:
        sf_id = self._salesforce_id(routed)
        lead_field = self._config.field("lead_id")
        for row in leads:
            if (sf_id and row["Id"][:15] == sf_id[:15]) or (
                not sf_id and row.get(lead_field) == routed.lead_id
            ):
                return row
        return None

    async def _read_state(self, batch: Sequence[LeadRouted]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The batch's Leads and the Tasks already made for its events (event id -> WhoId), one call."""
        f = self._config.field
        ids = [i for r in batch if (i := self._salesforce_id(r))]
        lead_ids = [r.lead_id for r in batch if not self._salesforce_id(r)]
        where = " OR ".join(
            part
            for part in (
                in_list("Id", ids) if ids else "",
                in_list(f("lead_id"), lead_ids) if lead_ids else "",
            )
            if part
        )
        event_field = self._config.task_event_field
        queries = {
            "leads": select(self._state_columns(), "Lead", where),
            "tasks": select(
                ["Id", "WhoId", event_field],
                "Task",
                in_list(event_field, [e for r in batch for e in (r.event_id, draft_event_id(r.event_id))]),
            ),
        }
        answers = await self._composite(
            "read_state",
            [
                {"method": "GET", "url": self._url(f"query/?q={quote_plus(soql)}"), "referenceId": ref}
                for ref, soql in queries.items()
            ],
        )
        for ref, (status, body) in answers.items():
            if status >= 300:
                raise error_for(status, body, f"read_state {ref}", self._config.limit_exceeded_wait_seconds)
        leads = list(answers["leads"][1]["records"])
        tasks = {t[event_field]: t.get("WhoId") or "" for t in answers["tasks"][1]["records"]}
        return leads, tasks

    def _state_columns(self) -> list[str]:
        f = self._config.field
        return ["Id", "OwnerId", f("status"), f("locked"), f("last_event_id"), f("lead_id"),
                "IsConverted", "ConvertedContactId"]  # fmt: skip

    async def _merged_leads(
        self, batch: Sequence[LeadRouted], leads: list[dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """The surviving Lead of each Salesforce Lead id that is gone because it was merged (the loser
        stays in the recycle bin, found by queryAll, with MasterRecordId), by the gone id's first 15
        characters. Two more calls, made only when a batch has such an id."""
        found = {row["Id"][:15] for row in leads}
        gone = [i for r in batch if (i := self._salesforce_id(r)) and i[:15] not in found]
        if not gone:
            return {}
        where = f"{in_list('Id', gone)} AND MasterRecordId != null"
        losers = await self._call(
            "merged", "GET", "queryAll/", params={"q": select(["Id", "MasterRecordId"], "Lead", where)}
        )
        master_of = {r["Id"][:15]: str(r["MasterRecordId"]) for r in losers.get("records", [])}
        if not master_of:
            return {}
        soql = select(self._state_columns(), "Lead", in_list("Id", sorted(set(master_of.values()))))
        masters = await self._call("merged_masters", "GET", "query/", params={"q": soql})
        by_id = {row["Id"][:15]: row for row in masters.get("records", [])}
        return {old: by_id[new[:15]] for old, new in master_of.items() if new[:15] in by_id}

    def _lead_fields(self, pending: _Pending) -> dict[str, Any]:
        routed, f = pending.routed, self._config.field
        evaluation = routed.evaluation
        values: dict[str, Any] = {
            f("score"): evaluation.score,
            f("tier"): evaluation.tier,
            f("reasons"): "\n".join(evaluation.reasons)[:32_000],
            f("icp_status"): evaluation.icp.status.value,
            f("persona_status"): evaluation.persona.status.value,
            f("config_version"): routed.config_version,
            f("model_version"): routed.model_version,
            f("last_event_id"): routed.event_id,
        }
        if not pending.locked:
            values[f("status")] = evaluation.status.value
            if pending.owner_id:
                values["OwnerId"] = pending.owner_id
        return values

    def _new_lead(self, pending: _Pending) -> dict[str, Any]:
        """What a Lead made by Leadflow starts with (LastName and Company are required)."""
        lead = pending.routed.lead
        person, company = lead.person, lead.company
        values = {
            "FirstName": person.first_name,
            "LastName": person.last_name or "(unknown)",
            "Email": person.email,
            "Phone": person.phone,
            "Title": person.title,
            "Company": company.name or company.domain or "(unknown)",
            "Website": company.domain,
            "NumberOfEmployees": company.employees,
            "Industry": company.industry,
            "Country": company.country,
            "AnnualRevenue": company.revenue,
            "LeadSource": lead.source,
            "Description": (lead.message or "")[:32_000] or None,
        }
        # The REST API refuses a value longer than its field (STRING_TOO_LONG) instead of cutting it.
        return {k: _fit(k, v) for k, v in values.items() if v is not None} | {
            self._config.field("lead_id"): pending.routed.lead_id
        }

    async def _write_leads(
        self, pending: list[_Pending], results: list[BatchResult | None]
    ) -> list[_Pending]:
        """Update the existing Leads and upsert the new ones in one composite call; the ones written."""
        existing = [p for p in pending if p.record_id]
        new = [p for p in pending if not p.record_id]
        # Assignment rules must not undo our OwnerId; a duplicate rule the admin set to "Allow" (with
        # an alert, as Salesforce's standard Lead rule) saves as a person would past it; "Block" blocks.
        no_rules = {"Sforce-Auto-Assign": "FALSE", **ALLOW_SAVE}
        sub: list[dict[str, Any]] = []
        if existing:
            records = [
                {"attributes": {"type": "Lead"}, "id": p.record_id, **self._lead_fields(p)} for p in existing
            ]
            sub.append(self._collection("update", "composite/sobjects", records, no_rules))
        if new:
            records = [
                {"attributes": {"type": "Lead"}, **self._new_lead(p), **self._lead_fields(p)} for p in new
            ]
            path = f"composite/sobjects/Lead/{self._config.field('lead_id')}"
            sub.append(self._collection("upsert", path, records, no_rules))
        if not sub:
            return []
        answers = await self._composite("write_leads", sub)
        written: list[_Pending] = []
        for ref, group in (("update", existing), ("upsert", new)):
            if not group:
                continue
            status, body = answers[ref]
            if status >= 300:
                error = error_for(
                    status, body, f"write_leads {ref}", self._config.limit_exceeded_wait_seconds
                )
                for p in group:
                    results[p.index] = error
                continue
            for p, saved in zip(group, body, strict=True):
                if not saved.get("success"):
                    results[p.index] = record_error(saved.get("errors"))
                    continue
                p.record_id = saved["id"]
                if saved.get("created"):
                    p.action = WriteAction.CREATED
                written.append(p)
        return written

    def _collection(
        self, ref: str, path: str, records: list[dict[str, Any]], headers: dict[str, str]
    ) -> dict[str, Any]:
        return {
            "method": "PATCH",
            "url": self._url(path),
            "referenceId": ref,
            "body": {"allOrNone": False, "records": records},
            "httpHeaders": headers,
        }

    def _task(self, pending: _Pending) -> dict[str, Any]:
        routed = pending.routed
        evaluation = routed.evaluation
        task: dict[str, Any] = {
            "attributes": {"type": "Task"},
            self._config.task_event_field: routed.event_id,
            "WhoId": pending.who_id or pending.record_id,
            "Subject": f"Leadflow briefing: {evaluation.tier}, score {evaluation.score}"[:255],
            "Description": routed.briefing[:32_000],
            "Status": "Not Started",
            "Priority": "High" if evaluation.tier == "hot" else "Normal",
        }
        due = routed.routing.first_touch_due
        if due is not None:
            task["ActivityDate"] = due.date().isoformat()
        if is_id(pending.owner_id, "005"):  # a queue cannot own a Task: it stays with the API user
            task["OwnerId"] = pending.owner_id
        return task

    def _draft_task(self, pending: _Pending) -> dict[str, Any] | None:
        """The first-touch email draft as a Task for the owner to approve (never sent from here)."""
        draft = pending.routed.routing.draft
        if draft is None:
            return None
        task = {
            **self._task(pending),
            self._config.task_event_field: draft_event_id(pending.routed.event_id),
            "Subject": f"Email draft: {draft.subject}"[:255],
            "Description": draft.body[:32_000],
        }
        return task

    async def _write_tasks(self, pending: list[_Pending], results: list[BatchResult | None]) -> None:
        """Upsert each event's Tasks, at most 200 records a call; an event counts when all its are saved."""
        chunk: list[tuple[_Pending, list[dict[str, Any]]]] = []
        for p in pending:
            tasks = [t for t in (self._draft_task(p), self._task(p)) if t is not None]
            if sum(len(t) for _, t in chunk) + len(tasks) > self.max_batch:
                await self._write_task_chunk(chunk, results)
                chunk = []
            chunk.append((p, tasks))
        if chunk:
            await self._write_task_chunk(chunk, results)

    async def _write_task_chunk(
        self, chunk: list[tuple[_Pending, list[dict[str, Any]]]], results: list[BatchResult | None]
    ) -> None:
        path = f"composite/sobjects/Task/{self._config.task_event_field}"
        records = [task for _, tasks in chunk for task in tasks]
        try:
            saved_all = await self._call(
                "write_tasks", "PATCH", path, json={"allOrNone": False, "records": records}
            )
        except CrmUnavailable:
            raise  # the whole CRM is away: the caller waits and retries the batch (Tasks only, then)
        except ConnectorError as exc:
            # The Leads are written; a retry of these events writes only their Tasks.
            for p, _ in chunk:
                results[p.index] = exc
            return
        answers = iter(saved_all)
        for p, tasks in chunk:
            saved = [next(answers) for _ in tasks]
            failed = next((s for s in saved if not s.get("success")), None)
            results[p.index] = (
                WriteOutcome(self.name, p.record_id or "", p.action)
                if failed is None
                else record_error(failed.get("errors"))
            )

    # -- owners ------------------------------------------------------------------------------------

    async def _active_users(self, batch: Sequence[LeadRouted]) -> list[dict[str, Any]]:
        """Active Users, fetched only when an owner is neither in config nor a User id; cached."""
        wanted = [r.routing.owner for r in batch if r.routing.owner]
        if all(o in self._config.owners or is_id(o, "005") for o in wanted):
            return []
        if self._users is None or time.monotonic() - self._users[0] > USERS_TTL:
            self._users = (time.monotonic(), await self.user_rows())
        return self._users[1]

    def _owner_id(self, routed: LeadRouted, users: list[dict[str, Any]]) -> str | None:
        routing = routed.routing
        if routing.owner:
            owner = routing.owner
            if owner in self._config.owners:
                return self._config.owners[owner]
            if is_id(owner, "005"):
                return owner
            wanted = owner.lower()
            for user in users:
                email = (user.get("Email") or "").lower()
                names = {email, email.partition("@")[0], (user.get("Username") or "").lower()}
                if wanted in names or wanted == (user.get("Alias") or "").lower():
                    return str(user["Id"])
            return None
        if routing.queue:
            return self._config.queues.get(routing.queue) or (
                routing.queue if is_id(routing.queue, "00G") else None
            )
        return None
