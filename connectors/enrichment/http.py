"""A Clearbit- or Apollo-style company API: ``GET {base_url}?domain=...`` with a bearer key.

The response is mapped into company facts by a config mapping (JSON dotted path -> enrichment
path), so another vendor is a YAML change, not code. Values that do not parse are dropped one by
one rather than failing the whole answer. 404 means "unknown company" (empty); 429 and 5xx are
raised so the waterfall records an error and moves on, and nothing is cached for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.enrichment.email import is_corporate
from connectors.enrichment.firmographics import (
    domain_confidence,
    normalise_domain,
    parse_country,
    parse_number,
    parse_technologies,
)
from connectors.errors import FatalConnectorError, RetriableConnectorError
from schemas.enrichment import Enrichment, Patch
from schemas.enrichment_config import HttpProvider as HttpConfig
from schemas.lead import Lead


def dotted(data: Any, path: str) -> Any:
    """``dotted({"metrics": {"employees": 120}}, "metrics.employees")`` -> 120; None if absent."""
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def coerce(path: str, value: Any) -> Any:
    """One raw JSON value -> the type its enrichment path holds, or None when it does not fit."""
    if value is None:
        return None
    field = path.removeprefix("company.")
    if field == "employees":
        number = parse_number(value)
        return round(number) if number is not None else None
    if field == "revenue":
        return parse_number(value)
    if field == "country":
        return parse_country(value)
    if field == "technologies":
        return parse_technologies(value) or None
    if field == "domain":
        return normalise_domain(_text(value))
    return _text(value)


def map_fields(data: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    """Apply the config's mapping to a response body; the first source for a path wins."""
    values: dict[str, Any] = {}
    for source, target in fields.items():
        value = coerce(target, dotted(data, source))
        if value is not None:
            values.setdefault(target, value)
    return values


class HttpProvider:
    """Paid, remote, slow: runs last, and only for leads whose domain is known and corporate."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr | str,
        fields: Mapping[str, str],
        cost_per_call: float,
        confidence: float = 0.9,
        timeout_seconds: float = 5.0,
        name: str = "http",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name, self.cost_per_call, self.confidence = name, cost_per_call, confidence
        self.base_url, self.fields = base_url, dict(fields)
        self.fills = frozenset(self.fields.values())
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        # Built here, opened lazily by httpx on the first request: nothing happens at import.
        self._owned = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds)

    @classmethod
    def from_config(
        cls, config: HttpConfig, api_key: SecretStr, client: httpx.AsyncClient | None = None
    ) -> HttpProvider:
        return cls(
            base_url=str(config.base_url),
            api_key=api_key,
            fields=config.fields,
            cost_per_call=config.cost_per_call,
            confidence=config.confidence,
            timeout_seconds=config.timeout_seconds,
            client=client,
        )

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        domain = so_far.company.domain
        if not domain or not is_corporate(domain):
            return None
        return f"{domain}@{domain_confidence(so_far):.2f}"

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        domain = so_far.company.domain
        if not domain:
            return None
        try:
            response = await self._client.get(
                self.base_url,
                params={"domain": domain},
                headers={"Authorization": f"Bearer {self._key.get_secret_value()}"},
            )
        except httpx.HTTPError as exc:
            raise RetriableConnectorError(f"{self.name}: {exc.__class__.__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableConnectorError(f"{self.name}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise FatalConnectorError(f"{self.name}: HTTP {response.status_code} (check the key and URL)")
        try:
            body = response.json()
        except ValueError as exc:
            raise FatalConnectorError(f"{self.name}: the answer is not JSON") from exc
        values = map_fields(body, self.fields)
        if not values:
            return None
        return Patch(values=values, confidence=min(self.confidence, domain_confidence(so_far)))

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()
