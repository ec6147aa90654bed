"""HubSpot write-back through hubspot-api-client, in batches of up to 100 events.

A batch of new events costs three calls, whatever its size up to 100 (one more per 100 tasks,
deadlines and email drafts together):

1. batch read the contacts (by HubSpot id, email, or Leadflow lead id): lock, last event id,
   decided-at;
2. batch upsert them by email (or lead id; batch update for those known by HubSpot id): who they
   are when new, the decision (score, tier, status, reasons, versions, owner, last event id);
3. batch create the briefing notes, and the tasks (first-touch deadline; email draft, under
   ``<event_id>:draft``), with their associations (note->contact 202, task->contact 204) inline.

Notes and tasks carry the event id in a unique property, so one can never be made twice: a
contact that already carries the event id (redelivered after a crash between 2 and 3) gets its
notes and tasks by upsert on that property and an association, both idempotent, instead of a
create; a create HubSpot refuses as a conflict (a note already there) falls back to the same.
A contact decided later than the event (an older event redelivered) keeps its newer decision
and still gets the event's note. A locked contact keeps its status and owner.

A call HubSpot refuses as a whole (a 4xx) is split in halves until the refused records are
found, so one bad record fails alone and the rest of the batch is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from connectors.crm import BatchResult, WriteAction, WriteOutcome
from connectors.crm.hubspot_api import HubSpotApi, HubSpotRejected
from connectors.crm.hubspot_props import ensure_properties
from connectors.crm.hubspot_reader import HubSpotReader
from connectors.crm.hubspot_records import (
    NOTE_TO_CONTACT,
    TASK_TO_CONTACT,
    FindBy,
    Target,
    association,
    contact_properties,
    identity_properties,
    is_locked,
    linked,
    note_input,
    owner_id,
    parse_time,
    target_for,
    task_inputs,
)
from connectors.crm.resilience import Guard, Limits
from connectors.errors import ConnectorError, FatalConnectorError
from schemas.crm import HubSpotCrm as HubSpotConfig
from schemas.events import LeadRouted

T = TypeVar("T")
MAX_BATCH = 100  # HubSpot's batch endpoints take up to 100 inputs
MERGED_IDS = "hs_merged_object_ids"  # a merged contact's earlier ids, ";"-separated


def limits_from(config: HubSpotConfig) -> Limits:
    return Limits(**config.limits.model_dump())


class HubSpotCrm(HubSpotReader):
    name = "hubspot"
    max_batch = MAX_BATCH

    def __init__(
        self, token: str, config: HubSpotConfig, *, base_url: str | None = None, guard: Guard | None = None
    ) -> None:
        self.config = config
        self.guard = guard or Guard(self.name, limits_from(config))
        super().__init__(HubSpotApi(token, self.guard, base_url), config)
        self._ready, self._ready_lock = False, asyncio.Lock()

    async def start(self) -> None:
        """Nothing on the network: a process must start (and serve probes) while HubSpot is away.
        The properties are checked, and created if missing, before the first write."""
        return None

    async def _ensure_ready(self) -> None:
        async with self._ready_lock:
            if not self._ready:
                await ensure_properties(self.api, self.config)
                self._ready = True

    async def close(self) -> None:
        await self.api.close()

    async def write(self, routed: LeadRouted) -> WriteOutcome:
        (result,) = await self.write_many([routed])
        if isinstance(result, ConnectorError):
            raise result
        return result

    async def write_many(self, batch: Sequence[LeadRouted]) -> list[BatchResult]:
        await self._ensure_ready()
        results: list[BatchResult | None] = [None] * len(batch)
        targets = [target_for(i, routed, self.config) for i, routed in enumerate(batch)]
        await self._read(targets, results)
        last_event = self.config.property_for("last_event_id")
        todo = [t for t in targets if results[t.index] is None]
        # The contact carries this event already: written before a crash, its notes maybe not.
        again = [t for t in todo if t.current.get(last_event) == t.routed.event_id]
        fresh = [t for t in todo if t.current.get(last_event) != t.routed.event_id]
        redelivered = {t.index for t in again}
        await self._write_contacts(fresh, results)
        await self._notes_and_tasks([t for t in fresh if results[t.index] is None], results, create=True)
        await self._notes_and_tasks(again, results, create=False)
        for t in todo:
            if results[t.index] is None:
                results[t.index] = WriteOutcome(
                    self.name, str(t.contact_id), self._action(t, t.index in redelivered)
                )
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _action(self, t: Target, again: bool) -> WriteAction:
        if again or t.stale:
            return WriteAction.UNCHANGED
        if is_locked(t.current, self.config):
            return WriteAction.LOCKED
        return (
            WriteAction.UPDATED
            if t.current.get(self.config.property_for("last_event_id"))
            else WriteAction.CREATED
        )

    # -- steps -----------------------------------------------------------------------------

    async def _read(self, targets: list[Target], results: list[BatchResult | None]) -> None:
        wanted = [self.config.property_for(f) for f in ("locked", "last_event_id", "decided_at", "lead_id")]
        wanted += ["email", "hubspot_owner_id", MERGED_IDS]
        lead_prop = self.config.property_for("lead_id")
        for by in ("id", "email", "lead_id"):
            group = [t for t in targets if t.by == by]
            if not group:
                continue
            body: dict[str, Any] = {"inputs": [{"id": t.key} for t in group], "properties": wanted}
            if by != "id":
                body["idProperty"] = "email" if by == "email" else lead_prop
            answer = await self.api.call("contacts.read", self.api.contacts_batch.read, body)
            found: dict[str, dict[str, Any]] = {}
            for record in answer.get("results", []):
                props = record.get("properties") or {}
                if by == "id":
                    # A merged contact answers under a new id: its earlier ids are in MERGED_IDS.
                    for key in [record["id"], *str(props.get(MERGED_IDS) or "").split(";")]:
                        if key:
                            found[key] = record
                    continue
                key = str(props.get("email" if by == "email" else lead_prop) or "")
                found[key.lower() if by == "email" else key] = record
            for t in group:
                record = found.get(t.key)
                if record is not None:
                    t.contact_id, t.current = str(record["id"]), record.get("properties") or {}
                elif by == "id":
                    results[t.index] = HubSpotRejected(f"hubspot: contact {t.key} not found", 404)

    async def _write_contacts(self, fresh: list[Target], results: list[BatchResult | None]) -> None:
        """One write per contact: update by id, upsert by email (or lead id), which creates the
        missing ones; the decision's properties, with who they are for a new contact."""
        decided = self.config.property_for("decided_at")
        latest: dict[object, Target] = {}
        for t in fresh:
            written_at = parse_time(t.current.get(decided))
            if t.contact_id is not None and written_at is not None and written_at > t.routed.decided_at:
                t.stale = True  # an older event redelivered after a newer one: the newer decision stays
            else:
                # Two leads of one batch on one contact: the later event's decision is the one kept.
                latest[t.contact_id or (t.by, t.key)] = t
        writes = list(latest.values())
        by_id = [t for t in writes if t.by == "id"]
        if by_id:

            async def update(items: list[Target]) -> None:
                await self._update(items, results)

            await self._split(by_id, update, results)
        lead_prop = self.config.property_for("lead_id")
        ways: tuple[tuple[FindBy, str], ...] = (("email", "email"), ("lead_id", lead_prop))
        for by, id_property in ways:
            group = [t for t in writes if t.by == by]

            async def upsert(items: list[Target], id_property: str = id_property, by: FindBy = by) -> None:
                answer = await self.api.call(
                    "contacts.upsert",
                    self.api.contacts_batch.upsert,
                    {"inputs": [self._upsert_input(t, id_property) for t in items]},
                )
                ids = {}
                for record in answer.get("results", []):
                    key = str((record.get("properties") or {}).get(id_property) or "")
                    ids[key.lower() if by == "email" else key] = str(record["id"])
                for t in items:
                    t.contact_id = ids.get(t.key)
                    if t.contact_id is None:
                        results[t.index] = FatalConnectorError("hubspot: upsert returned no contact")

            if group:
                await self._split(group, upsert, results)
        # The other events of a contact written once: its id, or its write's failure.
        for t in fresh:
            winner = latest.get(t.contact_id or (t.by, t.key))
            if t.contact_id is None and winner is not None and winner is not t:
                t.contact_id = winner.contact_id
                if t.contact_id is None:
                    results[t.index] = FatalConnectorError("hubspot: upsert returned no contact")

    def _upsert_input(self, t: Target, id_property: str) -> dict[str, Any]:
        properties = identity_properties(t, self.config) if t.contact_id is None else {}
        properties |= contact_properties(t.routed, self.config, locked=is_locked(t.current, self.config))
        properties[id_property] = t.key
        return {"idProperty": id_property, "id": t.key, "properties": properties}

    async def _update(self, items: list[Target], results: list[BatchResult | None]) -> None:
        """Batch update by id; a contact HubSpot leaves out of its answer (a 207 multi-status: deleted
        or merged since the read) fails alone, before any note is made for it."""
        inputs = [
            {
                "id": str(t.contact_id),
                "properties": contact_properties(
                    t.routed, self.config, locked=is_locked(t.current, self.config)
                ),
            }
            for t in items
        ]
        answer = await self.api.call("contacts.update", self.api.contacts_batch.update, {"inputs": inputs})
        updated = {str(record.get("id")) for record in answer.get("results", [])}
        for t in items:
            if str(t.contact_id) not in updated:
                results[t.index] = HubSpotRejected(f"hubspot: contact {t.contact_id} not updated", 404)

    async def _notes_and_tasks(
        self, todo: list[Target], results: list[BatchResult | None], *, create: bool
    ) -> None:
        for kind, batch_api, type_id in (
            ("notes", self.api.notes_batch, NOTE_TO_CONTACT),
            ("tasks", self.api.tasks_batch, TASK_TO_CONTACT),
        ):
            group = [t for t in todo if results[t.index] is None and self._records(kind, t)]
            if not group:
                continue

            async def write(
                items: list[Target], kind: str = kind, batch_api: Any = batch_api, type_id: int = type_id
            ) -> None:
                # A deadline task and a draft task per event at most: chunks keep each call <= 100.
                for chunk in _chunks(items, kind, self._records):
                    if create:
                        try:
                            await self._create_linked(chunk, kind, batch_api, type_id, results)
                            continue
                        except HubSpotRejected:
                            # Most likely a record of this event is there already (a conflict on its
                            # unique event id): the upsert below finds it; a bad record fails it too.
                            pass
                    await self._upsert_and_link(chunk, kind, batch_api, type_id, results)

            await self._split(group, write, results)

    def _records(self, kind: str, t: Target) -> list[dict[str, Any]]:
        """The notes (one briefing) or tasks (deadline, email draft) one event writes, as upserts."""
        if kind == "notes":
            return [note_input(t.routed, self.config, self._owner(t))]
        return task_inputs(t.routed, self.config, self._owner(t))

    async def _create_linked(
        self, items: list[Target], kind: str, batch_api: Any, type_id: int, results: list[BatchResult | None]
    ) -> None:
        """One call: the records, each created with its association to the contact."""
        per_event = [(t, self._records(kind, t)) for t in items]
        inputs = [
            {"properties": record["properties"], "associations": [linked(str(t.contact_id), type_id)]}
            for t, records in per_event
            for record in records
        ]
        answer = await self.api.call(f"{kind}.create", batch_api.create, {"inputs": inputs})
        self._check_returned(per_event, kind, answer, results)

    async def _upsert_and_link(
        self, items: list[Target], kind: str, batch_api: Any, type_id: int, results: list[BatchResult | None]
    ) -> None:
        per_event = [(t, self._records(kind, t)) for t in items]
        inputs = [record for _, records in per_event for record in records]
        answer = await self.api.call(f"{kind}.upsert", batch_api.upsert, {"inputs": inputs})
        ids = self._check_returned(per_event, kind, answer, results)
        links = [
            association(ids[str(r["id"])], str(t.contact_id), type_id)
            for t, records in per_event
            if results[t.index] is None
            for r in records
        ]
        if links:
            await self.api.call(
                f"{kind}.associate", self.api.associations.create, kind, "contacts", {"inputs": links}
            )

    def _check_returned(
        self,
        per_event: list[tuple[Target, list[dict[str, Any]]]],
        kind: str,
        answer: dict[str, Any],
        results: list[BatchResult | None],
    ) -> dict[str, str]:
        """Event id -> record id as HubSpot answered; an event missing any of its records fails."""
        prop = self.config.event_id_property
        ids = {str((r.get("properties") or {}).get(prop)): str(r["id"]) for r in answer.get("results", [])}
        for t, records in per_event:
            if not all(str(r["id"]) in ids for r in records):
                results[t.index] = FatalConnectorError(f"hubspot: {kind} write returned no record")
        return ids

    # -- helpers ---------------------------------------------------------------------------

    def _owner(self, t: Target) -> str | None:
        if is_locked(t.current, self.config):
            return t.current.get("hubspot_owner_id") or None
        return owner_id(t.routed.routing.owner, self.config)

    async def _split(
        self,
        items: list[Target],
        step: Callable[[list[Target]], Awaitable[None]],
        results: list[BatchResult | None],
    ) -> None:
        """Run ``step`` on all; when HubSpot refuses the call, on halves, down to the refused record."""
        try:
            await step(items)
        except FatalConnectorError as exc:
            if len(items) == 1:
                results[items[0].index] = exc
                return
            middle = len(items) // 2
            await self._split(items[:middle], step, results)
            await self._split(items[middle:], step, results)


def _chunks(
    items: list[Target], kind: str, records: Callable[[str, Target], list[dict[str, Any]]]
) -> list[list[Target]]:
    """Events grouped so no call carries more than MAX_BATCH records."""
    chunks: list[list[Target]] = [[]]
    size = 0
    for t in items:
        n = len(records(kind, t))
        if size + n > MAX_BATCH and chunks[-1]:
            chunks.append([])
            size = 0
        chunks[-1].append(t)
        size += n
    return chunks
