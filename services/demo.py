"""`leadflow demo`: varied sample leads written by us (good fits, poor fits, incomplete ones)."""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

FIRST = ["Maria", "Luis", "Sophie", "Jonas", "Emily", "Marco", "Aoife", "Pieter", "Chloe", "Ravi"]
LAST = [
    "Lopez",
    "Martin",
    "Schneider",
    "Rossi",
    "Byrne",
    "de Vries",
    "Dupont",
    "Patel",
    "Smith",
    "Silva",
]
GOOD_TITLES = [
    "Head of Operations",
    "VP Operations",
    "Director of Logistics",
    "CFO",
    "Finance Director",
    "COO",
]
POOR_TITLES = ["Student", "Marketing Intern", "Software Engineer", "Office Assistant"]
EU = ["ES", "FR", "DE", "NL", "IT", "IE"]


def _company(rng: random.Random, kind: str) -> dict[str, Any]:
    word = rng.choice(["Atlas", "Nordic", "Iberia", "Rhine", "Harbor", "Summit", "Vector", "Polar"])
    if kind == "good":
        return {
            "name": f"{word} Freight",
            "domain": f"{word.lower()}-freight.example",
            "industry": "Logistics",
            "employees": rng.choice([80, 150, 320, 450]),
            "country": rng.choice(EU),
        }
    if kind == "enterprise":
        return {
            "name": f"{word} Shipping Group",
            "domain": f"{word.lower()}-shipping.example",
            "industry": "Shipping",
            "employees": rng.choice([1200, 4000]),
            "country": rng.choice(EU),
        }
    if kind == "america":
        return {
            "name": f"{word} Distribution Inc",
            "domain": f"{word.lower()}-dist.example",
            "industry": "Wholesale",
            "employees": rng.choice([250, 900]),
            "country": rng.choice(["US", "CA"]),
        }
    return {
        "name": f"{word} Studio",
        "domain": f"{word.lower()}-studio.example",
        "industry": "Design",
        "employees": rng.choice([3, 8, 12]),
        "country": rng.choice(["BR", "IN", "AU"]),
    }


def sample_leads(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` leads cycling through six kinds, so any 6 show every outcome."""
    rng = random.Random(seed)
    kinds = ["good", "poor", "incomplete", "america", "enterprise", "lukewarm"]
    leads = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = _company(rng, {"incomplete": "good", "lukewarm": "good"}.get(kind, kind))
        email = f"{first}.{last}.{i}@{company['domain']}".lower().replace(" ", "")
        lead: dict[str, Any] = {
            "email": email,
            "first_name": first,
            "last_name": last,
            "source": "demo",
        }
        if kind == "incomplete":
            # A personal mailbox and nothing else: enrichment has nothing to go on.
            personal = f"{first}.{i}@inbox.example".lower()
            leads.append({"email": personal, "source": "demo", "message": "Please send me information."})
            continue
        lead["company"] = company
        lead["title"] = rng.choice(POOR_TITLES if kind in ("poor", "lukewarm") else GOOD_TITLES)
        lead["phone"] = f"+34 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
        if kind in ("good", "enterprise", "america"):
            lead["activities"] = [
                {"type": "page_view", "url": "/pricing", "at": "2026-11-20T10:15:00Z"},
                {"type": "demo_request", "at": "2026-11-20T10:20:00Z"},
            ]
            lead["message"] = "We need to automate billing across our depots."
        leads.append(lead)
    return leads


def run_demo(url: str, count: int, token: str, wait: float = 30.0) -> list[dict[str, Any]]:
    """Post the samples, then wait until each is written and return what the API says of it."""
    try:
        return _post_and_wait(url, count, token, wait)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # one line, not httpx's traceback
        said = f"cannot reach Leadflow at {url}: {exc} (is it running? `make run`)"
        raise SystemExit(_without_password(said, url)) from None


def _without_password(text: str, url: str) -> str:
    """``text`` with the password ``url`` carries (http://user:PASSWORD@host) masked."""
    try:
        password = urlsplit(url).password
    except ValueError:  # not even a URL: nothing to find in it
        return text
    return text.replace(f":{password}@", ":***@") if password else text


def _post_and_wait(url: str, count: int, token: str, wait: float) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10) as client:
        accepted = []
        for lead in sample_leads(count):
            response = client.post("/v1/leads", json=lead)
            if response.status_code != 202:
                raise SystemExit(f"POST /v1/leads answered {response.status_code}: {response.text}")
            accepted.append(response.json()["lead_id"])
        deadline = time.monotonic() + wait
        for lead_id in accepted:
            while True:
                response = client.get(f"/v1/leads/{lead_id}")
                if response.status_code == 200 and response.json().get("written_at"):
                    results.append(response.json())
                    break
                if time.monotonic() > deadline:
                    results.append({"lead_id": lead_id, "status": "pending"})
                    break
                time.sleep(0.2)
    return results
