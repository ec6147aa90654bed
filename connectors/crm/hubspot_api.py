"""The HubSpot transport: hubspot-api-client's sync APIs, run in threads, behind one Guard.

Requests are built as plain dicts and answers read as JSON (``_preload_content=False``): the
client still builds the URL, authenticates, and raises its ApiException on a non-2xx answer,
but we skip its response models, which cost CPU at 100 records per call and refuse fields
HubSpot adds later. Every vendor exception is translated here into the connector error tree.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

from connectors.crm.resilience import Guard
from connectors.errors import (
    ConnectorError,
    CrmUnavailable,
    FatalConnectorError,
    RetriableConnectorError,
    Throttled,
)

DEFAULT_BASE_URL = "https://api.hubapi.com"
DAILY_PAUSE_SECONDS = 600.0  # the daily limit resets at the account's midnight: look again later
AUTH_PAUSE_SECONDS = 60.0  # a refused token: look again once someone may have replaced it


class HubSpotRejected(FatalConnectorError):
    """HubSpot refused the request (4xx but 401, 403 MISSING_SCOPES and 429): retrying cannot help."""

    def __init__(self, message: str, status: int, category: str | None = None) -> None:
        super().__init__(message)
        self.status, self.category = status, category


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _seconds(value: str | None, scale: float = 1.0) -> float | None:
    try:
        return float(value) * scale if value is not None else None
    except ValueError:
        return None


def translate(op: str, exc: Exception) -> ConnectorError:
    """A hubspot-api-client or urllib3 exception as our error; never the body (it may hold PII)."""
    status = getattr(exc, "status", None)
    if status is None:
        return RetriableConnectorError(f"hubspot {op}: {exc.__class__.__name__}")
    headers = getattr(exc, "headers", None)
    try:
        body = json.loads(getattr(exc, "body", None) or b"{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if status == 429:
        if str(body.get("policyName", "")).upper() == "DAILY":
            return CrmUnavailable(f"hubspot {op}: daily API limit reached", DAILY_PAUSE_SECONDS)
        wait = _seconds(_header(headers, "Retry-After"))
        if wait is None:
            wait = _seconds(_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds"), 0.001)
        return Throttled(f"hubspot {op}: 429 {body.get('policyName', 'rate limited')}", wait)
    if status == 0 or status >= 500 or status == 408:
        return RetriableConnectorError(f"hubspot {op}: HTTP {status}")
    category = body.get("category")
    if status == 401 or (status == 403 and category == "MISSING_SCOPES"):
        # INVALID_AUTHENTICATION / EXPIRED_AUTHENTICATION, or an app installed without a scope: the
        # token, never the event, is at fault; dead-lettering every lead until someone notices
        # would lose the backlog.
        reason = f"hubspot {op}: HTTP {status} {category or ''}".rstrip()
        fix = "set a new LEADFLOW_HUBSPOT_TOKEN" if status == 401 else "grant the app the missing scopes"
        return CrmUnavailable(f"{reason} ({fix})", AUTH_PAUSE_SECONDS)
    return HubSpotRejected(f"hubspot {op}: HTTP {status} {category or ''}".rstrip(), status, category)


class HubSpotApi:
    """One HubSpot account: the client's API objects (built once: each owns a connection pool)."""

    def __init__(self, token: str, guard: Guard, base_url: str | None = None) -> None:
        self.guard = guard
        # No retries inside urllib3: the Guard retries, within the budget, with jitter.
        client = HubSpot(
            access_token=token,
            host=(base_url or DEFAULT_BASE_URL).rstrip("/"),
            retry=Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False),
        )
        crm = client.crm
        self.contacts_batch = crm.contacts.batch_api
        self.contacts_basic = crm.contacts.basic_api
        self.contacts_search = crm.contacts.search_api
        self.companies_basic = crm.companies.basic_api
        self.companies_search = crm.companies.search_api
        self.notes_batch = crm.objects.notes.batch_api
        self.tasks_batch = crm.objects.tasks.batch_api
        self.associations = crm.associations.v4.batch_api
        self.properties = crm.properties.core_api
        self.groups = crm.properties.groups_api
        self.owners = crm.owners.owners_api
        self._timeout = guard.limits.timeout_seconds

    async def call(self, op: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call one client method within the Guard; the parsed JSON answer ({} when empty)."""

        def blocking() -> Any:
            try:
                response = method(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            except urllib3.exceptions.HTTPError as exc:
                raise RetriableConnectorError(f"hubspot {op}: {exc.__class__.__name__}") from exc
            except ConnectorError:
                raise
            except Exception as exc:
                if hasattr(exc, "status"):
                    raise translate(op, exc) from exc
                raise
            data = response.data
            return json.loads(data) if data else {}

        async def request() -> Any:
            return await asyncio.to_thread(blocking)

        return await self.guard.call(op, request)

    async def close(self) -> None:
        for api in (self.contacts_batch, self.contacts_basic, self.notes_batch, self.associations):
            pool = getattr(getattr(api.api_client, "rest_client", None), "pool_manager", None)
            if pool is not None:
                pool.clear()
