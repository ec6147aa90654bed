"""Shared steps of the end-to-end tests: post leads, wait until written, count CRM writes."""

from __future__ import annotations

import asyncio
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
