"""Shared steps of the end-to-end tests: post leads, wait until written, count CRM writes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = "e2e-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def post_all(
    client: httpx.AsyncClient, leads: list[dict[str, Any]], concurrency: int = 16
) -> list[str]:
    """Post every lead; return the lead ids that were accepted (202)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(lead: dict[str, Any]) -> str:
        async with gate:
            response = await client.post("/v1/leads", json=lead, headers=AUTH)
            assert response.status_code == 202, response.text
            return str(response.json()["lead_id"])

    return list(await asyncio.gather(*(one(lead) for lead in leads)))


async def wait_written(
    client: httpx.AsyncClient, lead_ids: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    """Poll GET /v1/leads/{id} until every lead has written_at; return what the API says."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(lead_ids) and time.monotonic() < deadline:
        for lead_id in lead_ids:
            if lead_id in done:
                continue
            response = await client.get(f"/v1/leads/{lead_id}", headers=AUTH)
            if response.status_code == 200 and response.json()["written_at"]:
                done[lead_id] = response.json()
        await asyncio.sleep(0.2)
    missing = set(lead_ids) - set(done)
    assert not missing, f"{len(missing)} of {len(lead_ids)} leads not written after {timeout}s"
    return done


def crm_counts(db: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Per lead: how many times the local CRM record was written, and how many notes it has."""
    with sqlite3.connect(db) as conn:
        writes = dict(conn.execute("SELECT lead_id, writes FROM crm_records").fetchall())
        notes = dict(conn.execute("SELECT lead_id, count(*) FROM crm_notes GROUP BY lead_id").fetchall())
    return writes, notes


# Secrets the end-to-end runs are given, so the log scan can look for each (tests.logscan).
SECRETS: dict[str, str] = {
    "hubspot_client_secret": "e2e-hubspot-client-secret-5d1f",
    "mailgun_signing_key": "e2e-mailgun-key-8c2b",
    "sendgrid_secret": "e2e-sendgrid-secret-41aa",
    "email_secret": "e2e-raw-email-secret-9e07",
    "linkedin_client_secret": "e2e-linkedin-secret-c3d9",
    "typeform_secret": "e2e-typeform-secret-77f0",
    "hubspot_token": "pat-e2e-hubspot-token-2b6e",
    "salesforce_token": "00De2e!salesforce-token-a1",
    "salesforce_password": "e2e-salesforce-password-f00d",
    "salesforce_security_token": "e2e-sf-security-token-beef",
}
STANDARD_SECRET = "whsec_ZTJlLXN0YW5kYXJkLXdlYmhvb2tzLXNlY3JldA=="  # base64 of an e2e-only key
# A lead the refused requests below carry: it must not reach a log line even on the error paths.
REFUSED_LEAD = {"email": "refused.person@refused-leads.example", "phone": "+34 611 222 333",
                "first_name": "Refused", "company": {"name": "Refused Leads"}}  # fmt: skip


def settings_secrets() -> dict[str, Any]:
    """The SECRETS as Settings keyword arguments (Salesforce unused: crm.yaml writes locally)."""
    return {**SECRETS, "standard_secrets": {"partner-portal": STANDARD_SECRET}}


def env_secrets() -> dict[str, str]:
    """The same, as the environment a deployed process reads."""
    env = {f"LEADFLOW_{name.upper()}": value for name, value in SECRETS.items()}
    env["LEADFLOW_STANDARD_SECRETS"] = json.dumps({"partner-portal": STANDARD_SECRET})
    return env


def known_secrets() -> dict[str, str]:
    """Every secret of the run, for the log scan: the webhook and CRM ones and the API token."""
    return {**SECRETS, "standard_secret": STANDARD_SECRET, "api_token": TOKEN}


async def post_refused(client: httpx.AsyncClient) -> None:
    """Requests that must be refused, through the paths that log a refusal: a wrong token, a lead
    that is not one, a wrong webhook signature. Each carries REFUSED_LEAD's address and phone."""
    body = json.dumps(REFUSED_LEAD).encode()
    wrong = {"Authorization": "Bearer not-the-token", "Content-Type": "application/json"}
    assert (await client.post("/v1/leads", content=body, headers=wrong)).status_code == 401
    bad_lead = {"email": "not-an-address", "phone": REFUSED_LEAD["phone"], "company": 7}
    assert (await client.post("/v1/leads", json=bad_lead, headers=AUTH)).status_code in (400, 422)
    standard = {"webhook-id": "msg_e2e_refused", "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,AAAA", "Content-Type": "application/json"}  # fmt: skip
    response = await client.post("/webhooks/standard/partner-portal", content=body, headers=standard)
    assert response.status_code == 401
    typeform = {"Typeform-Signature": "sha256=AAAA", "Content-Type": "application/json"}
    response = await client.post("/webhooks/typeform/demo-request", content=body, headers=typeform)
    assert response.status_code == 401
