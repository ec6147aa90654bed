"""`leadflow config check` (services/cli.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"

runner = CliRunner()


def broken_copy(tmp_path: Path) -> tuple[Path, int]:
    """deploy/config with one vertical's employee range reversed; returns the dir and that line."""
    directory = Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))
    icp = directory / "icp.yaml"
    lines = icp.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if "employees: {min: 50, max: 500}" in line)
    lines[index] = lines[index].replace("{min: 50, max: 500}", "{min: 500, max: 50}")
    icp.write_text("".join(lines))
    return directory, index + 1


def test_check_on_deploy_config_exits_0_and_says_valid() -> None:
    result = runner.invoke(app, ["config", "check", str(CONFIG_DIR)])

    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout
    assert re.search(r"version [0-9a-f]{12}", result.stdout)


def test_check_on_a_broken_copy_exits_1_and_prints_file_line_field(tmp_path: Path) -> None:
    directory, line = broken_copy(tmp_path)

    result = runner.invoke(app, ["config", "check", str(directory)])

    assert result.exit_code == 1
    assert "1 problem(s)" in result.output
    assert f"icp.yaml:{line}: verticals.0.employees: min (500) is greater than max (50)" in result.output
    assert "valid (" not in result.output


def test_check_on_a_missing_directory_reports_both_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert "icp.yaml: (file): file is missing" in result.output
    assert "routing.yaml: (file): file is missing" in result.output


def test_check_json_on_a_valid_config() -> None:
    result = runner.invoke(app, ["config", "check", str(CONFIG_DIR), "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["valid"] is True
    assert re.fullmatch(r"[0-9a-f]{12}", summary["version"])
    assert summary["verticals"] >= 1
    assert summary["rules"] >= 1


def test_check_json_on_a_broken_config_lists_the_problems(tmp_path: Path) -> None:
    directory, line = broken_copy(tmp_path)

    result = runner.invoke(app, ["config", "check", str(directory), "--json"])

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"] == [
        {
            "file": "icp.yaml",
            "line": line,
            "field": "verticals.0.employees",
            "message": "min (500) is greater than max (50)",
        }
    ]
