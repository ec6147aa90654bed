"""The HTTP provider against a local fake of a Clearbit-style API (a real server on loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.enrichment import Waterfall
from connectors.enrichment.http import HttpProvider, coerce, dotted, map_fields
from connectors.errors import FatalConnectorError, RetriableConnectorError
from schemas.enrichment import Enrichment
from schemas.lead import Lead
from tests.servers import serve

KEY = "test-key-123"
FIELDS = {
    "name": "company.name",
    "category.industry": "company.industry",
    "metrics.employees": "company.employees",
    "metrics.annualRevenue": "company.revenue",
    "geo.countryCode": "company.country",
    "tech": "company.technologies",
}
ACME = {
    "name": "Acme Freight",
    "category": {"industry": "Logistics"},
    "metrics": {"employees": "1,200", "annualRevenue": 35000000},
    "geo": {"countryCode": "fr"},
    "tech": ["sap", "salesforce"],
}


def fake_api(requests: list[Request]) -> Starlette:
    async def find(request: Request) -> Response:
        requests.append(request)
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        domain = request.query_params.get("domain")
        if domain == "slow.example":
            await asyncio.sleep(1.0)
        if domain in ("acme.example", "slow.example"):
            return JSONResponse(ACME)
        if domain == "busy.example":
            return JSONResponse({"error": "rate limited"}, status_code=429)
        if domain == "broken.example":
            return Response("oops", status_code=503)
        return JSONResponse({"error": "not found"}, status_code=404)

    return Starlette(routes=[Route("/v2/companies/find", find)])


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, list[Request]]]:
    requests: list[Request] = []
    async with serve(fake_api(requests)) as url:
        yield f"{url}/v2/companies/find", requests


def provider(base_url: str, key: str = KEY) -> HttpProvider:
    return HttpProvider(base_url=base_url, api_key=key, fields=FIELDS, cost_per_call=0.05)


def lead(domain: str) -> Lead:
    return Lead(company={"name": "Acme", "domain": domain})


async def test_maps_the_answer_sends_the_key_and_counts_the_cost(api: tuple[str, list[Request]]) -> None:
    url, requests = api
    http = provider(url)
    try:
        enrichment = await Waterfall([http]).enrich(lead("acme.example"))
    finally:
        await http.aclose()
    assert requests[0].query_params["domain"] == "acme.example"
    company = enrichment.company
    assert company.name == "Acme"  # the lead's own name stands
    assert (company.industry, company.employees, company.revenue) == ("Logistics", 1200, 35e6)
    assert (company.country, company.technologies) == ("FR", ("sap", "salesforce"))
    assert enrichment.provenance["company.industry"].provider == "http"
    assert enrichment.provenance["company.industry"].confidence == 0.9
    assert [(c.outcome, c.cost) for c in enrichment.calls] == [("ok", 0.05)]


@pytest.mark.parametrize(
    ("domain", "outcome"),
    [("unknown.example", "empty"), ("busy.example", "error"), ("broken.example", "error")],
)
async def test_404_is_empty_429_and_5xx_are_errors(
    api: tuple[str, list[Request]], domain: str, outcome: str
) -> None:
    http = provider(api[0])
    try:
        enrichment = await Waterfall([http]).enrich(lead(domain))
    finally:
        await http.aclose()
    assert [(c.outcome, c.cost) for c in enrichment.calls] == [(outcome, 0.05)]


async def test_errors_are_typed_for_the_caller(api: tuple[str, list[Request]]) -> None:
    async with httpx.AsyncClient() as client:
        busy = HttpProvider(base_url=api[0], api_key=KEY, fields=FIELDS, cost_per_call=0, client=client)
        with pytest.raises(RetriableConnectorError, match="429"):
            await busy.lookup(lead("busy.example"), _known("busy.example"))
        wrong_key = HttpProvider(
            base_url=api[0], api_key="nope", fields=FIELDS, cost_per_call=0, client=client
        )
        with pytest.raises(FatalConnectorError, match="401"):
            await wrong_key.lookup(lead("acme.example"), _known("acme.example"))
        nobody = HttpProvider(base_url="http://127.0.0.1:9/x", api_key=KEY, fields=FIELDS, cost_per_call=0)
        with pytest.raises(RetriableConnectorError):
            await nobody.lookup(lead("acme.example"), _known("acme.example"))
        await nobody.aclose()


async def test_a_slow_answer_times_out_and_the_call_is_still_billed(api: tuple[str, list[Request]]) -> None:
    http = provider(api[0])
    try:
        enrichment = await Waterfall([http], timeouts={"http": 0.2}).enrich(lead("slow.example"))
    finally:
        await http.aclose()
    assert [(c.outcome, c.cost) for c in enrichment.calls] == [("timeout", 0.05)]
    assert enrichment.company.industry is None


async def test_free_mail_and_unknown_domains_are_never_sent(api: tuple[str, list[Request]]) -> None:
    url, requests = api
    http = provider(url)
    try:
        waterfall = Waterfall([http])
        free = await waterfall.enrich(Lead(email="ana@gmail.com", company={"domain": "gmail.com"}))
        none = await waterfall.enrich(Lead(company="Acme"))
    finally:
        await http.aclose()
    assert requests == []
    assert free.cost == 0 and none.cost == 0


def test_mapping_is_forgiving_value_by_value() -> None:
    assert dotted({"a": {"b": [{"c": 1}]}}, "a.b.0.c") == 1
    assert dotted({"a": 1}, "a.b") is None
    assert coerce("company.employees", "about 50") == 50
    assert coerce("company.employees", "lots") is None
    assert coerce("company.country", "Germany") == "DE"
    assert coerce("company.domain", "https://www.acme.example/") == "acme.example"
    assert coerce("company.technologies", "SAP; Excel") == ("SAP", "Excel")
    assert coerce("company.name", 42) is None
    mapped = map_fields({"metrics": {"employees": "n/a"}, "name": " Acme "}, FIELDS)
    assert mapped == {"company.name": "Acme"}


def _known(domain: str) -> Enrichment:
    from connectors.enrichment import from_lead

    return from_lead(lead(domain))
