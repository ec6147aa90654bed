"""Render the briefing from the ops-editable Jinja2 template, optionally with an LLM's angle.

The template runs in Jinja's SandboxedEnvironment (no attribute access to internals, no code
execution); autoescape is off because the output is plain text / markdown, not HTML. A template
that fails to render falls back to the built-in text, so a bad edit never stops a lead.

The LLM (an OpenAI-compatible /v1/chat/completions endpoint) is called only when
``briefing.llm.enabled`` is true, with a timeout; whatever goes wrong, the template's own angle
and next step are used. The prompt holds no name, email or phone: the company facts, the title,
the fit reasons and the signals are enough to suggest an angle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import SecretStr

from schemas.config import BriefingConfig
from schemas.decision import Evaluation, RoutingDecision
from schemas.enrichment import Enrichment
from schemas.lead import Lead
from services.core.briefing import BriefingContext, briefing, build_context
from services.logs import get_logger

log = get_logger(component="briefing")


@dataclass(frozen=True)
class Suggestion:
    angle: str | None = None
    next_step: str | None = None
    by: str = "template"


def prompt(lead: Lead, enrichment: Enrichment | None, evaluation: Evaluation) -> str:
    """What the LLM sees: no person's name, email or phone; the company and the judgement."""
    company = enrichment.company if enrichment else None
    facts = {
        "title": lead.person.title,
        "company": lead.company.name or (company.name if company else None),
        "industry": lead.company.industry or (company.industry if company else None),
        "employees": lead.company.employees or (company.employees if company else None),
        "country": evaluation.country,
        "tier": evaluation.tier,
        "fit": [evaluation.icp.reason, evaluation.persona.reason],
        "signals": [a.type for a in lead.activities[-5:]],
        "their_message": (lead.message or "")[:500] or None,
    }
    return (
        "You help an account executive open a first call with an inbound B2B lead. From these facts,"
        ' answer with JSON {"angle": one sentence, "next_step": one sentence}. Facts: '
        + json.dumps(facts, ensure_ascii=False)
    )


class Briefer:
    def __init__(
        self,
        config: BriefingConfig,
        config_dir: Path,
        *,
        api_key: SecretStr | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._config = config
        self._env = SandboxedEnvironment(autoescape=False, trim_blocks=False, keep_trailing_newline=False)
        path = config_dir / config.template
        self._template = self._env.from_string(path.read_text()) if path.exists() else None
        self._key = api_key
        self._client = client

    async def suggest(self, lead: Lead, enrichment: Enrichment | None, evaluation: Evaluation) -> Suggestion:
        llm = self._config.llm
        if not llm.enabled:
            return Suggestion()
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"} if self._key else {}
        body = {
            "model": llm.model,
            "messages": [{"role": "user", "content": prompt(lead, enrichment, evaluation)}],
            "temperature": 0.2,
            "response_format": {"type": "json_object"},
        }
        client = self._client or httpx.AsyncClient()
        try:
            response = await client.post(llm.url, json=body, headers=headers, timeout=llm.timeout_seconds)
            response.raise_for_status()
            answer = _parse(response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("llm_fallback", error=exc.__class__.__name__)
            return Suggestion()
        finally:
            if self._client is None:
                await client.aclose()
        return Suggestion(answer.get("angle"), answer.get("next_step"), by="llm")

    @property
    def asks_llm(self) -> bool:
        """Whether ``suggest`` asks the LLM; when not, it returns the template's Suggestion()."""
        return self._config.llm.enabled

    def render(self, context: BriefingContext, fallback: str) -> str:
        text = self._rendered(context)
        return fallback if text is None else text

    def _rendered(self, context: BriefingContext) -> str | None:
        """The template's text, or None when there is none or it fails (use the built-in text)."""
        if self._template is None:
            return None
        try:
            text = self._template.render(**dict(context))
        except TemplateError as exc:
            log.warning("briefing_template_failed", error=exc.__class__.__name__)
            return None
        text = "\n".join(line.rstrip() for line in text.strip().splitlines())
        limit = self._config.max_chars
        return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."

    def brief(
        self,
        lead: Lead,
        enrichment: Enrichment | None,
        evaluation: Evaluation,
        routing: RoutingDecision,
        suggestion: Suggestion,
        owner_name: str | None = None,
    ) -> str:
        context = build_context(
            lead,
            enrichment,
            evaluation,
            routing,
            owner_name=owner_name,
            angle=suggestion.angle,
            next_step=suggestion.next_step,
            suggested_by=suggestion.by,
        )
        text = self._rendered(context)
        # The built-in text only when it is used: it was ~3% of a lead's CPU, made every time.
        return briefing(lead, evaluation, routing) if text is None else text


def _parse(payload: Any) -> dict[str, str]:
    """The first choice's content as {"angle", "next_step"} (both short, both strings)."""
    content = payload["choices"][0]["message"]["content"]
    data = json.loads(content)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    found = {k: " ".join(str(data[k]).split())[:300] for k in ("angle", "next_step") if data.get(k)}
    if not found:
        raise ValueError("no angle or next_step")
    return found
