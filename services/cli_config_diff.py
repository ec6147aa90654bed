"""`leadflow config diff OLD_DIR NEW_DIR --history FILE --mapping M.yaml`: what a config change
would do to past leads (services/config_diff.py), printed as counts, tables and examples.

By default each lead is judged on the history row's own facts (no enrichment). ``--enrich``
runs the new config's enrichment providers that need no network and no CRM (email, title,
phone, the firmographic table, the domain finder): the ``http`` and ``crm`` providers are left
out, so no account owner is known and account-owner rules pass every lead on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from schemas.config import LeadflowConfig
from services.config import ConfigError, load_config

if TYPE_CHECKING:  # imported when the command runs: LightGBM and pandas load slowly
    from schemas.enrichment import Enrichment
    from services.config_diff import DiffReport, LeadDiff
    from services.model.policy import Case

OFFLINE_EXCLUDED = {"http", "crm"}
ROTATION_NOTE = (
    "Round robin: each config starts from a fresh rotation, advanced lead by lead in history order;"
    " 'person only' changes (same team, another person) depend on that order, 'destination'"
    " changes (team, queue, nurture/archive) do not."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _config(directory: Path) -> LeadflowConfig:
    try:
        return load_config(directory)
    except ConfigError as exc:
        raise _fail(f"config in {directory} is not valid:\n{exc}") from exc


def _cases(history_file: Path, mapping_file: Path, limit: int | None) -> list[Case]:
    from services.model.backtest import UNDATED_NOW  # undated history: judged as the backtest does
    from services.model.history import load_history
    from services.model.mapping import MappingError, load_mapping
    from services.model.policy import Case

    try:
        history = load_history(history_file, load_mapping(mapping_file))
    except MappingError as exc:
        raise _fail(f"{len(exc.problems)} problem(s):\n" + "\n".join(f"  {p}" for p in exc.problems)) from exc
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {history_file}: {exc}") from exc
    for note in history.notes:
        typer.echo(f"note: {note}", err=True)
    leads = history.leads if limit is None else history.leads[:limit]
    return [
        Case(lead.source_record_id or str(i), lead, None, history.arrived(i) or UNDATED_NOW)
        for i, lead in enumerate(leads)
    ]


def _enrich(cases: list[Case], config: LeadflowConfig, config_dir: Path) -> list[Case]:
    """The offline waterfall over every lead (see the module docstring)."""
    from connectors.enrichment import build_waterfall
    from services.model.policy import Case

    offline = config.enrichment.model_copy(
        update={"providers": tuple(p for p in config.enrichment.providers if p.name not in OFFLINE_EXCLUDED)}
    )
    waterfall = build_waterfall(offline, config_dir=config_dir)

    async def run() -> list[Enrichment]:
        try:
            return [await waterfall.enrich(case.lead) for case in cases]
        finally:
            await waterfall.aclose()

    return [Case(c.lead_id, c.lead, e, c.now) for c, e in zip(cases, asyncio.run(run()), strict=True)]


def config_diff(
    old_dir: Annotated[Path, typer.Argument(help="The config in production, e.g. deploy/config")],
    new_dir: Annotated[Path, typer.Argument(help="The changed config")],
    history: Annotated[Path, typer.Option("--history", help="History export (CSV or Parquet)")],
    mapping: Annotated[Path, typer.Option("--mapping", help="MAPPING.yaml for the export")],
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N leads")] = None,
    examples: Annotated[int, typer.Option(min=0, max=100, help="Examples per kind of change")] = 3,
    model: Annotated[
        Path | None, typer.Option("--model", help="A trained model artifact (default: the rules alone)")
    ] = None,
    enrich: Annotated[
        bool, typer.Option("--enrich", help="Run the offline enrichment providers (no network, no CRM)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")] = False,
) -> None:
    """Replay past leads through both configs; print how many change status, tier, rule or owner,
    a transition table, a table per rule and examples with the reasons that differ."""
    from services.config_diff import diff

    before, after = _config(old_dir), _config(new_dir)
    cases = _cases(history, mapping, limit)
    loaded = None
    if model is not None:
        from services.model import artifact

        try:
            loaded = artifact.load(model)
        except artifact.ArtifactError as exc:
            raise _fail(str(exc)) from exc
    if enrich:
        cases = _enrich(cases, after, new_dir)
    report = diff(before, after, cases, model=loaded, examples=examples)
    notes = [ROTATION_NOTE]
    if enrich and before.enrichment != after.enrichment:
        notes.append("enrichment.yaml differs: both sides were enriched with the new config's providers.")
    context = {
        "old": {"dir": str(old_dir), "version": before.version},
        "new": {"dir": str(new_dir), "version": after.version},
        "history": history.name,
        "model": loaded.version if loaded else None,
        "enrichment": "offline providers" if enrich else "none (the history's facts)",
        "notes": notes,
    }
    if as_json:
        typer.echo(json.dumps({**context, **report.as_dict()}))
        return
    typer.echo("\n".join(render(report, context)))


def _pct(n: int, total: int) -> str:
    return f"{n:,} ({n / total:.1%})" if total else "0"


def render(report: DiffReport, context: dict[str, Any]) -> list[str]:
    """The text report: headline counts, transitions, the rule table, examples, notes."""
    total, c = len(report.leads), report.changed
    decided_by = f"model {context['model']}" if context["model"] else "the rules alone (no --model)"
    lines = [
        f"Replayed {total:,} leads from {context['history']} through {context['old']['dir']}"
        f" ({context['old']['version']}) and {context['new']['dir']} ({context['new']['version']});"
        f" decided by {decided_by}; enrichment: {context['enrichment']}.",
        f"Changed: {_pct(c['any'], total)} leads (status, tier, rule or owner)",
        f"  status {_pct(c['status'], total)}, tier {_pct(c['tier'], total)},"
        f" score {_pct(c['score'], total)}",
        f"  rule {_pct(c['rule'], total)}, owner {_pct(c['owner'], total)}:"
        f" destination (team, queue) {_pct(c['destination'], total)},"
        f" person only {_pct(c['person_only'], total)}",
    ]
    for what, counts in report.transitions.items():
        moved = [(pair, n) for pair, n in counts.most_common() if pair[0] != pair[1]]
        if moved:
            lines += ["", f"{what.capitalize()} before -> after:"]
            lines += [f"  {b} -> {a}: {n:,}" for (b, a), n in moved]
    lines += ["", f"{'Rule':<28}{'before':>9}{'after':>9}{'in':>8}{'out':>8}"]
    lines += [
        f"{r.rule_id:<28}{r.before:>9,}{r.after:>9,}{r.moved_in:>8,}{r.moved_out:>8,}" for r in report.rules
    ]
    for kind, found in report.examples.items():
        lines += ["", f"Examples: {kind.replace('_', ' ')} changed"]
        for lead in found:
            lines += _example(lead)
    return [*lines, "", *context["notes"]]


def _side(d: dict[str, Any]) -> str:
    where = d["destination"] + (f" ({d['owner']})" if d["owner"] else "")
    return f"{d['status']}/{d['tier']}/{d['score']} rule '{d['rule_id']}' -> {where}"


def _example(lead: LeadDiff) -> Sequence[str]:
    data = lead.as_dict()
    lines = [
        f"  {data['lead_id']} ({data['company'] or 'no company'})",
        f"    before: {_side(data['before'])}",
        f"    after:  {_side(data['after'])}",
    ]
    lines += [f"    - {r}" for r in data["reasons_before_only"]]
    lines += [f"    + {r}" for r in data["reasons_after_only"]]
    return lines
