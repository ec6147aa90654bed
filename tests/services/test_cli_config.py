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


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the one line holding ``old``; return its 1-based line number."""
    lines = path.read_text().splitlines(keepends=True)
    [index] = [i for i, line in enumerate(lines) if old in line]
    lines[index] = lines[index].replace(old, new)
    path.write_text("".join(lines))
    return index + 1


def _lines(path: Path, text: str) -> list[int]:
    return [i + 1 for i, line in enumerate(path.read_text().splitlines()) if text in line]


def _line(path: Path, text: str) -> int:
    [line] = _lines(path, text)
    return line


def _append_rule(path: Path, before: str, rule: str) -> int:
    """Insert ``rule`` (YAML lines) before the line holding ``before``; return its first line."""
    lines = path.read_text().splitlines(keepends=True)
    [index] = [i for i, line in enumerate(lines) if before in line]
    lines[index:index] = [rule]
    path.write_text("".join(lines))
    return index + 1


def seeded_with_mistakes(
    tmp_path: Path,
) -> tuple[Path, list[tuple[str, int, str]], list[tuple[str, int, str]]]:
    """deploy/config with 10 distinct errors and 2 warnings; returns the dir and, for each,
    (file, the line it must be reported at, a piece of the message)."""
    d = Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))
    icp, routing, sources = d / "icp.yaml", d / "routing.yaml", d / "sources.yaml"
    # fmt: off
    _edit(icp, "employees: {min: 50, max: 500}", "employees: {min: 500, max: 50}")
    _edit(
        icp,
        "personas: [Operations leader, Finance leader]\n",
        "personas: [Operations leader, Finance boss]\n",
    )
    _edit(icp, "    countries: [US, CA]", "    countries: [USA, CA]")
    _edit(icp, "half_life_days: 14", "half_life_days: 0")
    _edit(sources, "dedupe_days: 3", "dedupe_days: three")
    _edit(routing, "team: EMEA enterprise", "team: EMEA enterprise\n    queue: Nurture")  # two actions
    _edit(routing, "team: North America", "team: North Amerika")
    _edit(routing, "- id: emea\n", "- id: nurture\n")
    _edit(routing, "verticals: [Enterprise logistics]", "verticals: [Enterprise logistix]")
    _edit(
        routing, "    team: Inside sales", "    team: Inside sales\n    when: {sources: [web]}"
    )  # no fallback
    _append_rule(
        routing,
        "- id: north-america",
        "  - id: platinum\n    when: {tiers: [platinum]}\n    queue: Nurture\n",
    )
    _append_rule(
        routing,
        "- id: north-america",
        "  - id: partner-first\n    when: {sources: [partner]}\n    queue: SDR review\n"
        "  - id: partner-usa\n    when: {sources: [partner], countries: [US]}\n    queue: Nurture\n",
    )
    # fmt: on
    errors = [
        ("icp.yaml", _line(icp, "{min: 500, max: 50}"), "min (500) is greater than max (50)"),
        ("icp.yaml", _line(icp, "Finance boss"), "unknown persona 'Finance boss'"),
        ("icp.yaml", _line(icp, "[USA, CA]"), "String should match"),
        ("icp.yaml", _line(icp, "half_life_days: 0"), "greater than 0"),
        ("sources.yaml", _line(sources, "dedupe_days: three"), "valid integer"),
        ("routing.yaml", _line(routing, "- id: emea-enterprise"), "exactly one of"),  # the rule's first line
        ("routing.yaml", _line(routing, "North Amerika"), "unknown team 'North Amerika'"),
        ("routing.yaml", _lines(routing, "- id: nurture")[1], "used more than once"),
        ("routing.yaml", _line(routing, "Enterprise logistix"), "unknown vertical 'Enterprise logistix'"),
        ("routing.yaml", _line(routing, "when: {sources: [web]}"), "the last rule must be a fallback"),
    ]
    warnings = [
        ("routing.yaml", _line(routing, "tiers: [platinum]"), "can never match"),
        ("routing.yaml", _line(routing, "when: {sources: [partner], countries: [US]}"),
         "taken first by rule 'partner-first'"),
    ]  # fmt: skip
    return d, errors, warnings


def test_check_reports_every_one_of_ten_mistakes_with_file_and_line(tmp_path: Path) -> None:
    directory, errors, warnings = seeded_with_mistakes(tmp_path)

    result = runner.invoke(app, ["config", "check", str(directory)])

    assert result.exit_code == 1
    assert "10 problem(s)" in result.output, result.output
    problems = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    for file, line, text in errors:
        assert any(p.startswith(f"{file}:{line}: ") and text in p for p in problems), (file, line, text)
    for file, line, text in warnings:
        assert any(p.startswith(f"warning: {file}:{line}: ") and text in p for p in problems), (
            file,
            line,
            text,
        )
    assert len(problems) == 12, result.output


def test_check_json_lists_errors_and_warnings_apart(tmp_path: Path) -> None:
    directory, errors, warnings = seeded_with_mistakes(tmp_path)

    result = runner.invoke(app, ["config", "check", str(directory), "--json"])

    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert sorted((p["file"], p["line"]) for p in report["problems"]) == sorted((f, n) for f, n, _ in errors)
    assert [(w["file"], w["line"]) for w in report["warnings"]] == [(f, n) for f, n, _ in warnings]
    assert all(p["field"] for p in report["problems"])


def test_warnings_alone_do_not_fail_the_check(tmp_path: Path) -> None:
    directory = Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))
    _edit(
        directory / "routing.yaml",
        "when: {regions: [North America]}",
        "when: {regions: [North America], tiers: [gold]}",
    )

    result = runner.invoke(app, ["config", "check", str(directory)])

    assert result.exit_code == 0, result.output
    assert "valid (" in result.stdout
    assert "warning: routing.yaml:" in result.output and "no lead gets tier gold" in result.output


def test_the_shipped_config_has_no_warnings() -> None:
    result = runner.invoke(app, ["config", "check", str(CONFIG_DIR), "--json"])

    assert json.loads(result.stdout)["warnings"] == []


def test_check_warns_when_an_auto_send_rule_has_no_smtp_server(tmp_path: Path) -> None:
    directory = Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))
    routing = directory / "routing.yaml"
    text = routing.read_text()
    assert "    draft_email: true" in text
    routing.write_text(text.replace("    draft_email: true", "    draft_email: true\n    auto_send: true", 1))

    result = runner.invoke(app, ["config", "check", str(directory)], env={"LEADFLOW_SMTP_URL": None})  # type: ignore[dict-item]

    assert result.exit_code == 0, result.output
    assert (
        "warning: routing.yaml: rules.auto_send: no SMTP server configured (LEADFLOW_SMTP_URL)"
        in result.output
    )
    quiet = runner.invoke(app, ["config", "check", str(CONFIG_DIR)])
    assert "auto_send" not in quiet.output


def test_check_on_a_directory_that_does_not_exist_says_so_once(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-config"
    result = runner.invoke(app, ["config", "check", str(missing)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"1 problem(s) in {missing}:",
        f"  {missing}: (directory): does not exist",
    ]


def test_check_on_an_empty_directory_reports_both_required_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path)])

    assert result.exit_code == 1
    assert "icp.yaml: (file): file is missing" in result.output
    assert "routing.yaml: (file): file is missing" in result.output
