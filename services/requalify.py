"""Requalify what is already in a CRM: records are read page by page through its CrmReader, locked
ones skipped, and each published as a LeadReceived on leads.received (the same pipeline as a new lead).

Idempotent: a record's event id is ``requalify:<crm>:<record id>:<hash>``, the hash over the lead as
read and the config version. A repeat run over unchanged records under the same rules publishes
nothing (the intake's dedupe claims, then the qualifier's and writer's event-id checks); a changed
record or a new config version is requalified. With ``accounts`` the companies get an ICP status
only (services.core.fit.icp_fit), which a CRM that can store it (Salesforce) also gets written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.crm.reader import CrmAccount, CrmReader, CrmRecord, Selection
from schemas.config import IcpConfig
from schemas.decision import FitResult
from schemas.enrichment import CompanyFacts
from schemas.events import TOPIC_RECEIVED, LeadReceived
from schemas.lead import lead_id_for
from services.bootstrap import Container, CrmNotConfigured, make_crm
from services.core.fit import icp_fit
from services.intake.publish import Inbound, Outcome

SOURCE = "requalify"
CRMS = ("local", "hubspot", "salesforce")
Progress = Callable[["Counts"], None]


class CannotRequalify(ValueError):
    """The request names no CRM this deployment can read, or not exactly one selection."""


def open_reader(name: str, container: Container) -> CrmReader:
    """The CRM to read: the local CRM of the store, or HubSpot / Salesforce from their settings."""
    if name not in CRMS:
        raise CannotRequalify(f"{name}: not a CRM ({', '.join(CRMS)})")
    try:
        crm = container.crms.get(name) or make_crm(
            name, container.settings, container.config, container.store
        )
    except CrmNotConfigured as exc:
        raise CannotRequalify(str(exc)) from exc
    assert isinstance(crm, CrmReader)  # every adapter make_crm builds can be read
    return crm


def selection_of(ids: Sequence[str], query: str | None, since: datetime | None) -> Selection:
    """Exactly one of the three ways to say which records."""
    named = tuple(i.strip() for i in ids if i.strip())  # "--ids ''" or a trailing comma names none
    given = [x for x in (named, query, since) if x]
    if len(given) != 1:
        raise CannotRequalify("give exactly one of ids, query or since")
    at = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
    return Selection(ids=named, query=query, since=at)


class Publishing(Protocol):
    async def publish(self, item: Inbound, now: datetime) -> Outcome: ...


@dataclass
class Counts:
    read: int = 0
    published: int = 0
    duplicates: int = 0
    locked: int = 0
    truncated: bool = False
    accounts: list[dict[str, Any]] = field(default_factory=list)


def inbound(record: CrmRecord, config_version: str, now: datetime) -> Inbound:
    """The event that requalifies ``record``; its id changes only with the record or the rules."""
    digest = hashlib.sha256(f"{config_version}\0{record.lead.model_dump_json()}".encode()).hexdigest()[:16]
    source_event_id = f"{record.crm}:{record.record_id}:{digest}"
    # The local CRM keys its records by lead_id: keep it, so the write lands on the same record.
    lead_id = record.record_id if record.crm == "local" else lead_id_for(record.lead.identity)
    event = LeadReceived(
        event_id=f"{SOURCE}:{source_event_id}",
        lead_id=lead_id,
        received_at=now,
        source_event_id=source_event_id,
        lead=record.lead,
    )
    return Inbound(SOURCE, source_event_id, TOPIC_RECEIVED, record.lead.identity or lead_id, event)


async def requalify_records(
    reader: CrmReader,
    publisher: Publishing,
    selection: Selection,
    *,
    config_version: str,
    now: datetime,
    page_size: int = 100,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Counts:
    counts = Counts()
    async for page in reader.records(selection, page_size):
        for record in page:
            if limit is not None and counts.read >= limit:
                counts.truncated = True
                return counts
            counts.read += 1
            if record.locked:
                counts.locked += 1
                continue
            outcome = await publisher.publish(inbound(record, config_version, now), now)
            if outcome is Outcome.PUBLISHED:
                counts.published += 1
            else:
                counts.duplicates += 1
        if progress is not None:
            progress(counts)
    return counts


def account_fit(account: CrmAccount, icp: IcpConfig) -> FitResult:
    facts = CompanyFacts(
        name=account.name,
        domain=account.domain,
        industry=account.industry,
        employees=account.employees,
        revenue=account.revenue,
        country=account.country,
    )
    return icp_fit(facts, icp)[0]


async def requalify_accounts(
    reader: CrmReader,
    selection: Selection,
    icp: IcpConfig,
    *,
    page_size: int = 100,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Counts:
    """ICP status per account; written back when the CRM has ``write_account_icp`` (Salesforce)."""
    counts = Counts()
    write = getattr(reader, "write_account_icp", None)
    async for page in reader.accounts(selection, page_size):
        results = []
        for account in page:
            if limit is not None and counts.read >= limit:
                counts.truncated = True
                break
            counts.read += 1
            fit = account_fit(account, icp)
            results.append((account.record_id, fit.status.value))
            counts.accounts.append(
                {
                    "record_id": account.record_id,
                    "name": account.name,
                    "icp": fit.status.value,
                    "reason": fit.reason,
                }
            )
        if write is not None and results:
            counts.published += await write(results)
        if progress is not None:
            progress(counts)
        if counts.truncated:
            break
    return counts
