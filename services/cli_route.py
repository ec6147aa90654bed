"""`leadflow route --explain LEAD.json`: the decision path for one lead, without side effects.

It enriches (the configured providers; accounts are looked up in the store when there is one),
evaluates and routes exactly as the qualifier does, reading the rotation state from the
store when one is reachable (a read, never a write: no turn is taken, nothing is recorded).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from connectors.enrichment import build_waterfall
from connectors.enrichment.crm import LocalAccounts
from connectors.errors import ConnectorError
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.decision import RotationState
from schemas.enrichment import AccountMatch
from schemas.lead import Lead
from services.config import ConfigError, load_config
from services.core.classify import evaluate
from services.core.routing import route
from services.settings import Settings


class _NoAccounts:
    """No store to look accounts up in: the crm provider finds nothing."""

    crm = "none"

    async def by_domain(self, domain: str) -> AccountMatch | None:
        return None

    async def by_name(self, name: str) -> AccountMatch | None:
        return None


async def explain(lead: Lead, settings: Settings, now: datetime) -> dict[str, Any]:
    config = load_config(settings.config_dir)
    found = settings.database_url is not None or (settings.data_dir / "leadflow.db").exists()
    store = SqlStore(make_engine(settings.store_url)) if found else None
    try:
        accounts = LocalAccounts(store.engine) if store else _NoAccounts()
        waterfall = build_waterfall(
            config.enrichment,
            config_dir=settings.config_dir,
            api_key=settings.enrichment_api_key,
            accounts=accounts,
        )
        try:
            enrichment = await waterfall.enrich(lead)
        finally:
            await waterfall.aclose()
        evaluation = evaluate(lead, enrichment, config.icp, now=now)
        state, source = RotationState(), "no store found: every pool starts at its first slot"
        if store is not None:
            try:
                state, source = await store.rotation_state(now), "rotation read from the store (read only)"
            except ConnectorError as exc:
                source = f"store unreadable ({exc.__class__.__name__}): pools start at their first slot"
    finally:
        if store is not None:
            await store.close()
    owner = enrichment.account.owner if enrichment.account else None
    decision = route(
        lead, evaluation, config.routing, now=now, enrichment=enrichment, account_owner=owner, state=state
    ).decision
    return {
        "status": evaluation.status.value,
        "tier": evaluation.tier,
        "score": evaluation.score,
        "rotation": source,
        "path": list(decision.path),
        "decision": decision.model_dump(mode="json", exclude={"path"}),
    }


def route_command(
    lead_file: Annotated[Path, typer.Argument(help="A lead as JSON (the /v1/leads body)")],
    explain_path: Annotated[
        bool, typer.Option("--explain/--no-explain", help="Print every rule tried and why")
    ] = True,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config directory [env LEADFLOW_CONFIG_DIR]")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where embedded data lives [env LEADFLOW_DATA_DIR]")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Show where one lead would go and why, without side effects (no turn taken, nothing written)."""
    given = {"config_dir": config, "data_dir": data_dir}
    settings = Settings.load(**{k: v for k, v in given.items() if v is not None})
    try:
        data = json.loads(lead_file.read_text())
        lead = Lead.model_validate(data.get("lead", data) if isinstance(data, dict) else data)
    except ValidationError as exc:  # one line per file, not pydantic's block with a URL
        wrong = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(lead)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        typer.echo(f"{lead_file}: not a lead: {wrong}", err=True)
        raise typer.Exit(2) from exc
    except (OSError, ValueError) as exc:
        typer.echo(f"{lead_file}: not a lead: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        result = asyncio.run(explain(lead, settings, datetime.now(UTC)))
    except ConfigError as exc:
        typer.echo(f"config in {settings.config_dir} is not valid:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    decision = result["decision"]
    typer.echo(f"{result['status']}, tier {result['tier']}, score {result['score']}; {result['rotation']}")
    if explain_path:
        for step in result["path"]:
            typer.echo(f"  {step}")
    where = decision["owner"] or (
        f"queue '{decision['queue']}'" if decision["queue"] else decision["disposition"]
    )
    typer.echo(f"-> {where} (rule '{decision['rule_id']}')")
