"""The `leadflow` command. Options override LEADFLOW_* environment variables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from connectors.errors import ConnectorError
from schemas.config import RoutingConfig
from services import cli_model
from services.cli_config_diff import config_diff
from services.cli_route import route_command
from services.config import ConfigError, Problem, check_config, load_config
from services.email_send import auto_send_problem
from services.logs import configure
from services.settings import InvalidSettings, Settings

app = typer.Typer(
    help="Leadflow: qualify inbound B2B leads and hand them to the right AE.",
    no_args_is_help=True,
    rich_markup_mode=None,  # help text is plain: "[env LEADFLOW_PORT; default 8000]" is not markup
)
config_app = typer.Typer(
    help="Check and compare the YAML config under deploy/config/.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(config_app, name="config")
config_app.command("diff")(config_diff)
app.command("route")(route_command)

Host = Annotated[str | None, typer.Option(help="Address to listen on [env LEADFLOW_HOST; default 127.0.0.1]")]
Port = Annotated[int | None, typer.Option(help="Port to listen on [env LEADFLOW_PORT; default 8000]")]
ConfigDir = Annotated[
    Path | None, typer.Option("--config", help="Config directory [env LEADFLOW_CONFIG_DIR]")
]
DataDir = Annotated[
    Path | None, typer.Option(help="Where embedded data lives [env LEADFLOW_DATA_DIR; ./var]")
]
BusOpt = Annotated[str | None, typer.Option("--bus", help="sqlite or kafka [env LEADFLOW_BUS]")]
Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap", help="Kafka HOST:PORT [env LEADFLOW_KAFKA_BOOTSTRAP]")
]


def _settings(**overrides: Any) -> Settings:
    mapped = {
        "config_dir": overrides.pop("config", None),
        "kafka_bootstrap": overrides.pop("bootstrap", None),
    }
    return Settings.load(**{k: v for k, v in {**overrides, **mapped}.items() if v is not None})


def _serve(settings: Settings, roles: tuple[str, ...]) -> None:
    from services.bootstrap import unconfigured_crm
    from services.web import MissingSetting, create_app

    configure(settings.log_level)
    try:
        config = load_config(settings.config_dir)  # fail before binding a port, with every problem listed
    except ConfigError as exc:
        typer.echo(f"config in {settings.config_dir} is not valid:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    problem = unconfigured_crm(config, settings)  # else a traceback from the app's start-up, exit 3
    if problem is not None:
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    try:
        asgi = create_app(settings, roles)
    except MissingSetting as exc:  # exit 2 as every other setting that stops a start
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    uvicorn.Server(server_config(settings, asgi)).run()


def server_config(settings: Settings, asgi: Any) -> uvicorn.Config:
    """How uvicorn serves a role. Behind a TLS-terminating proxy, ``forwarded_allow_ips`` must
    trust it, or X-Forwarded-Proto is ignored and the dashboard's cookie never gets Secure."""
    return uvicorn.Config(
        asgi,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@app.command()
def run(host: Host = None, port: Port = None, config: ConfigDir = None, data_dir: DataDir = None) -> None:
    """Embedded: intake, qualifier and writer in one process, on SQLite, with the local CRM."""
    settings = _settings(host=host, port=port, config=config, data_dir=data_dir, bus="sqlite")
    _serve(settings, ("intake", "qualifier", "writer"))


@app.command()
def intake(host: Host = None, port: Port = None, config: ConfigDir = None, data_dir: DataDir = None,
           bus: BusOpt = None, bootstrap: Bootstrap = None) -> None:  # fmt: skip
    """The lead API alone: publishes to the bus."""
    _serve(
        _settings(host=host, port=port, config=config, data_dir=data_dir, bus=bus, bootstrap=bootstrap),
        ("intake",),
    )


@app.command()
def qualifier(host: Host = None, port: Port = None, config: ConfigDir = None, data_dir: DataDir = None,
              bus: BusOpt = None, bootstrap: Bootstrap = None) -> None:  # fmt: skip
    """The qualifier consumer group (serves /healthz and /readyz on --port)."""
    _serve(
        _settings(host=host, port=port, config=config, data_dir=data_dir, bus=bus, bootstrap=bootstrap),
        ("qualifier",),
    )


@app.command()
def writer(host: Host = None, port: Port = None, config: ConfigDir = None, data_dir: DataDir = None,
           bus: BusOpt = None, bootstrap: Bootstrap = None) -> None:  # fmt: skip
    """The CRM writer consumer group (serves /healthz and /readyz on --port)."""
    _serve(
        _settings(host=host, port=port, config=config, data_dir=data_dir, bus=bus, bootstrap=bootstrap),
        ("writer",),
    )


@app.command()
def migrate(
    data_dir: DataDir = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only check the schema is at the latest revision (exit 1 if not)")
    ] = False,
    new: Annotated[
        str | None,
        typer.Option("--new", metavar="MESSAGE", help="Developers: write a revision for model changes"),
    ] = None,
) -> None:
    """Upgrade the store's schema (LEADFLOW_DATABASE_URL) to the latest revision.

    At scale run it once per release (the Kubernetes Job in deploy/k8s/job-migrate.yaml) with the
    services on LEADFLOW_MIGRATE_ON_START=false; embedded services upgrade by themselves.
    """
    import asyncio

    from connectors.store import migrate as schema
    from services.bootstrap import store_engine

    settings = _settings(data_dir=data_dir)
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded SQLite file lives there
    engine = store_engine(settings)

    async def go() -> tuple[str | None, str | None] | str:
        try:
            if new:
                return str(await schema.new_revision(engine, new))
            if check:
                return (await schema.current(engine), schema.head())
            return await schema.upgrade(engine)
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(go())
    except ConnectorError as exc:
        typer.echo(f"migrate: {exc} (is LEADFLOW_DATABASE_URL right, the database up?)", err=True)
        raise typer.Exit(1) from exc
    if isinstance(result, str):
        typer.echo(f"wrote {result}: review it, then run `leadflow migrate`")
        return
    before, after = result
    if check:
        typer.echo(f"schema at {before or 'nothing'}, latest {after}")
        if before != after:
            raise typer.Exit(1)
        return
    typer.echo(
        f"schema upgraded {before or 'nothing'} -> {after}" if before != after else f"schema at {after}"
    )


@config_app.command("check")
def config_check(
    directory: Annotated[Path, typer.Argument(help="The config directory, e.g. deploy/config")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Validate every file; report all problems at once with file, line and field.

    Errors (exit 1) stop a deploy; warnings (rules that can never match or are shadowed by an
    earlier rule) are printed but do not.
    """
    result = check_config(directory)
    if result.config is not None:
        result.warnings.extend(_auto_send_warnings(result.config.routing))
    warnings = [w.as_dict() for w in result.warnings]
    if result.config is None:
        if as_json:
            report = {"valid": False, "problems": [p.as_dict() for p in result.errors], "warnings": warnings}
            typer.echo(json.dumps(report, indent=2))
        else:
            typer.echo(f"{len(result.errors)} problem(s) in {directory}:", err=True)
            for problem in result.errors:
                typer.echo(f"  {problem}", err=True)
            _echo_warnings(result.warnings)
        raise typer.Exit(1)
    loaded = result.config
    summary = {
        "valid": True,
        "version": loaded.version,
        "verticals": len(loaded.icp.verticals),
        "personas": len(loaded.icp.personas),
        "teams": len(loaded.routing.teams),
        "rules": len(loaded.routing.rules),
        "warnings": warnings,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(
            f"{directory}: valid (version {loaded.version}; {summary['verticals']} verticals,"
            f" {summary['personas']} personas, {summary['teams']} teams, {summary['rules']} rules)"
        )
        _echo_warnings(result.warnings)


def _auto_send_warnings(routing: RoutingConfig) -> list[Problem]:
    """auto_send rules whose drafts would not be sent from this environment (LEADFLOW_SMTP_URL)."""
    if not any(rule.auto_send for rule in routing.rules):
        return []
    smtp = Settings.load().smtp_url
    why = auto_send_problem(smtp.get_secret_value() if smtp else None, routing)
    return [] if why is None else [Problem("routing.yaml", None, "rules.auto_send", why, "warning")]


def _echo_warnings(warnings: list[Problem]) -> None:
    if warnings:
        typer.echo(f"{len(warnings)} warning(s):", err=True)
    for warning in warnings:
        typer.echo(f"  warning: {warning}", err=True)


@app.command("forget")
def forget_person(
    email: Annotated[str, typer.Option("--email", help="The person's email address")],
    config: ConfigDir = None,
    data_dir: DataDir = None,
    bus: BusOpt = None,
    bootstrap: Bootstrap = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Erase one person (GDPR) from the store, the CRM and the embedded bus; print the hash
    their log lines carry, to purge them from the log index."""
    import asyncio

    from services.bootstrap import bootstrap as start
    from services.forget import forget

    settings = _settings(config=config, data_dir=data_dir, bus=bus, bootstrap=bootstrap)
    if settings.missing_store is not None:  # else the person is reported forgotten from an empty one
        typer.echo(settings.missing_store, err=True)
        raise typer.Exit(1)
    configure(settings.log_level)

    async def erase() -> dict[str, Any]:
        container = await start(settings)
        try:
            return (await forget(email, container.store, container.crm, container.bus)).as_dict()
        finally:
            await container.close()

    done = asyncio.run(erase())
    if as_json:
        typer.echo(json.dumps(done, indent=2))
        return
    messages = done["bus_messages"]
    messages = "n/a (Kafka: topic retention applies)" if messages is None else messages
    typer.echo(
        f"forgotten: {len(done['lead_ids'])} lead id(s) {', '.join(done['lead_ids'])}; "
        f"{done['leads']} lead(s), {done['decisions']} decision(s),"
        f" {done['inbound_claims']} dedupe claim(s), "
        f"bus messages: {messages}; CRM '{done['crm']}' asked to forget.\n"
        f"Log lines carry this person only as <email:{done['pii_hash']}> and the lead id(s) above:"
        " purge lines with either from your log index."
    )


@app.command()
def demo(
    url: Annotated[str, typer.Option(help="A running Leadflow")] = "http://127.0.0.1:8000",
    count: Annotated[int, typer.Option(min=1, max=1000, help="How many sample leads")] = 20,
    token: Annotated[
        str | None, typer.Option(help="Bearer token [env LEADFLOW_API_TOKEN; dev-token]")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each result as JSON")] = False,
) -> None:
    """Send varied sample leads and print where each went."""
    from services.demo import run_demo

    token = token or os.environ.get("LEADFLOW_API_TOKEN") or "dev-token"
    results = run_demo(url, count, token)
    for r in results:
        if as_json:
            typer.echo(json.dumps(r))
            continue
        where = r.get("owner") or (f"queue '{r['queue']}'" if r.get("queue") else "-")
        status, tier, score = r.get("status", "?"), r.get("tier", "-"), r.get("score", "-")
        typer.echo(f"{r['lead_id']}  {status:<17} {tier:<12} {score!s:>3}  -> {where}")
    pending = sum(1 for r in results if r.get("status") == "pending")
    typer.echo(f"{len(results) - pending} of {len(results)} leads decided and written."
               f" Details: GET {url}/v1/leads/<lead_id>", err=True)  # fmt: skip
    if pending:
        raise typer.Exit(1)


cli_model.register(app)  # train, backtest, model list|promote|drift
from services.cli_requalify import requalify  # noqa: E402 - a command of its own module

app.command()(requalify)


def main() -> None:
    from services.cli_replay import register

    register(app)
    try:
        app()
    except InvalidSettings as exc:  # one line, not a traceback: the operator fixes an env variable
        typer.echo(f"leadflow: invalid settings: {exc}", err=True)
        raise SystemExit(2) from None
