"""Enrichment: providers behind one small Protocol, run in order as a waterfall.

Each provider fills some field paths ("email", "company.industry", ...) with a confidence. The
waterfall starts from what the lead said itself, asks each provider in the configured order,
and keeps for every field the surest value and who gave it (provenance). Cheap, local providers
go first; paid ones are asked only while a needed field is still unsure. A provider that fails,
hangs or has nothing to say costs the lead nothing but that provider's answer: enrichment never
stops a lead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
from cachetools import TTLCache
from pydantic import SecretStr, TypeAdapter

from connectors.enrichment.crm import AccountDirectory, CrmProvider
from connectors.enrichment.domain_finder import DomainFinderProvider, NameIndex
from connectors.enrichment.email import EmailProvider
from connectors.enrichment.firmographics import FirmographicsProvider, FirmographicTable, normalise_domain
from connectors.enrichment.http import HttpProvider
from connectors.enrichment.phone import PhoneProvider
from connectors.enrichment.title import TitleProvider
from connectors.errors import ConnectorError
from schemas import enrichment_config as cfg
from schemas.enrichment import CompanyFacts, Enrichment, Patch, Provenance, ProviderCall
from schemas.lead import Lead

log = logging.getLogger(__name__)

LEAD = "lead"  # the provenance of what the lead said itself
# Self-reported and often rounded or aspirational: a table or an API may confirm or correct them.
SELF_REPORTED = {"company.industry": 0.7, "company.employees": 0.7}
# Whole facts objects a provider fills at once (email, phone, title, account, contact...).
FACTS = tuple(f for f in Enrichment.model_fields if f not in ("company", "provenance", "calls"))
PATHS = frozenset({*FACTS, *(f"company.{f}" for f in CompanyFacts.model_fields)})
TABLED = ("firmographics", "domain_finder")  # the providers that read the firmographic table
Step = tuple[Enrichment, ProviderCall]


class Provider(Protocol):
    """One source of facts. ``key`` is its cache key for a lead, or None when it cannot help."""

    name: str
    cost_per_call: float  # USD per call made (cache hits and skips are free)
    fills: frozenset[str]  # the paths it can fill
    # Optional: True for a provider that answers from memory without awaiting anything. The
    # waterfall sets no timeout on it (a timeout only fires at an await: it could not interrupt
    # one anyway, and its timer cost a tenth of a local lookup).

    def key(self, lead: Lead, so_far: Enrichment) -> str | None: ...

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None: ...


def merge(so_far: Enrichment, patch: Patch, provider: str) -> Enrichment:
    """Set each path of ``patch`` unless it is already known at least as surely.

    Ties keep the earlier value: providers run in order of preference. Values are validated, so
    a provider returning the wrong type fails here (and the waterfall records an error).
    """
    facts, company = dict[str, Any](), dict[str, Any]()
    provenance = dict(so_far.provenance)
    for path, value in patch.values.items():
        if path not in PATHS:
            raise ValueError(f"{provider} filled an unknown path: {path}")
        known = so_far.provenance.get(path)
        if value in (None, "", ()) or (known is not None and known.confidence >= patch.confidence):
            continue
        if path.startswith("company."):
            company[path.removeprefix("company.")] = value
        else:
            facts[path] = value
        provenance[path] = Provenance(provider=provider, confidence=patch.confidence)
    if not (facts or company):
        return so_far
    # Only what the patch sets is validated (each against its field's type): revalidating the
    # whole Enrichment for every patch was a fifth of a local lookup's cost.
    update = {name: _FIELD_TYPES[name].validate_python(value) for name, value in facts.items()}
    if company:
        checked = {name: _COMPANY_TYPES[name].validate_python(value) for name, value in company.items()}
        update["company"] = so_far.company.model_copy(update=checked)
    update["provenance"] = provenance
    return so_far.model_copy(update=update)


# Each field's type with its constraints (NonNegativeInt and the like), built once.
_FIELD_TYPES = {name: TypeAdapter(Enrichment.model_fields[name].rebuild_annotation()) for name in FACTS}
_COMPANY_TYPES = {name: TypeAdapter(f.rebuild_annotation()) for name, f in CompanyFacts.model_fields.items()}


def from_lead(lead: Lead) -> Enrichment:
    """What the lead said about its company, as the waterfall's starting point."""
    said = lead.company
    company = CompanyFacts(
        name=(said.name or "").strip() or None,
        domain=normalise_domain(said.domain),
        industry=(said.industry or "").strip() or None,
        employees=said.employees,
        revenue=said.revenue,
        country=(said.country or "").strip().upper() or None,
    )
    provenance = {
        f"company.{field}": Provenance(provider=LEAD, confidence=SELF_REPORTED.get(f"company.{field}", 1.0))
        for field, value in company.model_dump().items()
        if value not in (None, ())
    }
    return Enrichment(company=company, provenance=provenance)


class Waterfall:
    """Runs providers in order, each behind its own TTL cache, and those that wait on a server
    (not ``in_memory``) under a timeout.

    ``timeouts`` and ``ttls`` are seconds, one for all or by provider name (a TTL of 0: no cache);
    ``timer`` is the caches' clock, injectable for tests.
    """

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        needed: Iterable[str] = (),
        min_confidence: float = 0.8,
        timeouts: Mapping[str, float] | float = 5.0,
        ttls: Mapping[str, float] | float = 0.0,
        cache_size: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.providers, self.needed, self.min_confidence = tuple(providers), frozenset(needed), min_confidence
        self._timeouts = {
            p.name: _per(timeouts, p.name, 5.0) for p in self.providers if not getattr(p, "in_memory", False)
        }
        self._caches: dict[str, TTLCache[str, Patch | None]] = {
            p.name: TTLCache(maxsize=cache_size, ttl=ttl, timer=timer)
            for p in self.providers
            if (ttl := _per(ttls, p.name, 0.0)) > 0
        }

    def confident(self, enrichment: Enrichment, paths: Iterable[str]) -> bool:
        found = enrichment.provenance
        return all(p in found and found[p].confidence >= self.min_confidence for p in paths)

    async def enrich(self, lead: Lead) -> Enrichment:
        """The lead's facts, completed by every provider that could add to them; never raises."""
        enrichment, calls = from_lead(lead), []
        for provider in self.providers:
            enrichment, call = await self._call(provider, lead, enrichment)
            calls.append(call)
        return enrichment.model_copy(update={"calls": tuple(calls)})

    async def _call(self, provider: Provider, lead: Lead, so_far: Enrichment) -> Step:
        name, cache = provider.name, self._caches.get(provider.name)
        skipped = ProviderCall(provider=name, outcome="skipped")
        if provider.fills and self.confident(so_far, provider.fills):
            return so_far, skipped
        if provider.cost_per_call > 0 and self.needed and self.confident(so_far, self.needed):
            return so_far, skipped  # everything needed is known: no more paid calls
        started, spent = time.perf_counter(), 0.0  # nothing is billed until a lookup starts
        try:
            key = provider.key(lead, so_far)
            if key is None:
                return so_far, skipped
            if cache is not None and key in cache:
                outcome, patch = "cached", cache[key]
            else:
                spent = provider.cost_per_call
                timeout = self._timeouts.get(name)
                if timeout is None:  # in memory: nothing to wait for
                    patch = await provider.lookup(lead, so_far)
                else:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for runs each lookup as a task
                    # of its own, a third of a local provider's cost.
                    async with asyncio.timeout(timeout):
                        patch = await provider.lookup(lead, so_far)
                outcome = "ok" if patch else "empty"
            merged = merge(so_far, patch, name) if patch else so_far
        except TimeoutError:
            log.warning("enrichment provider timed out: provider=%s", name)
            return so_far, _spent(name, "timeout", started, spent)
        except Exception as exc:  # isolation: one provider's bug or outage never stops a lead
            # Only our own messages are logged: a foreign one may quote the lead.
            reason = str(exc) if isinstance(exc, ConnectorError) else ""
            log.warning("enrichment provider error: provider=%s %s %s", name, type(exc).__name__, reason)
            return so_far, _spent(name, "error", started, spent)
        if cache is not None and outcome != "cached":
            cache[key] = patch  # "nothing known" is cached too: asking again would cost the same
        return merged, _spent(name, outcome, started, spent)

    async def aclose(self) -> None:
        """Close what providers hold open (the HTTP provider's connection pool)."""
        for close in filter(None, (getattr(p, "aclose", None) for p in self.providers)):
            await close()


def _per(value: Mapping[str, float] | float, name: str, default: float) -> float:
    return value.get(name, default) if isinstance(value, Mapping) else value


def _spent(name: str, outcome: Any, started: float, cost: float) -> ProviderCall:
    # A call that was started counts its cost even if it failed: the vendor may well bill it.
    ms = (time.perf_counter() - started) * 1000
    return ProviderCall(provider=name, outcome=outcome, ms=ms, cost=cost)


def build_waterfall(
    config: cfg.EnrichmentConfig,
    *,
    config_dir: Path,
    api_key: SecretStr | None = None,
    accounts: AccountDirectory | None = None,
    client: httpx.AsyncClient | None = None,
    timer: Callable[[], float] = time.monotonic,
) -> Waterfall:
    """The enabled providers in config order. Reads the firmographic table once, here."""
    enabled = [entry for entry in config.providers if entry.enabled]
    table, firmographics = None, config.provider("firmographics")
    if isinstance(firmographics, cfg.FirmographicsProvider) and any(e.name in TABLED for e in enabled):
        table = FirmographicTable.from_config(firmographics, config_dir)
    providers = [_provider(entry, table, api_key, accounts, client) for entry in enabled]
    return Waterfall(
        providers,
        needed=config.needed,
        min_confidence=config.min_confidence,
        timeouts={entry.name: entry.timeout_seconds for entry in enabled},
        ttls={entry.name: config.ttl(entry) for entry in enabled},
        cache_size=config.cache_size,
        timer=timer,
    )


def _provider(
    entry: cfg.Provider,
    table: FirmographicTable | None,
    api_key: SecretStr | None,
    accounts: AccountDirectory | None,
    client: httpx.AsyncClient | None,
) -> Provider:
    cost = entry.cost_per_call
    local: dict[str, Callable[..., Provider]] = {
        "email": EmailProvider,
        "phone": PhoneProvider,
        "title": TitleProvider,
    }
    if entry.name in local:
        return local[entry.name](cost_per_call=cost)
    if isinstance(entry, cfg.FirmographicsProvider) and table is not None:
        return FirmographicsProvider(table, cost_per_call=cost)
    if isinstance(entry, cfg.DomainFinderProvider) and table is not None:
        return DomainFinderProvider(
            NameIndex.from_table(table), min_score=entry.min_score, cost_per_call=cost
        )
    if isinstance(entry, cfg.CrmProvider):
        if accounts is None:
            raise ValueError("the crm enrichment provider is enabled: pass the CRM's AccountDirectory")
        return CrmProvider(accounts, cost_per_call=cost)
    if isinstance(entry, cfg.HttpProvider):
        if api_key is None:
            raise ValueError("the http enrichment provider is enabled: set LEADFLOW_ENRICHMENT_API_KEY")
        return HttpProvider.from_config(entry, api_key, client)
    raise ValueError(f"no firmographic table for the {entry.name} provider")  # pragma: no cover
