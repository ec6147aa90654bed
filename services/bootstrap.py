"""Wire a process in one place: pick and start the adapters the settings ask for.

Tests hand in their own adapters (``bus=``, ``store=``, ``crm=``); nothing happens at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.bus import Bus
from connectors.bus.kafka import KafkaBus, KafkaSettings
from connectors.bus.sqlite import SqliteBus
from connectors.crm import CrmWriter
from connectors.crm.hubspot import HubSpotCrm, limits_from
from connectors.crm.local import LocalCrm
from connectors.crm.resilience import Guard, Limits
from connectors.crm.roster import CrmRoster, OwnerLister, RosterFeed
from connectors.enrichment import Waterfall, build_waterfall
from connectors.enrichment.crm import LocalAccounts
from connectors.store.engine import PoolSettings, make_engine
from connectors.store.sql import SqlStore
from schemas.config import LeadflowConfig
from schemas.events import ALL_TOPICS
from services.config import load_config
from services.model.registry import Champion
from services.model.scoring import Model
from services.qualifier.service import Enricher
from services.settings import Settings
from services.tracing import TracedBus


@dataclass
class Container:
    settings: Settings
    config: LeadflowConfig
    bus: Bus
    store: SqlStore
    crm: CrmWriter  # crm.yaml's default CRM
    enricher: Enricher | None = None
    champion: Callable[[], Model | None] | None = None  # the registry's champion (var/models)
    crms: dict[str, CrmWriter] = field(default_factory=dict)  # every CRM crm.yaml writes to, by name
    roster: CrmRoster | None = None  # who the CRMs say is inactive, for routing (None: YAML only)
    _owned: list[Bus | SqlStore | CrmWriter] = field(default_factory=list)

    _retired: list[Enricher] = field(default_factory=list)

    def current_config(self) -> LeadflowConfig:
        return self.config

    async def replace_config(self, config: LeadflowConfig) -> None:
        """Switch to a new, valid config (a reload). A changed enrichment config gets new
        providers; the old ones are closed at shutdown, since a lead may still be using them."""
        if config.enrichment != self.config.enrichment and self.enricher is not None:
            self._retired.append(self.enricher)
            self.enricher = make_enricher(self.settings, config, self.store)
        self.config = config

    async def close(self) -> None:
        for enricher in [*self._retired, self.enricher]:
            if isinstance(enricher, Waterfall):
                await enricher.aclose()
        for part in reversed(self._owned):
            await part.close()


def store_engine(settings: Settings) -> AsyncEngine:
    pool = PoolSettings(
        size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        timeout=settings.database_pool_timeout,
    )
    return make_engine(settings.store_url, pool)


def make_bus(settings: Settings) -> Bus:
    if settings.bus == "kafka":
        kafka = KafkaSettings(
            bootstrap=settings.kafka_bootstrap,
            idempotence=settings.kafka_idempotence,
            partitions=settings.kafka_partitions,
            replication=settings.kafka_replication,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        )
        return KafkaBus(kafka, topics=ALL_TOPICS)
    return SqliteBus(settings.data_dir / "bus.db")


def make_enricher(settings: Settings, config: LeadflowConfig, store: SqlStore) -> Waterfall:
    return build_waterfall(
        config.enrichment,
        config_dir=settings.config_dir,
        api_key=settings.enrichment_api_key,
        accounts=LocalAccounts(store.engine),
    )


class CrmNotConfigured(RuntimeError):
    """A CRM to call (named by crm.yaml, or by `requalify --crm`) whose credentials are not set."""


def crms_written(config: LeadflowConfig) -> list[str]:
    """The CRMs crm.yaml writes leads to: the default and each lead source's."""
    return sorted({config.crm.default, *config.crm.sources.values()})


def missing_credentials(name: str, settings: Settings) -> str | None:
    """What this environment lacks to call CRM ``name`` (None: nothing). Whoever asked for the
    CRM (crm.yaml, `requalify --crm`) adds that: the credentials are the same either way."""
    if name == "hubspot" and settings.hubspot_token is None:
        return "HubSpot needs LEADFLOW_HUBSPOT_TOKEN, which is not set"
    if name == "salesforce" and not settings.salesforce_configured:
        return (
            "Salesforce needs LEADFLOW_SALESFORCE_INSTANCE_URL and LEADFLOW_SALESFORCE_TOKEN"
            " (or LEADFLOW_SALESFORCE_USERNAME/PASSWORD/SECURITY_TOKEN), which are not set"
        )
    return None


def unconfigured_crm(config: LeadflowConfig, settings: Settings) -> str | None:
    """Why the services cannot start with crm.yaml's CRMs here (None: they can), in one line."""
    for name in crms_written(config):
        missing = missing_credentials(name, settings)
        if missing is not None:
            return f"crm.yaml writes leads to {name}: {missing}"
    return None


def make_crm(name: str, settings: Settings, config: LeadflowConfig, store: SqlStore) -> CrmWriter:
    missing = missing_credentials(name, settings)
    if missing is not None:
        raise CrmNotConfigured(missing)
    if name == "local":
        return LocalCrm(store.engine, migrate=settings.migrate_on_start)
    if name == "hubspot":
        assert settings.hubspot_token is not None  # missing_credentials said so
        hubspot = config.crm.hubspot
        guard = Guard("hubspot", limits_from(hubspot).share(settings.crm_budget_share))
        return HubSpotCrm(
            settings.hubspot_token.get_secret_value(),
            hubspot,
            base_url=settings.hubspot_base_url,
            guard=guard,
        )
    if name == "salesforce":
        return make_salesforce(settings, config)
    raise CrmNotConfigured(f"this build has no connector for {name!r}")


def make_salesforce(settings: Settings, config: LeadflowConfig) -> CrmWriter:
    from connectors.crm.salesforce import SalesforceConnector
    from connectors.crm.salesforce_client import SalesforceClient, TimeoutSession, password_login

    sf = config.crm.salesforce
    session = TimeoutSession(sf.limits.timeout_seconds * 0.9)
    login = None
    if settings.salesforce_username and settings.salesforce_password:
        token = settings.salesforce_security_token
        login = password_login(
            settings.salesforce_username,
            settings.salesforce_password.get_secret_value(),
            token.get_secret_value() if token else "",
            settings.salesforce_domain,
            sf.api_version,
            session,
        )
    client = SalesforceClient(
        instance_url=settings.salesforce_instance_url,
        token=settings.salesforce_token.get_secret_value() if settings.salesforce_token else None,
        version=sf.api_version,
        session=session,
        login=login,
        limit_wait=sf.limit_exceeded_wait_seconds,
    )
    limits = Limits(**sf.limits.model_dump()).share(settings.crm_budget_share)
    return SalesforceConnector(sf, client, Guard("salesforce", limits))


def make_roster(config: LeadflowConfig, crms: Mapping[str, CrmWriter]) -> CrmRoster | None:
    """The qualifier's roster from every HubSpot/Salesforce CRM crm.yaml writes to and maps owners
    for (None when there is none: routing.yaml alone decides who is available)."""
    maps = {"hubspot": config.crm.hubspot.owners, "salesforce": config.crm.salesforce.owners}
    feeds = [
        RosterFeed(crm, maps[name])
        for name, crm in sorted(crms.items())
        if name in maps and maps[name] and isinstance(crm, OwnerLister)
    ]
    return CrmRoster(feeds, ttl=config.crm.roster_ttl_seconds) if feeds else None


async def bootstrap(
    settings: Settings,
    *,
    bus: Bus | None = None,
    store: SqlStore | None = None,
    crm: CrmWriter | None = None,
    config: LeadflowConfig | None = None,
) -> Container:
    """Load config (fails fast on a bad file), then start store, bus and CRM."""
    config = config or load_config(settings.config_dir)
    problem = unconfigured_crm(config, settings) if crm is None else None
    if problem is not None:  # before anything is opened
        raise CrmNotConfigured(problem)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    owned: list[Bus | SqlStore | CrmWriter] = []
    try:
        if store is None:
            store = SqlStore(store_engine(settings), migrate=settings.migrate_on_start)
            await store.start()
            owned.append(store)
        if bus is None:
            bus = make_bus(settings)
            await bus.start()
            owned.append(bus)
        bus = TracedBus(bus)  # publish latency, and the trace context on every message
        crms: dict[str, CrmWriter] = {}
        if crm is None:
            for name in crms_written(config):
                crms[name] = make_crm(name, settings, config, store)
                await crms[name].start()
                owned.append(crms[name])
            crm = crms[config.crm.default]
        else:
            crms[crm.name] = crm
        enricher = make_enricher(settings, config, store)
    except BaseException:
        for part in reversed(owned):
            await part.close()
        raise
    champion = Champion(settings.models_dir)
    roster = make_roster(config, crms)
    return Container(settings, config, bus, store, crm, enricher, champion, crms, roster, _owned=owned)
