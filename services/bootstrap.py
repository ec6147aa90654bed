"""Wire a process in one place: pick and start the adapters the settings ask for.

Tests hand in their own adapters (``bus=``, ``store=``, ``crm=``); nothing happens at import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.bus import Bus
from connectors.bus.kafka import KafkaBus, KafkaSettings
from connectors.bus.sqlite import SqliteBus
from connectors.crm import CrmWriter
from connectors.crm.hubspot import HubSpotCrm
from connectors.crm.local import LocalCrm
from connectors.enrichment import Waterfall, build_waterfall
from connectors.enrichment.crm import LocalAccounts
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.config import LeadflowConfig
from schemas.events import ALL_TOPICS
from services.config import load_config
from services.qualifier.service import Enricher
from services.settings import Settings


@dataclass
class Container:
    settings: Settings
    config: LeadflowConfig
    bus: Bus
    store: SqlStore
    crm: CrmWriter  # crm.yaml's default CRM
    enricher: Enricher | None = None
    crms: dict[str, CrmWriter] = field(default_factory=dict)  # every CRM crm.yaml writes to, by name
    _owned: list[Bus | SqlStore | CrmWriter] = field(default_factory=list)

    def current_config(self) -> LeadflowConfig:
        return self.config

    async def close(self) -> None:
        if isinstance(self.enricher, Waterfall):
            await self.enricher.aclose()
        for part in reversed(self._owned):
            await part.close()


def make_bus(settings: Settings) -> Bus:
    if settings.bus == "kafka":
        kafka = KafkaSettings(
            bootstrap=settings.kafka_bootstrap,
            idempotence=settings.kafka_idempotence,
            partitions=settings.kafka_partitions,
            replication=settings.kafka_replication,
        )
        return KafkaBus(kafka, topics=ALL_TOPICS)
    return SqliteBus(settings.data_dir / "bus.db")


class CrmNotConfigured(RuntimeError):
    """crm.yaml sends leads to a CRM whose credentials are not set."""


def make_crm(name: str, settings: Settings, config: LeadflowConfig, store: SqlStore) -> CrmWriter:
    if name == "local":
        return LocalCrm(store.engine)
    if name == "hubspot":
        if settings.hubspot_token is None:
            raise CrmNotConfigured("crm.yaml writes leads to HubSpot but LEADFLOW_HUBSPOT_TOKEN is not set")
        return HubSpotCrm(
            settings.hubspot_token.get_secret_value(), config.crm.hubspot, base_url=settings.hubspot_base_url
        )
    raise CrmNotConfigured(f"crm.yaml writes leads to {name}, which this build has no connector for")


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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    owned: list[Bus | SqlStore | CrmWriter] = []
    try:
        if store is None:
            store = SqlStore(make_engine(settings.store_url))
            await store.start()
            owned.append(store)
        if bus is None:
            bus = make_bus(settings)
            await bus.start()
            owned.append(bus)
        crms: dict[str, CrmWriter] = {}
        if crm is None:
            wanted = {config.crm.default, *config.crm.sources.values()}
            for name in sorted(wanted):
                crms[name] = make_crm(name, settings, config, store)
                await crms[name].start()
                owned.append(crms[name])
            crm = crms[config.crm.default]
        else:
            crms[crm.name] = crm
        enricher = build_waterfall(
            config.enrichment,
            config_dir=settings.config_dir,
            api_key=settings.enrichment_api_key,
            accounts=LocalAccounts(store.engine),
        )
    except BaseException:
        for part in reversed(owned):
            await part.close()
        raise
    return Container(settings, config, bus, store, crm, enricher, crms, _owned=owned)
