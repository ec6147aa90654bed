"""`leadflow requalify`: send what is already in a CRM through the pipeline again (or, with
--accounts, give its companies an ICP status)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from connectors.crm.reader import CrmReader, Selection, UnsupportedSelection
from services.bootstrap import Container, bootstrap
from services.intake.publish import Publisher
from services.logs import configure
from services.requalify import (
    CannotRequalify,
    Counts,
    open_reader,
    requalify_accounts,
    requalify_records,
    selection_of,
)
from services.settings import Settings


def reader_for(name: str, container: Container) -> CrmReader:
    try:
        return open_reader(name, container)
    except CannotRequalify as exc:
        raise typer.BadParameter(str(exc)) from exc


def selection_from(ids: str | None, query: str | None, since: datetime | None) -> Selection:
    try:
        return selection_of((ids or "").split(","), query, since)
    except CannotRequalify as exc:
        raise typer.BadParameter(
            f"{exc}".replace("ids, query or since", "--ids, --query or --since")
        ) from exc


async def run(settings: Settings, crm: str, selection: Selection, accounts: bool, page_size: int) -> Counts:
    container = await bootstrap(settings)
    try:
        reader = reader_for(crm, container)

        def progress(counts: Counts) -> None:
            typer.echo(
                f"read {counts.read}, published {counts.published}, repeats {counts.duplicates}, "
                f"locked {counts.locked}",
                err=True,
            )

        if accounts:
            return await requalify_accounts(
                reader, selection, container.config.icp, page_size=page_size, progress=progress
            )
        publisher = Publisher(container.bus, container.store)
        try:
            return await requalify_records(
                reader, publisher, selection, config_version=container.config.version,
                now=datetime.now(UTC), page_size=page_size, progress=progress,
            )  # fmt: skip
        finally:
            await publisher.close()
    finally:
        await container.close()


def requalify(
    crm: Annotated[str, typer.Option(help="local, salesforce or hubspot")],
    ids: Annotated[str | None, typer.Option(help="Record ids, comma-separated")] = None,
    query: Annotated[
        str | None, typer.Option(help="A CRM-side filter: a SOQL WHERE expression, HubSpot search text")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="Records changed since (ISO 8601)")] = None,
    accounts: Annotated[bool, typer.Option("--accounts", help="Companies: ICP status only")] = False,
    page_size: Annotated[int, typer.Option(min=1, max=2000, help="Records per page")] = 100,
    config: Annotated[Path | None, typer.Option("--config", help="Config directory")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where embedded data lives")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Send existing CRM records through the pipeline (skipping locked ones), page by page."""
    overrides = {"config_dir": config, "data_dir": data_dir}
    settings = Settings.load(**{k: v for k, v in overrides.items() if v is not None})
    configure(settings.log_level)  # the intake's JSON lines, PII redacted, as the services log them
    try:
        counts = asyncio.run(run(settings, crm, selection_from(ids, query, since), accounts, page_size))
    except UnsupportedSelection as exc:  # at the first read, before anything is published
        raise typer.BadParameter(str(exc)) from exc
    result = {k: v for k, v in vars(counts).items() if k != "accounts" or accounts}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for account in counts.accounts:
        typer.echo(
            f"{account['record_id']}  {account['icp']:<12} {account['name'] or '-'}: {account['reason']}"
        )
    typer.echo(
        f"{counts.read} read, {counts.published} {'written' if accounts else 'published'}, "
        f"{counts.duplicates} already requalified, {counts.locked} locked (skipped)"
    )
