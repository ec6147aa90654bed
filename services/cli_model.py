"""`leadflow train`, `leadflow backtest` and `leadflow model list|promote|drift`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from services.config import ConfigError, load_config
from services.settings import Settings

T = TypeVar("T")
model_app = typer.Typer(
    help="The model registry: champion and challenger.", no_args_is_help=True, rich_markup_mode=None
)

Data = Annotated[Path | None, typer.Option("--data", help="History export (CSV or Parquet)")]
MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="MAPPING.yaml for the export")]
FromStore = Annotated[bool, typer.Option("--from-store", help="Use the labels collected from leads.feedback")]
DataDir = Annotated[
    Path | None, typer.Option(help="Embedded data dir (store, var/models) [env LEADFLOW_DATA_DIR]")
]
Registry = Annotated[Path | None, typer.Option("--registry", help="Model registry [DATA_DIR/models]")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _registry_root(registry: Path | None, data_dir: Path | None) -> Path:
    return registry or (Settings.load(**({"data_dir": data_dir} if data_dir else {})).models_dir)


def _store_url(data_dir: Path | None) -> str:
    """The store the feedback labels and scores are in; a missing embedded data dir is named
    rather than met with SQLite's 'unable to open database file' traceback."""
    settings = Settings.load(**({"data_dir": data_dir} if data_dir else {}))
    if settings.missing_store is not None:
        raise _fail(settings.missing_store, 1)
    return settings.store_url


def _read_store(work: Coroutine[Any, Any, T]) -> T:
    from connectors.errors import ConnectorError

    try:
        return asyncio.run(work)
    except ConnectorError as exc:
        raise _fail(
            f"the store is unavailable ({exc}): check --data-dir or LEADFLOW_DATABASE_URL", 1
        ) from exc


def _mapping_failure(exc: Any) -> typer.Exit:
    return _fail(f"{len(exc.problems)} problem(s):\n" + "\n".join(f"  {p}" for p in exc.problems))


def _history(data: Path | None, mapping: Path | None) -> tuple[Any, Any]:
    from services.model.history import load_history
    from services.model.mapping import MappingError, load_mapping

    if data is None or mapping is None:
        raise _fail("--data and --mapping are both needed (or --from-store)")
    try:
        loaded = load_mapping(mapping)
        history = load_history(data, loaded)
    except MappingError as exc:
        raise _mapping_failure(exc) from exc
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {data}: {exc}") from exc
    for note in history.notes:
        typer.echo(f"note: {note}", err=True)
    return loaded, history


def train(
    data: Data = None,
    mapping: MappingOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Artifact directory to write")] = None,
    from_store: FromStore = False,
    data_dir: DataDir = None,
    registry: Registry = None,
    register: Annotated[
        bool | None,
        typer.Option(
            "--register/--no-register",
            help="Also add it to the registry as the challenger [--from-store: yes; else no]",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Learn P(convert) from a history export (or the store's feedback labels); write the artifact."""
    from services.model import artifact
    from services.model.registry import Registry as ModelRegistry
    from services.model.train import train as fit_history

    if from_store:
        trained, mapping_text = _train_from_store(data_dir, registry, mapping)
        register = register is not False  # retraining is for a challenger, unless told not to
    else:
        loaded, history = _history(data, mapping)
        trained, mapping_text = fit_history(history, loaded.mapping), loaded.text
        register = bool(register)
    root = _registry_root(registry, data_dir)
    target = out or root / trained.model.version
    try:
        artifact.save(trained.model, target, mapping_text)
    except OSError as exc:
        raise _fail(f"cannot write the model to {target}: {exc}") from exc
    metrics = trained.model.metrics
    if register:
        ModelRegistry(root).add(target)
    _note_if_below_minimum(metrics)
    summary = {"version": trained.model.version, "out": str(target), "registered": register, **metrics}
    summary.pop("reference", None)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    held = metrics["held_out"]
    typer.echo(
        f"model {trained.model.version} -> {target}\n"
        f"  trained on {metrics['train_rows']:,} rows ({metrics['train_positives']:,} converted),"
        f" held out {metrics['test_rows']:,} ({metrics['split']} split)\n"
        f"  held-out AUC {held['auc']:.4f}  PR-AUC {held['pr_auc']:.4f}  Brier {held['brier']:.4f}"
        f"  ECE {held['ece']:.4f}"
        + ("\n  registered as the challenger (leadflow model promote)" if register else "")
    )


def _train_from_store(data_dir: Path | None, registry: Path | None, mapping: Path | None) -> tuple[Any, str]:
    """Retrain on the leads sales gave an outcome for, with the champion's mapping by default."""
    from services.model import artifact
    from services.model.mapping import MappingError, load_mapping
    from services.model.registry import Registry as ModelRegistry
    from services.model.store_history import history_from_store
    from services.model.train import train as fit_history

    root = _registry_root(registry, data_dir)
    state = ModelRegistry(root).state()
    current = state["champion"] or state["challenger"]
    if current is None and mapping is None:
        raise _fail("no model in the registry to take the features from: pass --mapping")
    try:
        loaded = load_mapping(mapping or root / str(current) / "mapping.yaml")
        # the same features as the model in use, read from live leads
        spec = artifact.load(root / current).spec if current is not None else None
    except MappingError as exc:
        raise _mapping_failure(exc) from exc
    except artifact.ArtifactError as exc:
        raise _fail(str(exc), 1) from exc
    history = _read_store(history_from_store(_store_url(data_dir), loaded.mapping, spec))
    if len(history.labels) < 10 or len(set(history.labels.tolist())) < 2:
        raise _fail(f"the store has {len(history.labels)} labelled leads: not enough to train on", 1)
    return fit_history(history, loaded.mapping), loaded.text


def backtest(
    data: Data = None,
    mapping: MappingOpt = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="A trained artifact (default: train one)")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Rules to judge by [env LEADFLOW_CONFIG_DIR; deploy/config]"),
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report here")] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help="Compare conversion by A/B arm")] = False,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Score the held-out part of a history through the production decision, with baselines."""
    if from_store:
        _arms(data_dir, as_json)
        return
    from services.model import artifact
    from services.model.backtest import run
    from services.model.report import render

    if report is not None and not report.parent.is_dir():  # before the work, not after it
        raise _fail(f"cannot write the report: {report.parent} is not a directory")
    config_dir = config or Settings.load().config_dir  # as train's minimum check and every command
    try:
        rules = load_config(config_dir)
    except ConfigError as exc:
        raise _fail(f"config in {config_dir} is not valid:\n{exc}") from exc
    loaded, history = _history(data, mapping)
    given = None
    if model is not None:
        try:
            given = artifact.load(model)
        except artifact.ArtifactError as exc:
            raise _fail(str(exc)) from exc
        _check_features(given, history)
    result = run(history, loaded.mapping, rules, given)
    if report is not None:
        report.write_text(render(result, f"{data.name if data else ''} with {loaded.path.name}"))
    if result.model_note:
        typer.echo(f"note: {result.model_note}", err=True)
    if as_json:
        typer.echo(json.dumps(result.summary))
        return
    s = result.summary
    m = s["model"]
    # Below the minimum the figures are the rules' scores (the note above says why).
    version = result.model_version
    decided_by = f"rules (model {version} not used)" if result.model_note else f"model {version}"
    typer.echo(
        f"{s['rows']:,} rows, {s['test_rows']:,} held out ({result.split}),"
        f" positive rate {s['positive_rate']:.1%}\n"
        f"{decided_by}: AUC {m['auc']:.4f}  PR-AUC {m['pr_auc']:.4f}"
        f"  Brier {m['brier']:.4f}  ECE {m['ece']:.4f}"
    )
    for name, b in s["baselines"].items():
        typer.echo(f"  baseline {name:<12} AUC {b['auc']:.4f}")
    for t in s["tiers"]:
        typer.echo(
            f"  {t['tier']:<12} {t['share_of_leads']:6.1%} of leads  converts {t['conversion_rate']:6.1%}"
            f"  holds {t['share_of_conversions']:6.1%} of conversions"
        )
    if report is not None:
        typer.echo(f"report: {report}")


def _check_features(model: Any, history: Any) -> None:
    """A model given with --model reads its features where it was trained to: a history (or a
    mapping) that has none of them cannot be judged by it, one that lacks some is scored as if
    those were never given, which the figures should not hide."""
    carried = set(history.features.values())
    absent = [f.name for f in model.spec.features if f.path not in carried]
    if absent and len(absent) == len(model.spec.features):
        names = ", ".join(absent)
        raise _fail(f"this history has none of the features the model reads ({names}): check --mapping")
    if absent:
        typer.echo(
            f"note: this history has no {', '.join(absent)}, which the model reads: scored as not given",
            err=True,
        )


def _arms(data_dir: Path | None, as_json: bool) -> None:
    from connectors.store.engine import make_engine
    from connectors.store.sql import SqlStore

    url = _store_url(data_dir)

    async def read() -> list[dict[str, Any]]:
        store = SqlStore(make_engine(url))
        try:
            await store.start()
            return await store.arms()
        finally:
            await store.close()

    rows = _read_store(read())
    for row in rows:
        row["conversion_rate"] = round(row["conversions"] / row["labelled"], 4) if row["labelled"] else None
    if as_json:
        typer.echo(json.dumps({"arms": rows}))
        return
    if not rows:
        typer.echo("no scored leads in the store yet: promote a model (leadflow model promote)", err=True)
    for row in rows:
        rate = "-" if row["conversion_rate"] is None else f"{row['conversion_rate']:.1%}"
        typer.echo(
            f"{row['arm'] or '-':<8} {row['leads']:>7} leads  {row['labelled']:>7} with an outcome"
            f"  {row['conversions']:>6} converted  ({rate})"
        )


@model_app.command("list")
def list_models(registry: Registry = None, data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """The models in the registry, the champion and the challenger marked."""
    from services.model.registry import Registry as ModelRegistry

    rows = ModelRegistry(_registry_root(registry, data_dir)).describe()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        auc = (r.get("held_out") or {}).get("auc")
        typer.echo(
            f"{r['version']}  {r['role']:<10} trained on {r['train_rows']} rows"
            f"  held-out AUC {auc}  {r['created_at']}"
        )
    if not rows:
        typer.echo("no models yet: leadflow train ... --register", err=True)


@model_app.command("promote")
def promote(
    version: Annotated[str | None, typer.Argument(help="Version to promote [the challenger]")] = None,
    registry: Registry = None,
    data_dir: DataDir = None,
) -> None:
    """Make the challenger (or VERSION) the champion; the old champion becomes the challenger."""
    from services.model.registry import Registry as ModelRegistry
    from services.model.registry import RegistryError

    root = _registry_root(registry, data_dir)
    try:
        state = ModelRegistry(root).promote(version)
    except RegistryError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo(f"champion {state['champion']} (challenger {state['challenger'] or 'none'})")
    if state["champion"] is not None:
        _note_if_below_minimum(json.loads((root / state["champion"] / "metrics.json").read_text()))


def _note_if_below_minimum(metrics: dict[str, Any]) -> None:
    """Say on stderr when a model learned from less history than the rules' minimum asks: the
    qualifier will consult it, record it, and not use it."""
    try:
        config = load_config(Settings.load().config_dir).model
    except (ConfigError, OSError):
        return  # no rules here: nothing to compare the minimum with
    rows, positives = int(metrics.get("train_rows", 0)), int(metrics.get("train_positives", 0))
    if rows < config.min_rows or positives < config.min_positives:
        typer.echo(
            f"note: {rows} rows / {positives} conversions is below the minimum"
            f" ({config.min_rows} / {config.min_positives}): the qualifier will not use this model",
            err=True,
        )


@model_app.command("drift")
def drift(
    days: Annotated[int, typer.Option(min=1, max=365, help="How many days back")] = 7,
    registry: Registry = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """PSI of each day's live scores against the champion's training distribution."""
    from connectors.store.engine import make_engine
    from connectors.store.sql import SqlStore
    from services.model.live_drift import champion_drift
    from services.model.registry import Registry as ModelRegistry

    root = _registry_root(registry, data_dir)
    if ModelRegistry(root).state()["champion"] is None:
        raise _fail("no champion in the registry", 1)
    url = _store_url(data_dir)

    async def read() -> tuple[str | None, list[dict[str, Any]]]:
        store = SqlStore(make_engine(url))
        try:
            await store.start()
            return await champion_drift(store, root, days, datetime.now(UTC))
        finally:
            await store.close()

    champion, rows = _read_store(read())
    if as_json:
        typer.echo(json.dumps({"model_version": champion, "days": rows}))
        return
    for r in rows:
        typer.echo(f"{r['day']}  {r['leads']:>6} leads  PSI {r['psi']:.4f}  {r['level']}")
    if not rows:
        typer.echo(f"no scored leads in the last {days} days", err=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the main `leadflow` app."""
    app.command()(train)
    app.command()(backtest)
    app.add_typer(model_app, name="model")
