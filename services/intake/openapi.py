"""The OpenAPI document served at /openapi.json: every route, request and error."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from schemas.decision import FitResult, Reason
from schemas.lead import Lead
from services.forget import OPENAPI_PATHS as FORGET_PATHS
from services.intake.openapi_parts import BEARER_ERRORS, GUESSING, WEBHOOK_ERRORS, error, json_body
from services.intake.requalify_route import OPENAPI_PATHS as REQUALIFY_PATHS
from services.intake.webhooks import OPENAPI_PATHS
from services.review import OPENAPI_PATHS as REVIEW_PATHS


def _lead_api() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    lead_view = {"$ref": "#/components/schemas/LeadView"}
    return {
        "/v1/leads": {
            "post": {
                "summary": "Submit one lead in Leadflow's schema",
                "security": bearer,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": json_body({"$ref": "#/components/schemas/Lead"}),
                "responses": {
                    "202": {"description": "On the bus", **_ids()},
                    "200": {"description": "A repeat of an Idempotency-Key already accepted", **_ids()},
                    **{k: v for k, v in WEBHOOK_ERRORS.items() if k not in ("404",)},
                    "429": GUESSING,  # no source's rate here: only the guessing limit
                },
            },
            "get": {
                "summary": "Leads, newest first, a page at a time ('after' = the previous page's 'next')",
                "security": bearer,
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("source", "tier", "since", "after")
                ]
                + [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["qualified", "potential", "unqualified", "insufficient_info"]},
                    }
                ]
                + [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Leads",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["leads", "count", "next"],
                                    "properties": {
                                        "leads": {"type": "array", "items": lead_view},
                                        "count": {"type": "integer"},
                                        "next": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                                    },
                                }
                            }
                        },
                    },
                    "400": error("A bad query parameter"),
                    **BEARER_ERRORS,
                },
            },
        },
        "/v1/leads/{lead_id}": {
            "get": {
                "summary": "One lead's decision and CRM write state",
                "security": bearer,
                "parameters": [
                    {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The lead",
                        "content": {"application/json": {"schema": lead_view}},
                    },
                    **BEARER_ERRORS,
                    "404": error("No decision for this lead yet"),
                },
            }
        },
        "/healthz": {"get": {"summary": "The process is up", "responses": {"200": {"description": "Up"}}}},
        "/readyz": {
            "get": {
                "summary": "Bus and store reachable",
                "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "Text exposition format", "content": {"text/plain": {}}}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            }
        },
    }


def _ids() -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["event_id", "lead_id"],
        "properties": {"event_id": {"type": "string"}, "lead_id": {"type": "string"}},
    }
    return {"content": {"application/json": {"schema": schema}}}


def _components() -> dict[str, Any]:
    lead = Lead.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = lead.pop("$defs", {})
    for model in (FitResult, Reason):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        defs |= schema.pop("$defs", {})
        defs[model.__name__] = schema
    nullable_str = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            **defs,
            "Lead": lead,
            "Error": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
            },
            "Accepted": {
                "type": "object",
                "required": ["events"],
                "properties": {
                    "events": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["event_id", "lead_id", "outcome"],
                            "properties": {
                                "event_id": {"type": "string"},
                                "lead_id": {"type": "string"},
                                "outcome": {"enum": ["published", "duplicate"]},
                            },
                        },
                    }
                },
            },
            "LeadView": {
                "type": "object",
                "required": [
                    "lead_id",
                    "status",
                    "tier",
                    "score",
                    "reasons",
                    "owner",
                    "briefing",
                    "received_at",
                    "decided_at",
                    "written_at",
                ],
                "properties": {
                    "lead_id": {"type": "string"},
                    "status": {"enum": ["qualified", "potential", "unqualified", "insufficient_info"]},
                    "tier": {"type": "string"},
                    "score": {"type": "integer", "minimum": 0, "maximum": 100},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                    "owner": nullable_str,
                    "briefing": {"type": "string"},
                    "received_at": {"type": "string"},
                    "decided_at": {"type": "string"},
                    "written_at": nullable_str,
                    "icp": {"$ref": "#/components/schemas/FitResult"},
                    "persona": {"$ref": "#/components/schemas/FitResult"},
                    "fit": {"anyOf": [{"enum": ["A", "B", "C"]}, {"type": "null"}]},
                    "engagement": {"type": "integer", "minimum": 0, "maximum": 100},
                    "factors": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}},
                    "missing": {"type": "array", "items": {"type": "string"}},
                    "next_step": {"type": "string"},
                    "locked": {"type": "boolean"},
                    "enrichment": {"description": "What enrichment found, with provenance per field"},
                },
            },
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Leadflow intake",
            "version": "1",
            "description": "Takes leads from every source; 2xx means the lead is durably on the bus.",
        },
        "paths": {**_lead_api(), **REVIEW_PATHS, **FORGET_PATHS, **REQUALIFY_PATHS, **OPENAPI_PATHS},
        "components": _components(),
    }


async def openapi(_: Request) -> JSONResponse:
    return JSONResponse(document())
