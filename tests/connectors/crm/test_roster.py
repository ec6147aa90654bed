"""The CRM roster (connectors/crm/roster.py): HubSpot owners and Salesforce Users mapped back to
routing.yaml member ids through crm.yaml's owner maps, cached for a TTL, kept through an outage;
and the qualifier routing around a person the CRM deactivated."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.crm.hubspot import HubSpotCrm
from connectors.crm.local import LocalCrm
from connectors.crm.reader import CrmOwner
from connectors.crm.resilience import Guard
from connectors.crm.roster import INACTIVE, CrmRoster, RosterFeed
from connectors.errors import RetriableConnectorError
from connectors.store.engine import make_engine
from schemas.config import Member, RoutingConfig, Rule, Team
from schemas.crm import HubSpotCrm as HubSpotConfig
from schemas.crm import SalesforceCrm
from schemas.decision import Evaluation, Fit, FitResult, RotationState, Status
from schemas.lead import Lead
from services.bootstrap import make_roster
from services.config import load_config
from services.core.routing import route
from tests.conftest import CONFIG_DIR
from tests.connectors.crm.conftest import FAST
from tests.connectors.crm.salesforce_fixture import USERS, salesforce_harness
from tests.fakes.hubspot import HubSpotFake, running
from tests.fakes.salesforce import VERSION

HUBSPOT_MAP = {"ana": "70001", "ben": "70002", "cleo": "70003"}


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_hubspot_archived_owners_are_inactive_and_the_list_is_cached() -> None:
    fake = HubSpotFake()
    async with running(fake) as url:
        crm = HubSpotCrm(
            fake.token, HubSpotConfig(owners=HUBSPOT_MAP), base_url=url, guard=Guard("hubspot", FAST)
        )
        clock = Ticking()
        roster = CrmRoster([RosterFeed(crm, HUBSPOT_MAP)], ttl=60, clock=clock)
        assert await roster.owners() == {}  # all three are current owners
        next(o for o in fake.owners if o["id"] == "70002")["archived"] = True  # Ben leaves
        fake.owners = [o for o in fake.owners if o["id"] != "70003"]  # Cleo is removed
        assert await roster.owners() == {}  # still the cached list
        clock.now = 61
        assert await roster.owners() == {"ben": INACTIVE, "cleo": INACTIVE}
        assert roster.current() == {"ben": INACTIVE, "cleo": INACTIVE}
        await crm.close()


async def test_salesforce_inactive_users_are_inactive_by_15_or_18_character_ids() -> None:
    owner_map = {"ana": USERS["ana.garcia"], "ben": USERS["ben.dubois"][:15]}
    config = SalesforceCrm(api_version=VERSION, owners=owner_map)
    async with salesforce_harness(config=config) as h:
        clock = Ticking()
        roster = CrmRoster([RosterFeed(h.crm, owner_map)], ttl=60, clock=clock)
        assert await roster.owners() == {}
        h.fake.find("User", Id=USERS["ben.dubois"])[0]["IsActive"] = False
        clock.now = 60
        assert await roster.owners() == {"ben": INACTIVE}


class Flaky:
    name = "flaky"

    def __init__(self) -> None:
        self.fail = False
        self.active = {"1", "2"}

    async def owners(self) -> list[CrmOwner]:
        if self.fail:
            raise RetriableConnectorError("down")
        return [CrmOwner(self.name, i, None, None) for i in sorted(self.active)]


async def test_an_unreadable_crm_keeps_the_last_roster() -> None:
    crm, clock = Flaky(), Ticking()
    roster = CrmRoster([RosterFeed(crm, {"ana": "1", "ben": "2"})], ttl=10, clock=clock)
    crm.active = {"1"}
    assert await roster.owners() == {"ben": INACTIVE}
    crm.fail, clock.now = True, 20
    assert await roster.owners() == {"ben": INACTIVE}  # not everyone back, not everyone out
    crm.fail, crm.active, clock.now = False, {"1", "2"}, 40
    assert await roster.owners() == {}


async def test_routing_skips_a_person_the_crm_deactivated() -> None:
    crm = Flaky()
    crm.active = {"2"}
    roster = CrmRoster([RosterFeed(crm, {"ana": "1", "ben": "2"})])
    config = RoutingConfig(
        teams=(Team(name="Pool", members=(Member(id="ana", name="Ana"), Member(id="ben", name="Ben"))),),
        rules=(Rule(id="all", team="Pool"),),
    )
    fit = FitResult(status=Fit.YES, reason="fits")
    evaluation = Evaluation(icp=fit, persona=fit, engagement=10, score=80, tier="hot",
                            status=Status.QUALIFIED, reasons=("fits",))  # fmt: skip
    lead = Lead.model_validate({"email": "maria@acme-logistics.com"})
    decision = route(
        lead, evaluation, config, now=datetime(2026, 11, 20, 10, tzinfo=UTC), state=RotationState(),
        roster=await roster.owners(),
    ).decision  # fmt: skip
    assert decision.owner == "ben" and "Ana skipped, inactive in the CRM" in decision.reason


async def test_bootstrap_builds_a_roster_only_for_a_crm_with_an_owner_map() -> None:
    base = load_config(CONFIG_DIR)
    engine = make_engine("sqlite+aiosqlite://")
    local = LocalCrm(engine)
    assert make_roster(base, {"local": local}) is None
    hub = HubSpotCrm("token", HubSpotConfig(owners=HUBSPOT_MAP), base_url="http://127.0.0.1:9")
    crm_config = base.crm.model_copy(update={"hubspot": HubSpotConfig(owners=HUBSPOT_MAP)})
    with_map = base.model_copy(update={"crm": crm_config})
    assert make_roster(base, {"local": local, "hubspot": hub}) is None  # no owner map: nothing to map back
    assert isinstance(make_roster(with_map, {"local": local, "hubspot": hub}), CrmRoster)
    await hub.close()
    await engine.dispose()
