"""A fake Salesforce REST API over TLS, for the connector's tests through simple-salesforce.

It answers like the REST API for what Leadflow uses: SOQL query (+ nextRecordsUrl paging),
composite (subrequests dispatched to the same handlers), sObject Collections update / upsert on an
External ID / delete, single sObject PATCH, /limits. Errors have Salesforce's shape
``[{"message", "errorCode", "fields"}]``; every answer carries ``Sforce-Limit-Info: api-usage=N/M``.

Its state is readable by tests (``objects``, ``calls``, ``owner_changes``) and faults are injectable:
``fail(kind, times)`` with ``limit`` (403 REQUEST_LIMIT_EXCEEDED), ``concurrent`` (its concurrent
variant), ``error`` (503), ``slow`` (answer after ``delay`` s, before doing anything) and ``lost``
(do it, then answer after ``delay`` s: the client times out on a write that happened); ``down``
answers every request with 503. Assignment rules are emulated: a Lead whose OwnerId is set without
``Sforce-Auto-Assign: FALSE`` is reassigned to ``assignment_queue``, as an org's rule would.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import secrets
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.soql import SoqlError, get, parse
from tests.servers import free_port

VERSION = "61.0"
PREFIX = {"Lead": "00Q", "Task": "00T", "Account": "001", "User": "005", "Contact": "003"}
LEADFLOW_LEAD = {
    "Leadflow_Score__c", "Leadflow_Tier__c", "Leadflow_Status__c", "Leadflow_Reasons__c",
    "Leadflow_ICP_Status__c", "Leadflow_Persona_Status__c", "Leadflow_Config_Version__c",
    "Leadflow_Model_Version__c", "Leadflow_Last_Event_Id__c", "Leadflow_Locked__c", "Leadflow_Lead_Id__c",
}  # fmt: skip
COMMON = {"Id", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"}
FIELDS: dict[str, set[str]] = {
    "Lead": COMMON | LEADFLOW_LEAD | {
        "FirstName", "LastName", "Name", "Email", "Phone", "Title", "Company", "Website",
        "NumberOfEmployees", "Industry", "Country", "AnnualRevenue", "Description", "LeadSource",
        "Status", "IsConverted", "ConvertedContactId", "Leadflow_Feedback__c", "MasterRecordId",
    },
    "Contact": COMMON | {"FirstName", "LastName", "Email", "AccountId"},
    "Task": COMMON | {"WhoId", "WhatId", "Subject", "Description", "Status", "Priority", "ActivityDate",
                      "Leadflow_Event_Id__c"},
    "Account": COMMON | {"Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue",
                         "BillingCountry", "Leadflow_ICP_Status__c"},
    "User": {"Id", "Name", "Email", "Username", "Alias", "IsActive", "UserType"},
}  # fmt: skip
# Standard text fields' lengths: a longer value is refused (STRING_TOO_LONG), never truncated, as
# the REST API has no field-truncation header.
MAX_LENGTH = {
    "Lead": {"FirstName": 40, "LastName": 80, "Title": 128, "Company": 255, "Email": 80, "Phone": 40,
             "Website": 255, "Country": 80, "Industry": 255, "LeadSource": 255},
    "Task": {"Subject": 255},
}  # fmt: skip
DUPLICATE_MATCH = {"Lead": "Email", "Account": "Name"}  # what the fake's duplicate rules match on
EXTERNAL_IDS = {("Lead", "Leadflow_Lead_Id__c"), ("Task", "Leadflow_Event_Id__c")}
REQUIRED = {"Lead": ("LastName", "Company"), "Task": ()}


def sf_error(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


def record_failure(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields or []}]}


def sf_datetime(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class OwnerChange:
    lead_id: str
    owner_id: str
    auto_assign_false: bool  # whether the request said Sforce-Auto-Assign: FALSE


@dataclass
class FakeSalesforce:
    daily_limit: int = 100_000
    api_used: int = 0
    query_batch: int | None = None  # None: honour Sforce-Query-Options (200-2000), else this
    assignment_queue: str = "00G000000000001AAA"
    delay: float = 2.0
    down: bool = False
    tokens: set[str] = field(default_factory=lambda: {"test-token"})
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {t: {} for t in FIELDS})
    recycled: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {t: {} for t in FIELDS})
    calls: Counter[str] = field(default_factory=Counter)  # top-level requests by kind
    owner_changes: list[OwnerChange] = field(default_factory=list)
    validation: dict[str, tuple[str, str]] = field(default_factory=dict)  # record id -> (code, message)
    # Active duplicate rules (Leads matched on Email, Accounts on Name): None (none), "alert"
    # (Salesforce's standard rules: "Allow" with an alert, on create and on edit, which the API
    # saves only with allowSave=true), or "block".
    duplicate_rule: str | None = None
    faults: list[str] = field(default_factory=list)
    _cursors: dict[str, tuple[list[dict[str, Any]], int]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    url: str = ""
    ca_path: str = ""
    _allow_save: bool = False  # the request being dispatched said allowSave=true

    # -- test helpers ------------------------------------------------------------------------------

    def fail(self, kind: str, times: int = 1) -> None:
        self.faults.extend([kind] * times)

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return token

    def expire_sessions(self) -> None:
        self.tokens.clear()

    def new_id(self, sobject: str) -> str:
        return f"{PREFIX[sobject]}{next(self._ids):012d}AAA"

    def add(self, sobject: str, **values: Any) -> str:
        record_id = values.pop("Id", None) or self.new_id(sobject)
        now = sf_datetime(datetime.now(UTC))
        defaults = {"IsConverted": False, "Status": "Open - Not Contacted"} if sobject == "Lead" else {}
        self.objects[sobject][record_id] = {
            **defaults, "OwnerId": "005000000000001AAA", "CreatedDate": now, "LastModifiedDate": now,
            **values, "Id": record_id,
        }  # fmt: skip
        return record_id

    def merge(self, master_id: str, *others: str) -> None:
        """Merge Leads into ``master_id`` as Salesforce does: the others go to the recycle bin with
        IsDeleted and MasterRecordId set (queryAll still finds them), their Tasks move to the master."""
        for other in others:
            record = self.objects["Lead"].pop(other)
            self.recycled["Lead"][other] = {**record, "IsDeleted": True, "MasterRecordId": master_id}
            for task in self.tasks_for(other):
                task["WhoId"] = master_id

    def convert(self, lead_id: str) -> str:
        """Convert a Lead as Salesforce does: a Contact with the Lead's person and owner, the Lead
        marked IsConverted with ConvertedContactId, its Tasks moved to the Contact."""
        lead = self.objects["Lead"][lead_id]
        person = {k: lead.get(k) for k in ("FirstName", "LastName", "Email", "OwnerId")}
        contact = self.add("Contact", **person)
        lead.update({"IsConverted": True, "ConvertedContactId": contact, "Status": "Closed - Converted"})
        for task in self.tasks_for(lead_id):
            task["WhoId"] = contact
        return contact

    def find(self, sobject: str, **where: Any) -> list[dict[str, Any]]:
        return [r for r in self.objects[sobject].values() if all(r.get(k) == v for k, v in where.items())]

    def tasks_for(self, who_id: str) -> list[dict[str, Any]]:
        return self.find("Task", WhoId=who_id)

    # -- HTTP --------------------------------------------------------------------------------------

    async def asgi(self, request: Request) -> Response:
        body = await request.body()
        kind = self._kind(request.method, request.url.path)
        self.calls[kind] += 1
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.down:
            return Response("<html>Service Unavailable</html>", 503, media_type="text/html")
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in self.tokens:
            return self._json(401, sf_error("INVALID_SESSION_ID", "Session expired or invalid"))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "limit" or self.api_used >= self.daily_limit:
            return self._json(403, sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        if fault == "concurrent":
            return self._json(
                403, sf_error("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
            )
        if fault == "error":
            return self._json(503, sf_error("SERVER_UNAVAILABLE", "Server temporarily unavailable"))
        if fault == "slow":
            await asyncio.sleep(self.delay)
        self.api_used += 1
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return self._json(400, sf_error("JSON_PARSER_ERROR", "The request body is not JSON"))
        status, answer = self.dispatch(
            request.method, str(request.url.path), dict(request.query_params), headers, payload
        )
        if fault == "lost":
            await asyncio.sleep(self.delay)
        return self._json(status, answer)

    def _json(self, status: int, answer: Any) -> Response:
        headers = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.daily_limit}"}
        if status == 204:
            return Response(status_code=204, headers=headers)
        return Response(json.dumps(answer), status, headers=headers, media_type="application/json")

    @staticmethod
    def _kind(method: str, path: str) -> str:
        rest = path.split(f"/v{VERSION}/", 1)[-1]
        return f"{method} {rest.split('/')[0] if rest.startswith(('query', 'limits')) else rest}"

    def dispatch(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str], payload: Any
    ) -> tuple[int, Any]:
        prefix = f"/services/data/v{VERSION}/"
        if not path.startswith(prefix):
            return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
        parts = path[len(prefix) :].strip("/").split("/")
        auto_assign_false = headers.get("sforce-auto-assign", "").upper() == "FALSE"
        rule_header = headers.get("sforce-duplicate-rule-header", "").replace(" ", "").lower()
        self._allow_save = "allowsave=true" in rule_header.split(";")
        match method, parts:
            case "GET", ["query"]:
                return self.query(params.get("q", ""), headers.get("sforce-query-options", ""))
            case "GET", ["queryAll"]:  # the recycle bin too: deleted and merged-away records
                return self.query(params.get("q", ""), headers.get("sforce-query-options", ""), every=True)
            case "GET", ["query", cursor]:
                return self.more(cursor)
            case "GET", ["limits"]:
                remaining = self.daily_limit - self.api_used
                return 200, {"DailyApiRequests": {"Max": self.daily_limit, "Remaining": remaining}}
            case "POST", ["composite"]:
                return self.composite(payload)
            case "PATCH", ["composite", "sobjects"]:
                return 200, [self.update(r, auto_assign_false) for r in payload["records"]]
            case "PATCH", ["composite", "sobjects", sobject, external]:
                if (sobject, external) not in EXTERNAL_IDS:
                    return 400, sf_error("INVALID_FIELD", f"{external} is not an External ID on {sobject}")
                return 200, [self.upsert(sobject, external, r, auto_assign_false) for r in payload["records"]]
            case "DELETE", ["composite", "sobjects"]:
                return 200, [self.delete(i) for i in params.get("ids", "").split(",") if i]
            case "PATCH", ["sobjects", sobject, record_id]:
                result = self.update(
                    {"attributes": {"type": sobject}, "id": record_id, **payload}, auto_assign_false
                )
                return (204, None) if result["success"] else (400, result["errors"])
        return 404, sf_error("NOT_FOUND", f"The requested resource does not exist: {method} {path}")

    # -- resources ---------------------------------------------------------------------------------

    def query(self, soql: str, options: str, *, every: bool = False) -> tuple[int, Any]:
        try:
            q = parse(soql, {name.lower(): {f.lower() for f in fields} for name, fields in FIELDS.items()})
        except SoqlError as exc:
            return 400, sf_error(exc.code, str(exc))
        sobject = next(name for name in FIELDS if name.lower() == q.sobject.lower())
        stored = [*self.objects[sobject].values(), *(self.recycled[sobject].values() if every else ())]
        rows = [r for r in stored if q.where(r)]
        if q.order_by:
            rows.sort(
                key=lambda r: (get(r, q.order_by or "") is None, str(get(r, q.order_by or ""))),
                reverse=q.descending,
            )
        rows = rows[: q.limit] if q.limit is not None else rows
        records = [
            {
                "attributes": {
                    "type": sobject,
                    "url": f"/services/data/v{VERSION}/sobjects/{sobject}/{r['Id']}",
                }
            }
            | {c: get(r, c) for c in q.columns}
            for r in rows
        ]
        batch = self.query_batch
        if batch is None:
            asked = parse_qs(options.replace(" ", "")).get("batchSize", ["2000"])[0]
            batch = min(2000, max(200, int(asked)))
        return 200, self._page(records, 0, batch)

    def _page(self, records: list[dict[str, Any]], start: int, batch: int) -> dict[str, Any]:
        end = start + batch
        page: dict[str, Any] = {
            "totalSize": len(records),
            "done": end >= len(records),
            "records": records[start:end],
        }
        if end < len(records):
            cursor = f"01g{secrets.token_hex(6)}"
            self._cursors[cursor] = (records, batch)
            page["nextRecordsUrl"] = f"/services/data/v{VERSION}/query/{cursor}-{end}"
        return page

    def more(self, locator: str) -> tuple[int, Any]:
        cursor, _, start = locator.rpartition("-")
        if cursor not in self._cursors or not start.isdigit():
            return 400, sf_error("INVALID_QUERY_LOCATOR", "invalid query locator")
        records, batch = self._cursors[cursor]
        return 200, self._page(records, int(start), batch)

    def composite(self, payload: dict[str, Any]) -> tuple[int, Any]:
        answers = []
        for sub in payload["compositeRequest"]:
            split = urlsplit(sub["url"])
            params = {k: v[0] for k, v in parse_qs(split.query).items()}
            headers = {k.lower(): v for k, v in (sub.get("httpHeaders") or {}).items()}
            status, body = self.dispatch(sub["method"], split.path, params, headers, sub.get("body"))
            answers.append(
                {"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": sub["referenceId"]}
            )
        return 200, {"compositeResponse": answers}

    def _check(self, sobject: str, values: dict[str, Any]) -> dict[str, Any] | None:
        unknown = [k for k in values if k not in FIELDS[sobject]]
        if unknown:
            return record_failure(
                "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}", unknown
            )
        for name, limit in MAX_LENGTH.get(sobject, {}).items():
            value = values.get(name)
            if isinstance(value, str) and len(value) > limit:
                return record_failure(
                    "STRING_TOO_LONG", f"{name}: data value too large: {value} (max length={limit})", [name]
                )
        who = values.get("WhoId")
        if sobject == "Task" and who is not None:
            lead = self.objects["Lead"].get(who)
            if (lead is None and who not in self.objects["Contact"]) or (lead or {}).get("IsConverted"):
                # An activity cannot be about a converted Lead: it is about the Contact it became.
                return record_failure("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["WhoId"])
        return None

    def _save(self, sobject: str, record_id: str, values: dict[str, Any], auto_assign_false: bool) -> None:
        record = self.objects[sobject][record_id]
        record.update(values)
        record["LastModifiedDate"] = sf_datetime(datetime.now(UTC))
        if sobject == "Lead" and "OwnerId" in values:
            self.owner_changes.append(OwnerChange(record_id, values["OwnerId"], auto_assign_false))
            if not auto_assign_false:  # the org's assignment rule runs and wins
                record["OwnerId"] = self.assignment_queue

    def update(self, record: dict[str, Any], auto_assign_false: bool) -> dict[str, Any]:
        sobject = record.get("attributes", {}).get("type", "")
        record_id = record.get("id") or record.get("Id")
        values = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
        if sobject not in self.objects or record_id not in self.objects[sobject]:
            return record_failure("ENTITY_IS_DELETED", "entity is deleted")
        if (failure := self._check(sobject, values)) is not None:
            return failure
        if record_id in self.validation:
            code, message = self.validation[record_id]
            return record_failure(code, message)
        if (failure := self._converted(sobject, record_id)) is not None:
            return failure
        if (failure := self._duplicate(sobject, values, record_id)) is not None:
            return failure
        self._save(sobject, record_id, values, auto_assign_false)
        return {"id": record_id, "success": True, "errors": []}

    def _duplicate(
        self, sobject: str, values: dict[str, Any], record_id: str | None
    ) -> dict[str, Any] | None:
        """DUPLICATES_DETECTED when the duplicate rule finds another record with this Email (Lead) or
        Name (Account); on an edit the rule looks at the record as saved, not only at what changes."""
        key = DUPLICATE_MATCH.get(sobject)
        saved = self.objects[sobject].get(record_id or "", {}) if sobject in self.objects else {}
        value = str({**saved, **values}.get(key or "") or "").lower()
        if key is None or self.duplicate_rule is None or not value:
            return None
        others = [
            r for r in self.objects[sobject].values()
            if r["Id"] != record_id and str(r.get(key) or "").lower() == value
        ]  # fmt: skip
        if not others or (self.duplicate_rule == "alert" and self._allow_save):
            return None
        failure = record_failure("DUPLICATES_DETECTED", "Use one of these records?")
        failure["errors"][0]["duplicateResult"] = {
            "allowSave": self.duplicate_rule == "alert",
            "duplicateRule": f"Standard_{sobject}_Duplicate_Rule",
            "duplicateRuleEntityType": sobject,
            "errorMessage": "Use one of these records?",
            "matchResults": [{"entityType": sobject, "matchRecords": [{"record": {"Id": others[0]["Id"]}}]}],
        }
        return failure

    def _converted(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """Salesforce refuses any update of a converted Lead (without "View and Edit Converted Leads")."""
        if sobject == "Lead" and self.objects["Lead"][record_id].get("IsConverted"):
            return record_failure("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        return None

    def upsert(
        self, sobject: str, external: str, record: dict[str, Any], auto_assign_false: bool
    ) -> dict[str, Any]:
        values = {k: v for k, v in record.items() if k != "attributes"}
        key = values.get(external)
        if not key:
            return record_failure("MISSING_ARGUMENT", f"{external} not specified")
        if (failure := self._check(sobject, values)) is not None:
            return failure
        found = self.find(sobject, **{external: key})
        if found:
            record_id = found[0]["Id"]
            if (failure := self._converted(sobject, record_id)) is not None:
                return failure
            if (failure := self._duplicate(sobject, values, record_id)) is not None:
                return failure
            self._save(sobject, record_id, values, auto_assign_false)
            return {"id": record_id, "success": True, "errors": [], "created": False}
        missing = [f for f in REQUIRED.get(sobject, ()) if not values.get(f)]
        if missing:
            return record_failure(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing
            )
        if (failure := self._duplicate(sobject, values, None)) is not None:
            return failure
        owner = values.pop("OwnerId", None)
        record_id = self.add(sobject, **values)
        if owner is not None:
            self._save(sobject, record_id, {"OwnerId": owner}, auto_assign_false)
        return {"id": record_id, "success": True, "errors": [], "created": True}

    def delete(self, record_id: str) -> dict[str, Any]:
        for records in self.objects.values():
            if records.pop(record_id, None) is not None:
                return {"id": record_id, "success": True, "errors": []}
        return record_failure("ENTITY_IS_DELETED", "entity is deleted")


@contextlib.asynccontextmanager
async def serve_salesforce(fake: FakeSalesforce | None = None) -> AsyncIterator[FakeSalesforce]:
    """The fake on a free loopback port over TLS (a trustme CA; ``fake.ca_path`` trusts it)."""
    fake = fake or FakeSalesforce()
    app = Starlette(routes=[Route("/{path:path}", fake.asgi, methods=["GET", "POST", "PATCH", "DELETE"])])
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp:
        chain, ca_file = Path(tmp) / "server.pem", Path(tmp) / "ca.pem"
        ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(chain))
        ca.cert_pem.write_to_path(str(ca_file))
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False,
            ssl_certfile=str(chain), ssl_keyfile=str(chain), lifespan="off",
            # A "slow"/"lost" answer the client gave up on keeps its connection until uvicorn's
            # keep-alive ends; a test server need not wait for it.

        )  # fmt: skip
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the Salesforce fake stopped during startup")
                await asyncio.sleep(0.02)
            fake.url, fake.ca_path = f"https://127.0.0.1:{port}", str(ca_file)
            yield fake
        finally:
            # A request the client gave up on (slow/lost) leaves its socket in a reference cycle
            # (the timeout's traceback); collect it so uvicorn sees the connection close.
            gc.collect()
            server.should_exit = True
            await task
