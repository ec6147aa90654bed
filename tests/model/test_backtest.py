"""Backtests through the production decision, on generated history and on the shared datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.config import load_config
from services.model.backtest import run
from services.model.history import History, load_history
from services.model.mapping import LoadedMapping, load_mapping
from services.model.report import render
from services.model.train import Trained
from tests.conftest import CONFIG_DIR, ROOT

DATA = ROOT.parent / "shared" / "data"
X_EDUCATION = DATA / "x-education-leads" / "Leads.csv"
MAVEN = DATA / "maven-crm" / "sales_pipeline.csv"


def test_backtest_json_has_the_issue_shape_and_beats_points(
    generated: tuple[LoadedMapping, History, Trained],
) -> None:
    loaded, history, trained = generated
    result = run(history, loaded.mapping, load_config(CONFIG_DIR), trained.model)
    s = result.summary
    assert list(s) == ["rows", "test_rows", "positive_rate", "model", "tiers", "baselines"]
    assert (s["rows"], s["test_rows"]) == (1500, 300)
    assert list(s["model"]) == ["auc", "pr_auc", "brier", "ece"]
    assert list(s["baselines"]) == ["points", "naive_bayes", "logistic"]
    # The sheet gives Logistics and Retail (both ICP industries) 20 points; only Logistics
    # converts more, so on 300 held-out leads it ranks near chance (tests/model/test_baselines.py).
    assert s["model"]["auc"] > s["baselines"]["points"]["auc"]
    assert abs(sum(t["share_of_leads"] for t in s["tiers"]) - 1) < 1e-3
    assert abs(sum(t["share_of_conversions"] for t in s["tiers"]) - 1) < 1e-3
    page = render(result, "generated")
    assert page.count("data:image/png;base64,") == 3 and "http" not in page.replace("data:image", "")


def test_cli_train_then_backtest_with_the_model(
    tmp_path: Path, generated: tuple[LoadedMapping, History, Trained]
) -> None:
    from tests.model.helpers import write_history, write_mapping

    data, mapping = write_history(tmp_path), write_mapping(tmp_path)
    runner = CliRunner()
    trained = runner.invoke(
        app, ["train", "--data", str(data), "--mapping", str(mapping), "--out", str(tmp_path / "m"), "--json"]
    )
    assert trained.exit_code == 0, trained.output
    out = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(data),
            "--mapping",
            str(mapping),
            "--model",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.strip().splitlines()[-1])["test_rows"] == 300


def test_below_the_minimum_the_backtest_reports_the_rules(tmp_path: Path) -> None:
    from tests.model.helpers import write_history, write_mapping

    loaded = load_mapping(write_mapping(tmp_path))
    history = load_history(write_history(tmp_path, rows=400), loaded)
    result = run(history, loaded.mapping, load_config(CONFIG_DIR))
    assert result.model_note is not None and "below the minimum of 1,000" in result.model_note
    assert all(t["tier"] != "hot" for t in result.summary["tiers"])


def test_below_the_minimum_the_printed_figures_are_named_the_rules(tmp_path: Path) -> None:
    """The figures are of the rules' scores then: not printed as the model's."""
    from tests.model.helpers import write_history, write_mapping

    data, mapping = write_history(tmp_path, rows=400), write_mapping(tmp_path)
    result = CliRunner().invoke(app, ["backtest", "--data", str(data), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if "AUC" in line and "baseline" not in line]
    assert line.startswith("rules (model ") and " not used): AUC " in line


@pytest.fixture(scope="module")
def x_education() -> dict[str, object]:
    if not X_EDUCATION.exists():
        pytest.skip(f"X Education dataset not found at {X_EDUCATION}")
    loaded = load_mapping(ROOT / "deploy" / "mappings" / "x-education-leads.yaml")
    return run(load_history(X_EDUCATION, loaded), loaded.mapping, load_config(CONFIG_DIR)).summary


def test_x_education_beats_every_baseline_calibrated_with_useful_tiers(
    x_education: dict[str, object],
) -> None:
    s = x_education
    model = s["model"]
    assert (s["rows"], s["test_rows"]) == (9240, 1848)
    assert all(model["auc"] > b["auc"] for b in s["baselines"].values())
    assert model["ece"] <= 0.05
    tiers = {t["tier"]: t for t in s["tiers"]}
    assert tiers["hot"]["conversion_rate"] >= 0.85
    top = [tiers[t] for t in ("hot", "warm")]
    assert sum(t["share_of_conversions"] for t in top) >= 0.60
    assert sum(t["share_of_leads"] for t in top) <= 0.35


@pytest.mark.xfail(
    strict=True,
    reason="issue 5 asks AUC >= 0.87 without the leaky columns; measured 0.867 on the stratified split "
    "(5-fold CV on the training part 0.882, a plateau: see services/model/train.py; logistic 0.849, "
    "the dataset README's HGB 0.860; 0.879 on average over 30 other splits, none below this one's: "
    "tests/bench/bench_splits.py): not reached",
)
def test_x_education_auc_reaches_the_target(x_education: dict[str, object]) -> None:
    assert x_education["model"]["auc"] >= 0.87


def test_maven_runs_and_stays_near_the_base_rate() -> None:
    if not MAVEN.exists():
        pytest.skip(f"Maven CRM dataset not found at {MAVEN}")
    loaded = load_mapping(ROOT / "deploy" / "mappings" / "maven-crm.yaml")
    s = run(load_history(MAVEN, loaded), loaded.mapping, load_config(CONFIG_DIR)).summary
    assert s["rows"] == 6711  # closed deals only
    assert s["model"]["auc"] < 0.6  # little signal before close, as its README says
    assert s["model"]["ece"] <= 0.08


def test_cli_train_prints_the_rows_it_left_out_on_stderr(tmp_path: Path) -> None:
    from tests.model.helpers import write_history

    data = write_history(tmp_path)
    text = data.read_text().splitlines()
    # Every tenth lead is still open: with `negative:` those are left out, and the command says so.
    rows = [line if i % 10 else line.rsplit(",", 1)[0] + ",open" for i, line in enumerate(text[1:], 1)]
    data.write_text("\n".join([text[0], *rows]) + "\n")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('label: {column: won, positive: ["yes"], negative: ["no"]}\nid: record\n')
    args = ["train", "--data", str(data), "--mapping", str(mapping), "--out", str(tmp_path / "m"), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    note = "note: 150 rows whose won is neither positive nor negative were left out (open: 150)"
    assert note in result.stderr
    assert json.loads(result.stdout)["rows"] == 1350


def _fails_cleanly(args: list[str]) -> str:
    """The command exits 2 with a message, not a traceback (typer's SystemExit, not an exception)."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    return result.stderr


def test_train_from_store_with_an_invalid_mapping_says_why(tmp_path: Path) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("label: {column: won}\n")
    args = ["train", "--from-store", "--data-dir", str(tmp_path / "var"), "--mapping", str(mapping)]
    assert "bad.yaml:1: label.positive: Field required" in _fails_cleanly(args)


def test_a_report_in_a_missing_directory_is_refused_before_the_backtest(tmp_path: Path) -> None:
    from tests.model.helpers import write_history, write_mapping

    data, mapping = write_history(tmp_path), write_mapping(tmp_path)
    report = tmp_path / "nowhere" / "r.html"
    args = ["backtest", "--data", str(data), "--mapping", str(mapping), "--report", str(report)]
    assert f"cannot write the report: {report.parent} is not a directory" in _fails_cleanly(args)


def test_train_out_on_a_file_says_it_cannot_write_there(tmp_path: Path) -> None:
    from tests.model.helpers import write_history, write_mapping

    data, mapping = write_history(tmp_path, rows=300), write_mapping(tmp_path)
    args = ["train", "--data", str(data), "--mapping", str(mapping), "--out", str(data)]
    assert f"cannot write the model to {data}" in _fails_cleanly(args)


def test_backtest_with_a_model_whose_features_the_history_lacks(tmp_path: Path, model_dir: Path) -> None:
    from tests.model.helpers import MAPPING, write_history

    data = write_history(tmp_path, rows=600)
    some = tmp_path / "some.yaml"
    some.write_text(MAPPING.replace("exclude: [note_after_call]", "exclude: [note_after_call, channel]"))
    args = ["backtest", "--data", str(data), "--model", str(model_dir), "--json", "--mapping"]
    partial = CliRunner().invoke(app, [*args, str(some)])
    assert partial.exit_code == 0, partial.output
    assert "note: this history has no channel, which the model reads: scored as not given" in partial.stderr

    none = tmp_path / "none.yaml"
    none.write_text(
        'label: {column: won, positive: ["yes"]}\nexclude: [note_after_call, channel, visits, industry]\n'
    )
    assert "this history has none of the features the model reads (industry, visits, channel)" in (
        _fails_cleanly([*args, str(none)])
    )


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--from-store", "--mapping", "MAPPING"],
        ["backtest", "--from-store"],
    ],
)
def test_a_store_that_cannot_be_opened_is_one_message(tmp_path: Path, args: list[str]) -> None:
    from tests.model.helpers import write_mapping

    mapping = str(write_mapping(tmp_path))
    missing = tmp_path / "no" / "such" / "dir"  # SQLite cannot create a file there
    command = [*(mapping if a == "MAPPING" else a for a in args), "--data-dir", str(missing)]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"no store in {missing}: the directory does not exist" in result.stderr


def test_backtest_judges_by_the_config_the_environment_names(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LEADFLOW_CONFIG_DIR, as every other command and train's minimum check read it, not
    deploy/config under wherever the command is run."""
    from tests.model.helpers import write_history, write_mapping

    data, mapping = write_history(tmp_path), write_mapping(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADFLOW_CONFIG_DIR", str(CONFIG_DIR))
    args = ["backtest", "--data", str(data), "--mapping", str(mapping), "--model", str(model_dir), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["test_rows"] == 300


def test_backtest_from_a_store_without_scored_leads_says_so(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    result = CliRunner().invoke(app, ["backtest", "--from-store", "--data-dir", str(tmp_path / "var")])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # it printed nothing at all
    said = [line for line in result.stderr.splitlines() if not line.startswith("{")]  # logs, if configured
    assert said == ["no scored leads in the store yet: promote a model (leadflow model promote)"]
