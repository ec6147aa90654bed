"""The briefing template, and the LLM's angle: used when the fake endpoint answers, the template's
own when it times out; the prompt carries no email, phone or name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from schemas.config import BriefingConfig, LlmConfig
from schemas.decision import RoutingDecision
from schemas.lead import Lead
from services.briefing import Briefer, Suggestion
from services.config import load_config
from services.core.briefing import default_angle
from services.core.classify import evaluate
from tests.conftest import CONFIG_DIR
from tests.examples import EXAMPLE
from tests.fakes.llm import FakeLlm
from tests.servers import serve

ICP = load_config(CONFIG_DIR).icp
LEAD = Lead.model_validate(EXAMPLE)
JUDGED = evaluate(LEAD, None, ICP, datetime(2026, 11, 22, tzinfo=UTC))
ROUTING = RoutingDecision(
    rule_id="emea",
    owner="ana.garcia",
    team="EMEA mid-market",
    reason="rule 'emea': round robin in 'EMEA mid-market': Ana Garcia was next",
)


def briefer(url: str = "http://127.0.0.1:9/v1/chat/completions", timeout: float = 2.0) -> Briefer:
    llm = LlmConfig(enabled=True, url=url, model="fake", timeout_seconds=timeout)
    return Briefer(BriefingConfig(llm=llm), CONFIG_DIR)


async def test_the_llm_writes_the_angle_when_it_answers() -> None:
    fake = FakeLlm()
    async with serve(fake.app()) as url:
        suggestion = await briefer(f"{url}/v1/chat/completions").suggest(LEAD, None, JUDGED)

    assert suggestion == Suggestion(fake.angle, fake.next_step, by="llm")
    text = briefer().brief(LEAD, None, JUDGED, ROUTING, suggestion, "Ana Garcia")
    assert f"Angle: {fake.angle}" in text and f"Next step: {fake.next_step}" in text
    prompt = json.dumps(fake.requests[0]["body"])
    for private in ("maria.lopez", "600 123 456", "Lopez", "Maria"):
        assert private not in prompt


async def test_the_template_is_used_when_the_llm_times_out() -> None:
    fake = FakeLlm(delay=3.0)
    async with serve(fake.app()) as url:
        suggestion = await briefer(f"{url}/v1/chat/completions", timeout=0.3).suggest(LEAD, None, JUDGED)

    assert suggestion.by == "template"
    text = briefer().brief(LEAD, None, JUDGED, ROUTING, suggestion)
    assert f"Angle: {default_angle(LEAD, JUDGED)}" in text
    assert f"Next step: {JUDGED.next_step}" in text


async def test_no_call_leaves_unless_the_llm_is_enabled() -> None:
    fake = FakeLlm()
    async with serve(fake.app()) as url:
        off = Briefer(BriefingConfig(llm=LlmConfig(url=f"{url}/v1/chat/completions")), CONFIG_DIR)
        assert (await off.suggest(LEAD, None, JUDGED)).by == "template"
    assert fake.requests == []


def test_the_briefing_reads_in_30_seconds_and_says_what_matters() -> None:
    text = briefer().brief(LEAD, None, JUDGED, ROUTING, Suggestion())

    assert len(text) <= BriefingConfig().max_chars and len(text.splitlines()) <= 20
    assert "**Maria Lopez**, Head of Operations at **Acme Logistics**" in text
    assert "150 employees [lead]" in text
    assert "- 2026-11-20 page view /pricing" in text  # the signals timeline
    assert ROUTING.reason in text
    assert "Model:" not in text  # no model yet: the hook renders nothing


def test_the_model_hook_renders_when_present() -> None:
    from services.core.briefing import build_context

    context = build_context(
        LEAD, None, JUDGED, ROUTING, model_probability=0.72, model_factors=("pricing visit",)
    )
    text = briefer().render(context, "fallback")

    assert "Model: 72% likely to convert (pricing visit)." in text


def test_a_long_briefing_is_cut_to_the_limit(tmp_path: Path) -> None:
    (tmp_path / "b.j2").write_text("{{ reasons | join(' ') }}" * 50)
    short = Briefer(BriefingConfig(template="b.j2", max_chars=200), tmp_path)

    assert len(short.brief(LEAD, None, JUDGED, ROUTING, Suggestion())) == 200


def test_the_template_is_sandboxed_and_a_broken_one_falls_back(tmp_path: Path) -> None:
    (tmp_path / "b.j2").write_text("{{ name.__class__.__mro__[1].__subclasses__() }}")
    unsafe = Briefer(BriefingConfig(template="b.j2"), tmp_path)

    text = unsafe.brief(LEAD, None, JUDGED, ROUTING, Suggestion())

    assert "subclasses" not in text and "<class" not in text
    assert text.startswith("Maria Lopez, Head of Operations at Acme Logistics")  # the built-in text
