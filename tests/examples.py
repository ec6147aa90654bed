"""Leads written for the tests, shared by several modules."""

from __future__ import annotations

from typing import Any

# The lead issue 2 says must be accepted as it is.
EXAMPLE: dict[str, Any] = {
    "email": "maria.lopez@acme-logistics.com",
    "first_name": "Maria",
    "last_name": "Lopez",
    "title": "Head of Operations",
    "phone": "+34 600 123 456",
    "company": {
        "name": "Acme Logistics",
        "domain": "acme-logistics.com",
        "employees": 150,
        "industry": "Logistics",
        "country": "ES",
    },
    "source": "web",
    "message": "We need to automate billing for 40 depots.",
    "activities": [{"type": "page_view", "url": "/pricing", "at": "2026-11-20T10:15:00Z"}],
}
