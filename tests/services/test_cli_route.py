"""`leadflow route --explain`: the decision path, and no store writes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from tests.conftest import CONFIG_DIR
from tests.examples import EXAMPLE


def test_route_explain_prints_the_path_and_writes_nothing(tmp_path: Path) -> None:
    lead = tmp_path / "lead.json"
    lead.write_text(json.dumps(EXAMPLE))
    data = tmp_path / "data"

    result = CliRunner().invoke(
        app, ["route", "--explain", str(lead), "--config", str(CONFIG_DIR), "--data-dir", str(data), "--json"]
    )

    assert result.exit_code == 0, result.output
    explained = json.loads(result.output)
    assert explained["decision"]["rule_id"] == "emea"
    assert explained["path"][0].startswith("rule 'existing-account': matched")
    assert any("round robin in 'EMEA mid-market'" in step for step in explained["path"])
    assert not data.exists()  # no store created, nothing written


def test_route_refuses_a_file_that_is_not_a_lead(tmp_path: Path) -> None:
    bad = tmp_path / "lead.json"
    bad.write_text("[1, 2]")

    assert (
        CliRunner().invoke(app, ["route", "--explain", str(bad), "--config", str(CONFIG_DIR)]).exit_code == 2
    )


def test_a_lead_with_a_wrong_field_is_one_line_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "lead.json"
    bad.write_text(json.dumps({"email": 3}))
    result = CliRunner().invoke(app, ["route", "--explain", str(bad), "--config", str(CONFIG_DIR)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"{bad}: not a lead: person.email: Input should be a valid string"
    ]


def test_no_explain_prints_only_the_verdict_and_the_destination(tmp_path: Path) -> None:
    # --explain defaulted to on and had no way off: the flag changed nothing.
    lead = tmp_path / "lead.json"
    lead.write_text(json.dumps(EXAMPLE))
    args = ["route", str(lead), "--config", str(CONFIG_DIR), "--data-dir", str(tmp_path / "data")]
    full = CliRunner().invoke(app, args).stdout.splitlines()
    brief = CliRunner().invoke(app, [*args, "--no-explain"])
    assert brief.exit_code == 0, brief.output
    assert brief.stdout.splitlines() == [full[0], full[-1]] and len(full) > 2
