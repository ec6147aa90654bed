"""The Salesforce connector against the TLS fake, through simple-salesforce, as the contract suite
needs it: the CRM under test plus what a person does in it (lock a record) and what a test reads.

Kept apart from the shared conftest so the lead can add ``salesforce`` to its parametrised CRM
fixture with one import: ``async with salesforce_harness() as h: yield h``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from connectors.crm.resilience import Guard, Limits
from connectors.crm.salesforce import SalesforceConnector
from connectors.crm.salesforce_client import Login, SalesforceClient, TimeoutSession
from schemas.crm import SalesforceCrm
from tests.fakes.salesforce import VERSION, FakeSalesforce, serve_salesforce

# Fast enough for tests: short backoff and breaker reset, a timeout the "slow" fault exceeds.
TEST_LIMITS = Limits(
    requests=1000, window_seconds=1.0, concurrency=4, timeout_seconds=1.0, max_attempts=4,
    backoff_base=0.01, backoff_cap=0.05, breaker_failures=3, breaker_reset_seconds=0.3,
)  # fmt: skip
USERS = {
    "ana.garcia": "005000000000010AAA",
    "ben.dubois": "005000000000011AAA",
}


@dataclass
class SalesforceHarness:
    crm: SalesforceConnector
    fake: FakeSalesforce
    guard: Guard

    def lead_for(self, lead_id: str) -> dict[str, Any] | None:
        """The Lead Leadflow wrote for this lead_id (or the one a test put there)."""
        found = self.fake.find("Lead", Leadflow_Lead_Id__c=lead_id)
        return found[0] if found else None

    def lock(self, lead_id: str) -> None:
        """What an AE does: tick Leadflow_Locked__c on the Lead."""
        record = self.lead_for(lead_id)
        assert record is not None, f"no Lead for {lead_id}"
        record["Leadflow_Locked__c"] = True

    def record(self, lead_id: str) -> dict[str, Any] | None:
        """The Lead as the contract suite compares it across CRMs."""
        lead = self.lead_for(lead_id)
        if lead is None:
            return None
        owner = next((name for name, uid in USERS.items() if uid == lead["OwnerId"]), lead["OwnerId"])
        return {
            "status": lead.get("Leadflow_Status__c"),
            "owner": owner,
            "tier": lead.get("Leadflow_Tier__c"),
            "score": lead.get("Leadflow_Score__c"),
            "last_event_id": lead.get("Leadflow_Last_Event_Id__c"),
            "locked": bool(lead.get("Leadflow_Locked__c")),
        }

    def note_count(self, lead_id: str) -> int:
        """Briefing Tasks on the lead's Lead (the Salesforce counterpart of a note)."""
        lead = self.lead_for(lead_id)
        return len([t for t in self.fake.tasks_for(lead["Id"]) if not _is_draft(t)]) if lead else 0

    def drafts(self, lead_id: str) -> list[dict[str, Any]]:
        """Email-draft Tasks on the lead's Lead."""
        lead = self.lead_for(lead_id)
        return [t for t in self.fake.tasks_for(lead["Id"]) if _is_draft(t)] if lead else []


def _is_draft(task: dict[str, Any]) -> bool:
    return str(task.get("Leadflow_Event_Id__c") or "").endswith(":draft")


@contextlib.asynccontextmanager
async def salesforce_harness(
    fake: FakeSalesforce | None = None,
    *,
    limits: Limits = TEST_LIMITS,
    config: SalesforceCrm | None = None,
    login: Login | None = None,
    token: str | None = "test-token",  # noqa: S107 - the fake's token
) -> AsyncIterator[SalesforceHarness]:
    """The connector on a fresh fake org with two active Users (ana.garcia, ben.dubois)."""
    async with serve_salesforce(fake) as served:
        for alias, user_id in USERS.items():
            served.add(
                "User", Id=user_id, Name=alias.replace(".", " ").title(), Alias=alias[:8],
                Email=f"{alias}@example.com", Username=f"{alias}@example.com.prod", IsActive=True,
            )  # fmt: skip
        config = config or SalesforceCrm(api_version=VERSION)
        # Just under the Guard's timeout, so requests gives up (and closes its socket) first.
        session = TimeoutSession(limits.timeout_seconds * 0.8, verify=served.ca_path)
        client = SalesforceClient(
            instance_url=served.url if token else None,
            token=token,
            version=config.api_version,
            session=session,
            login=login,
            limit_wait=0.2,
        )
        guard = Guard("salesforce", limits)
        crm = SalesforceConnector(replace_wait(config), client, guard)
        await crm.start()
        try:
            yield SalesforceHarness(crm, served, guard)
        finally:
            await crm.close()


def replace_wait(config: SalesforceCrm) -> SalesforceCrm:
    """Tests wait out a spent org limit in a fraction of a second, not five minutes."""
    return config.model_copy(update={"limit_exceeded_wait_seconds": 0.2})
