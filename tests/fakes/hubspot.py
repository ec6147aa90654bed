"""An in-memory HubSpot for tests and benchmarks, speaking the CRM v3/v4 wire format.

- Every request the contract subset covers (../shared/contracts/hubspot/hubspot-crm-subset.openapi.json)
  is validated against it with openapi-core (body, parameters, bearer auth); the other endpoints
  Leadflow uses are validated against the small schemas in ``hubspot_schemas`` (from HubSpot's
  docs). An unknown route or a request that breaks its schema is refused with HubSpot's error shape.
- It enforces a rolling request budget (HubSpot's 190 per 10 s by default), answering 429 with
  HubSpot's headers and body, and records the most requests it ever saw in one window.
- Tests can inject 429 stretches, 5xx answers, slowness and "down" (503 for every request).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
from openapi_core import OpenAPI
from openapi_core.contrib.starlette.requests import StarletteOpenAPIRequest
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_schema_validator import OAS30Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.hubspot_schemas import DOCUMENTED
from tests.servers import serve

SPEC_PATH = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "contracts"
    / "hubspot"
    / "hubspot-crm-subset.openapi.json"
)
TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "notes": "0-46", "tasks": "0-27"}
SEARCH_WINDOW = 10_000  # results one search query can page through
UNIQUE_BUILTIN = {"contacts": {"email", "hs_object_id"}, "companies": {"hs_object_id"}}


def _comparable(value: Any) -> tuple[int, float | str]:
    """A property value as HubSpot orders it: numbers (ids, epoch ms) as numbers, text as text."""
    text = "" if value is None else str(value)
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def _sort_key(sort: Any) -> tuple[str, bool]:
    """A search sort, as an object ({propertyName, direction}) or HubSpot's string form ("-name")."""
    if isinstance(sort, dict):
        return str(sort["propertyName"]), str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
    text = str(sort)
    return text.removeprefix("-"), text.startswith("-")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error(status: int, message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> JSONResponse:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return JSONResponse({**body, **extra}, status_code=status)


class Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class Faults:
    """What the fake does wrong on purpose, until a monotonic time or for a count of requests."""

    throttle_until: float = 0.0
    throttle_at_least: int = 0  # a stretch also lasts until this many requests were refused in it
    down_at_least: int = 0
    down_until: float = 0.0
    fail_next: int = 0
    fail_status: int = 500
    delay: float = 0.0
    delay_until: float = 0.0


@dataclass
class HubSpotFake:
    """State and knobs; ``app`` serves it. Read ``contacts``, ``notes``, ``associations`` in tests."""

    limit: int = 190
    window: float = 10.0
    token: str = "test-token"
    owners: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {k: {} for k in ("contacts", "companies", "notes", "tasks")}
    )
    properties: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {k: {} for k in ("contacts", "companies", "notes", "tasks")}
    )
    groups: dict[str, set[str]] = field(default_factory=dict)
    associations: set[tuple[str, str, str, str, int]] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    max_in_window: int = 0
    throttled: int = 0
    refused: list[str] = field(default_factory=list)  # why each request that broke the contract was refused
    merged_into: dict[str, str] = field(default_factory=dict)  # a merged record's earlier id -> its id now
    blocklist: set[str] = field(default_factory=set)  # emails a GDPR delete found no contact for
    # Routes ("POST /crm/v3/properties/{kind}") the token's app has no scope for: 403 MISSING_SCOPES.
    unscoped: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        spec = json.loads(SPEC_PATH.read_text())
        spec["servers"] = [{"url": "/"}]  # any host: the fake runs on a free port
        self._openapi = OpenAPI.from_dict(spec)
        self._search_schema = OAS30Validator(spec["components"]["schemas"]["SearchRequest"])
        self._arrivals: deque[float] = deque()
        # (object type, unique property) -> value -> object id: lookups stay O(1) at 10,000s of records.
        self._index: dict[tuple[str, str], dict[str, str]] = {}
        self._ids = itertools.count(1001)
        if not self.owners:
            self.owners = [
                {
                    "id": str(70000 + i),
                    "email": f"rep{i}@example.com",
                    "firstName": "Rep",
                    "lastName": str(i),
                    "userId": 900 + i,
                    "type": "PERSON",
                    "archived": False,
                }
                for i in range(1, 6)
            ]

    # -- knobs -----------------------------------------------------------------------------

    def throttle(self, seconds: float, at_least: int = 0) -> None:
        """Answer 429 for ``seconds``, and on until ``at_least`` requests were refused: on a busy
        machine the writer may send nothing for a few seconds, which would test nothing."""
        self.faults.throttle_until = time.monotonic() + seconds
        self.faults.throttle_at_least = at_least

    def down(self, seconds: float, at_least: int = 0) -> None:
        """Answer 503 for ``seconds``, and on until ``at_least`` requests were refused (see throttle)."""
        self.faults.down_until = time.monotonic() + seconds
        self.faults.down_at_least = at_least

    def fail(self, count: int, status: int = 500) -> None:
        self.faults.fail_next, self.faults.fail_status = count, status

    def slow(self, delay: float, seconds: float) -> None:
        self.faults.delay, self.faults.delay_until = delay, time.monotonic() + seconds

    # -- helpers for tests -----------------------------------------------------------------

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        return next(
            (c for c in self.objects["contacts"].values() if c["properties"].get("email") == email.lower()),
            None,
        )

    def notes_of(self, contact_id: str, kind: str = "notes") -> list[dict[str, Any]]:
        ids = {a[1] for a in self.associations if a[0] == kind and a[2] == "contacts" and a[3] == contact_id}
        return [self.objects[kind][i] for i in ids if i in self.objects[kind]]

    def remove(self, kind: str, object_id: str) -> None:
        """Delete a record as if it had never been written: its index entries and associations too."""
        record = self.objects[kind].pop(object_id)
        self._reindex(kind, {"id": object_id, "properties": {}}, record["properties"])
        self.associations = {a for a in self.associations if (a[0], a[1]) != (kind, object_id)}

    def merge(self, kind: str, primary_id: str, other_id: str) -> str:
        """Merge two records as HubSpot does since 2024: a new record with a new id takes the
        primary's values (the other's fill the gaps) and both associations; every earlier id
        (listed in ``hs_merged_object_ids``) now answers with the new record."""
        primary, other = self.objects[kind][primary_id], self.objects[kind][other_id]
        earlier = [
            i
            for r in (primary, other)
            for i in [*str(r["properties"].get("hs_merged_object_ids") or "").split(";"), r["id"]]
            if i
        ]
        props = {**other["properties"], **primary["properties"]}
        for gone in (primary_id, other_id):
            old = self.objects[kind].pop(gone)
            self._reindex(kind, {"id": gone, "properties": {}}, old["properties"])
        for builtin in ("hs_object_id", "createdate"):
            props.pop(builtin, None)
        record = self._create(kind, {**props, "hs_merged_object_ids": ";".join(earlier)})
        new_id = record["id"]
        for old_id in earlier:
            self.merged_into[old_id] = new_id

        def moved(of: str, object_id: str) -> str:
            return new_id if of == kind and object_id in (primary_id, other_id) else object_id

        self.associations = {(a, moved(a, b), c, moved(c, d), t) for a, b, c, d, t in self.associations}
        return str(new_id)

    def add_contact(self, **properties: str) -> str:
        return self._create("contacts", properties)["id"]

    def add_company(self, **properties: str) -> str:
        return self._create("companies", properties)["id"]

    # -- the server ------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        routes = [
            Route("/crm/v3/objects/{kind}/batch/read", self._batch_read, methods=["POST"]),
            Route("/crm/v3/objects/{kind}/batch/create", self._batch_create, methods=["POST"]),
            Route("/crm/v3/objects/{kind}/batch/update", self._batch_update, methods=["POST"]),
            Route("/crm/v3/objects/{kind}/batch/upsert", self._batch_upsert, methods=["POST"]),
            Route("/crm/v3/objects/{kind}/search", self._search, methods=["POST"]),
            Route("/crm/v3/objects/contacts/gdpr-delete", self._gdpr_delete, methods=["POST"]),
            Route("/crm/v3/objects/{kind}/{object_id}", self._one, methods=["GET", "PATCH"]),
            Route("/crm/v3/objects/{kind}", self._create_one, methods=["POST"]),
            Route("/crm/v4/associations/{src}/{dst}/batch/create", self._associate, methods=["POST"]),
            Route("/crm/v3/properties/{kind}/groups", self._groups, methods=["GET", "POST"]),
            Route("/crm/v3/properties/{kind}", self._properties, methods=["GET", "POST"]),
            Route("/crm/v3/owners", self._owners, methods=["GET"]),
            Route("/crm/v3/owners/", self._owners, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    async def _gate(self, request: Request) -> Any:
        """Budget, faults and validation; the parsed body when the request may proceed."""
        now = time.monotonic()
        self.requests += 1
        while self._arrivals and self._arrivals[0] <= now - self.window:
            self._arrivals.popleft()
        self._arrivals.append(now)
        self.max_in_window = max(self.max_in_window, len(self._arrivals))
        f = self.faults
        if now < f.delay_until:
            await asyncio.sleep(f.delay)
        if now < f.down_until or f.down_at_least > 0:
            f.down_at_least = max(f.down_at_least - 1, 0)
            raise Refused(error(503, "Service unavailable", "SERVICE_UNAVAILABLE"))
        if f.fail_next > 0:
            f.fail_next -= 1
            raise Refused(error(f.fail_status, "internal error", "INTERNAL_ERROR"))
        if now < f.throttle_until or f.throttle_at_least > 0 or len(self._arrivals) > self.limit:
            f.throttle_at_least = max(f.throttle_at_least - 1, 0)
            self.throttled += 1
            raise Refused(self._too_many())
        body = await request.body()
        self._validate(request, body)
        self.calls[f"{request.method} {request.scope['route'].path}"] += 1
        return json.loads(body) if body else None

    def _too_many(self) -> JSONResponse:
        response = error(
            429,
            "You have reached your ten_secondly_rolling limit.",
            "RATE_LIMITS",
            errorType="RATE_LIMIT",
            policyName="TEN_SECONDLY_ROLLING",
        )
        response.headers.update(
            {
                "Retry-After": "1",
                "X-HubSpot-RateLimit-Max": str(self.limit),
                "X-HubSpot-RateLimit-Remaining": "0",
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window * 1000)),
            }
        )
        return response

    def _validate(self, request: Request, body: bytes) -> None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            self._refuse(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        if f"{request.method} {request.scope['route'].path}" in self.unscoped:
            needed = {"requiredGranularScopes": ["crm.schemas.contacts.write"]}
            detail = [{"message": "One or more of the following scopes are required.", "context": needed}]
            message = "This app hasn't been granted all required scopes to make this call."
            raise Refused(error(403, message, "MISSING_SCOPES", errors=detail))
        try:
            self._openapi.validate_request(StarletteOpenAPIRequest(request, body or None))
            return  # covered by the contract subset, and valid
        except (PathNotFound, OperationNotFound):
            pass  # not in the subset: check it against the documented shape below
        except Exception as exc:
            self._refuse(400, f"Invalid input JSON: {exc}"[:500])
        key = (request.method, request.scope["route"].path)
        if key == ("POST", "/crm/v3/objects/{kind}/search"):
            schema_errors = [e.message for e in self._search_schema.iter_errors(json.loads(body or b"null"))]
            if schema_errors:
                self._refuse(400, f"Invalid input JSON: {schema_errors[0]}")
            return
        if key not in DOCUMENTED:
            self._refuse(404, f"no such endpoint in the fake: {key[0]} {key[1]}", "OBJECT_NOT_FOUND")
        schema = DOCUMENTED[key]
        if schema is not None:
            try:
                jsonschema.validate(json.loads(body or b"null"), schema)
            except (ValueError, jsonschema.ValidationError) as exc:
                self._refuse(400, f"Invalid input JSON: {getattr(exc, 'message', exc)}"[:500])

    def _refuse(self, status: int, message: str, category: str = "VALIDATION_ERROR") -> None:
        self.refused.append(message)
        raise Refused(error(status, message, category))

    # -- objects ---------------------------------------------------------------------------

    def _kind(self, request: Request) -> str:
        kind = str(request.path_params["kind"])
        if kind not in self.objects:
            self._refuse(400, f"Unable to infer object type from: {kind}", "OBJECT_NOT_FOUND")
        return kind

    def _unique(self, kind: str) -> set[str]:
        custom = {n for n, p in self.properties[kind].items() if p.get("hasUniqueValue")}
        return UNIQUE_BUILTIN.get(kind, {"hs_object_id"}) | custom

    def _find(self, kind: str, value: str, id_property: str | None) -> dict[str, Any] | None:
        if not id_property or id_property == "hs_object_id":
            # An earlier id of a merged record answers with the merged record (and its new id).
            return self.objects[kind].get(self.merged_into.get(value, value))
        if id_property not in self._unique(kind):
            self._refuse(400, f"{id_property} is not a unique property of {kind}")
        wanted = value.lower() if id_property == "email" else value
        object_id = self._index_of(kind, id_property).get(wanted)
        return self.objects[kind].get(object_id) if object_id else None

    def _index_of(self, kind: str, prop: str) -> dict[str, str]:
        if (kind, prop) not in self._index:
            self._index[(kind, prop)] = {
                str(o["properties"][prop]): i
                for i, o in self.objects[kind].items()
                if o["properties"].get(prop)
            }
        return self._index[(kind, prop)]

    def _reindex(self, kind: str, record: dict[str, Any], old: dict[str, Any]) -> None:
        for (k, prop), index in self._index.items():
            if k != kind:
                continue
            if old.get(prop) and index.get(str(old[prop])) == record["id"]:
                del index[str(old[prop])]
            if record["properties"].get(prop):
                index[str(record["properties"][prop])] = record["id"]

    def _check_props(self, kind: str, props: dict[str, Any], own_id: str | None = None) -> dict[str, Any]:
        props = {k: (v.lower() if k == "email" and v else v) for k, v in props.items()}
        owner = props.get("hubspot_owner_id")
        if owner and owner not in {o["id"] for o in self.owners}:
            # A business rule, not a contract breach: not recorded in ``refused``.
            raise Refused(error(400, f"Property values were not valid: {owner} is not a valid owner id"))
        for name in self._unique(kind) - {"hs_object_id"}:
            value = props.get(name)
            holder = self._index_of(kind, name).get(str(value)) if value else None
            if holder is not None and holder != own_id:
                raise Refused(error(409, f"A {kind[:-1]} with {name} {value} already exists", "CONFLICT"))
        return props

    def _create(self, kind: str, props: dict[str, Any]) -> dict[str, Any]:
        props = self._check_props(kind, props)
        object_id, stamp = str(next(self._ids)), _now()
        record = {
            "id": object_id,
            "properties": {**props, "hs_object_id": object_id, "createdate": stamp},
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        self.objects[kind][object_id] = record
        self._reindex(kind, record, {})
        return record

    def _update(self, kind: str, record: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
        old = dict(record["properties"])
        record["properties"].update(self._check_props(kind, props, record["id"]))
        record["updatedAt"] = _now()
        self._reindex(kind, record, old)
        return record

    @staticmethod
    def _view(record: dict[str, Any], wanted: list[str] | None = None) -> dict[str, Any]:
        props = record["properties"]
        shown = {k: props.get(k) for k in wanted} if wanted else dict(props)
        return {**record, "properties": shown}

    @staticmethod
    def _batch(results: list[dict[str, Any]], errors: list[dict[str, Any]] | None = None) -> JSONResponse:
        stamp = _now()
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if errors:
            body |= {"errors": errors, "numErrors": len(errors)}
        return JSONResponse(body, status_code=207 if errors else 200)

    async def _handle(self, request: Request, work: Any) -> Response:
        try:
            body = await self._gate(request)
            return await work(body)  # type: ignore[no-any-return]
        except Refused as refused:
            return refused.response

    async def _batch_read(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            kind = self._kind(request)
            found, missing = [], []
            for item in body["inputs"]:
                record = self._find(kind, item["id"], body.get("idProperty"))
                if record is None:
                    missing.append(item["id"])
                else:
                    found.append(self._view(record, [*body.get("properties", []), "hs_object_id"]))
            errors = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {kind} objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            ]
            return self._batch(found, errors if missing else None)

        return await self._handle(request, work)

    async def _batch_create(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            kind = self._kind(request)
            inputs = body["inputs"]
            # Validate all before creating any: a conflict on a unique property refuses the batch.
            for n, item in enumerate(inputs):
                self._check_props(kind, item["properties"])
                for name in self._unique(kind) - {"hs_object_id"}:
                    value = item["properties"].get(name)
                    if value and any(o["properties"].get(name) == value for o in inputs[:n]):
                        self._refuse(409, f"Duplicate {name} {value} in batch input", "CONFLICT")
            for item in inputs:
                for a in item.get("associations", []):
                    if a["to"]["id"] not in self.objects["contacts"]:
                        self._refuse(400, f"No contacts {a['to']['id']}", "OBJECT_NOT_FOUND")
            created = []
            for item in inputs:
                record = self._create(kind, item["properties"])
                created.append(record)
                for a in item.get("associations", []):  # inline: to a contact (202 notes, 204 tasks)
                    for t in a["types"]:
                        self.associations.add(
                            (kind, record["id"], "contacts", a["to"]["id"], int(t["associationTypeId"]))
                        )
            response = self._batch([self._view(r) for r in created])
            response.status_code = 201
            return response

        return await self._handle(request, work)

    async def _batch_update(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            kind = self._kind(request)
            ids = [i["id"] for i in body["inputs"]]
            if len(set(ids)) != len(ids):
                self._refuse(400, "Duplicate IDs found in batch input")
            # A record that is gone (deleted, or merged away by id property) is left out of the
            # results: a 207 multi-status, as for a batch read; the others are still updated.
            found, missing = [], []
            for item in body["inputs"]:
                record = self._find(kind, item["id"], item.get("idProperty"))
                if record is None:
                    missing.append(item["id"])
                else:
                    found.append((record, item))
            # Validate all before changing any: a bad value makes HubSpot refuse the whole batch.
            for record, item in found:
                self._check_props(kind, item["properties"], record["id"])
            updated = [self._update(kind, r, i["properties"]) for r, i in found]
            errors = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not find some {kind} objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            ]
            return self._batch([self._view(r) for r in updated], errors if missing else None)

        return await self._handle(request, work)

    async def _batch_upsert(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            kind = self._kind(request)
            results = []
            for item in body["inputs"]:
                id_property = item["idProperty"]
                record = self._find(kind, item["id"], id_property)
                props = {**item["properties"], id_property: item["id"]}
                if record is None:
                    results.append({**self._view(self._create(kind, props)), "new": True})
                else:
                    results.append({**self._view(self._update(kind, record, props)), "new": False})
            return self._batch(results)

        return await self._handle(request, work)

    async def _search(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            kind = self._kind(request)
            hits = [o for o in self.objects[kind].values() if self._matches(o, body)]
            for sort in reversed(body.get("sorts") or []):
                name, descending = _sort_key(sort)

                def by(record: dict[str, Any], name: str = name) -> tuple[int, float | str]:
                    return _comparable(record["properties"].get(name))

                hits.sort(key=by, reverse=descending)
            start = int(body.get("after") or 0)
            limit = int(body.get("limit") or 10)
            if start + limit > SEARCH_WINDOW:
                # HubSpot: "limited to 10,000 total results for any given query"; past it, a 400.
                self._refuse(400, f"Search results are limited to {SEARCH_WINDOW}: after {start} is past it")
            page = hits[start : start + limit]
            answer: dict[str, Any] = {
                "total": len(hits),
                "results": [self._view(o, body.get("properties")) for o in page],
            }
            if start + limit < len(hits):
                answer["paging"] = {"next": {"after": str(start + limit)}}
            return JSONResponse(answer)

        return await self._handle(request, work)

    @staticmethod
    def _matches(record: dict[str, Any], body: dict[str, Any]) -> bool:
        props = record["properties"]
        query = str(body.get("query") or "").lower()
        if query and not any(query in str(v).lower() for v in props.values() if v):
            return False
        groups = body.get("filterGroups") or []
        if not groups:
            return True
        for group in groups:
            ok = True
            for f in group["filters"]:
                value, op = props.get(f["propertyName"]), f["operator"]
                wanted = f.get("value")
                if op == "EQ":
                    ok &= value is not None and str(value).lower() == str(wanted).lower()
                elif op == "IN":
                    ok &= value in f.get("values", [])
                elif op == "GTE":
                    ok &= value is not None and _comparable(value) >= _comparable(wanted)
                elif op == "GT":
                    ok &= value is not None and _comparable(value) > _comparable(wanted)
                elif op == "HAS_PROPERTY":
                    ok &= bool(value)
            if ok:
                return True
        return False

    async def _one(self, request: Request) -> Response:
        async def work(body: dict[str, Any] | None) -> Response:
            kind = self._kind(request)
            id_property = request.query_params.get("idProperty")
            record = self._find(kind, str(request.path_params["object_id"]), id_property)
            if record is None:
                return error(404, "Object not found", "OBJECT_NOT_FOUND")
            if request.method == "PATCH":
                assert body is not None
                return JSONResponse(self._view(self._update(kind, record, body["properties"])))
            # HubSpot takes ?properties=a,b and ?properties=a&properties=b alike.
            wanted = [
                p for given in request.query_params.getlist("properties") for p in given.split(",") if p
            ]
            return JSONResponse(self._view(record, wanted or None))

        return await self._handle(request, work)

    async def _create_one(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            kind = self._kind(request)
            record = self._create(kind, body["properties"])
            for a in body.get("associations", []):
                for t in a["types"]:
                    self.associations.add(
                        (kind, record["id"], "contacts", a["to"]["id"], t["associationTypeId"])
                    )
            return JSONResponse(self._view(record), status_code=201)

        return await self._handle(request, work)

    async def _associate(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            src, dst = str(request.path_params["src"]), str(request.path_params["dst"])
            results = []
            for item in body["inputs"]:
                a, b = item["from"]["id"], item["to"]["id"]
                if a not in self.objects.get(src, {}) or b not in self.objects.get(dst, {}):
                    self._refuse(400, f"No {src} {a} or no {dst} {b}", "OBJECT_NOT_FOUND")
                for t in item["types"]:
                    self.associations.add((src, a, dst, b, int(t["associationTypeId"])))
                results.append(
                    {
                        "fromObjectTypeId": TYPE_IDS[src],
                        "fromObjectId": a,
                        "toObjectTypeId": TYPE_IDS[dst],
                        "toObjectId": b,
                        "labels": [],
                    }
                )
            stamp = _now()
            return JSONResponse(
                {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp},
                status_code=201,
            )

        return await self._handle(request, work)

    async def _gdpr_delete(self, request: Request) -> Response:
        async def work(body: dict[str, Any]) -> Response:
            record = self._find("contacts", body["objectId"], body.get("idProperty"))
            if record is None and body.get("idProperty") == "email":
                # HubSpot documents it: an email no contact has is added to the portal's blocklist,
                # for good, and the call succeeds.
                self.blocklist.add(str(body["objectId"]).lower())
                return Response(status_code=204)
            if record is None:
                return error(404, "Object not found", "OBJECT_NOT_FOUND")
            del self.objects["contacts"][record["id"]]
            self._reindex("contacts", {"id": record["id"], "properties": {}}, record["properties"])
            self.associations = {a for a in self.associations if record["id"] not in (a[1], a[3])}
            return Response(status_code=204)

        return await self._handle(request, work)

    async def _properties(self, request: Request) -> Response:
        async def work(body: dict[str, Any] | None) -> Response:
            kind = self._kind(request)
            if request.method == "GET":
                return JSONResponse({"results": list(self.properties[kind].values())})
            assert body is not None
            if body["name"] in self.properties[kind]:
                return error(409, f"Property named '{body['name']}' already exists.", "OBJECT_ALREADY_EXISTS")
            stamp = _now()
            self.properties[kind][body["name"]] = {
                **body,
                "createdAt": stamp,
                "updatedAt": stamp,
                "options": body.get("options", []),
            }
            return JSONResponse(self.properties[kind][body["name"]], status_code=201)

        return await self._handle(request, work)

    async def _groups(self, request: Request) -> Response:
        async def work(body: dict[str, Any] | None) -> Response:
            kind = self._kind(request)
            have = self.groups.setdefault(kind, {f"{kind[:-1]}information"})
            if request.method == "GET":
                return JSONResponse(
                    {
                        "results": [
                            {"name": g, "label": g, "displayOrder": -1, "archived": False}
                            for g in sorted(have)
                        ]
                    }
                )
            assert body is not None
            if body["name"] in have:
                return error(409, f"Group '{body['name']}' already exists.", "OBJECT_ALREADY_EXISTS")
            have.add(body["name"])
            return JSONResponse(
                {**body, "displayOrder": body.get("displayOrder", -1), "archived": False}, status_code=201
            )

        return await self._handle(request, work)

    async def _owners(self, request: Request) -> Response:
        async def work(_: Any) -> Response:
            start = int(request.query_params.get("after") or 0)
            limit = int(request.query_params.get("limit") or 100)
            # Like HubSpot: archived=false (the default) lists current owners, archived=true the others.
            archived = request.query_params.get("archived", "false").lower() == "true"
            owners = [o for o in self.owners if bool(o.get("archived")) == archived]
            answer: dict[str, Any] = {"results": owners[start : start + limit]}
            if start + limit < len(owners):
                answer["paging"] = {"next": {"after": str(start + limit)}}
            return JSONResponse(answer)

        return await self._handle(request, work)


@asynccontextmanager
async def running(fake: HubSpotFake) -> AsyncIterator[str]:
    """Serve ``fake`` on a free loopback port; yields its base URL."""
    async with serve(fake.app) as url:
        yield url
