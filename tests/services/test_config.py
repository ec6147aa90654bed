"""Loading deploy/config/*.yaml with every problem reported at once (services/config.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from services.config import ConfigError, Problem, check_config, config_version, load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"

BROKEN_ICP = """\
# comments and blank lines count towards line numbers

verticals:
  - name: Logistics
    industries: [logistics]
    employees: {min: 500, max: 50}
    countries:
      - ES
      - Spain
  - name: Retail
    industries: [retail]
personas:
  - name: Ops
    title_keywords: []
  - name: Founder
    title_keywords: [founder]
classification:
  engagement_bands: [20, 50]
"""

BROKEN_ROUTING = """\
teams:
  - name: EMEA
    members:
      - {id: ana, name: Ana}
      - {id: ben}
  - name: Inside
    members:
      - {id: grace, name: Grace}
rules:
  - id: emea
    when: {countries: [ES]}
    team: EMEA
    queue: Review
  - id: fallback
    team: Inside
    colour: red
"""


def line_of(text: str, snippet: str) -> int:
    """1-based number of the only line of ``text`` that contains ``snippet``."""
    (number,) = [i for i, line in enumerate(text.splitlines(), start=1) if snippet in line]
    return number


def config_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))


def edited_copy(tmp_path: Path, name: str, old: str, new: str) -> tuple[Path, str]:
    """A copy of the demo config with ``old`` replaced by ``new`` once in file ``name``; the copy's
    directory and that file's new text."""
    directory = config_copy(tmp_path)
    text = (directory / name).read_text().replace(old, new, 1)
    (directory / name).write_text(text)
    return directory, text


def write_config(directory: Path, icp: str | None, routing: str | None) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in (("icp.yaml", icp), ("routing.yaml", routing)):
        if text is not None:
            (directory / name).write_text(text)
    return directory


def problems_of(directory: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    return caught.value.problems


def test_deploy_config_loads() -> None:
    config = load_config(CONFIG_DIR)

    assert config.icp.verticals[0].name == "Mid-market logistics"
    assert config.routing.rules[-1].when.is_catch_all
    assert re.fullmatch(r"[0-9a-f]{12}", config.version)
    assert config.version == config_version(CONFIG_DIR)


def test_version_is_a_content_hash_not_a_path(tmp_path: Path) -> None:
    assert load_config(config_copy(tmp_path)).version == load_config(CONFIG_DIR).version


@pytest.mark.parametrize("name", ["icp.yaml", "routing.yaml"])
def test_version_changes_when_a_file_changes(tmp_path: Path, name: str) -> None:
    directory = config_copy(tmp_path)
    before = load_config(directory).version

    path = directory / name
    path.write_text(path.read_text() + "# edited\n")

    after = load_config(directory).version
    assert after != before
    assert re.fullmatch(r"[0-9a-f]{12}", after)


def test_every_problem_in_both_files_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    directory = write_config(tmp_path / "config", BROKEN_ICP, BROKEN_ROUTING)

    problems = problems_of(directory)

    found = {(p.file, p.line, p.field) for p in problems}
    expected = {
        ("icp.yaml", line_of(BROKEN_ICP, "max: 50"), "verticals.0.employees"),
        ("icp.yaml", line_of(BROKEN_ICP, "- Spain"), "verticals.0.countries.1"),
        ("icp.yaml", line_of(BROKEN_ICP, "- name: Ops"), "personas.0"),
        ("icp.yaml", line_of(BROKEN_ICP, "engagement_bands:"), "classification"),
        ("routing.yaml", line_of(BROKEN_ROUTING, "{id: ben}"), "teams.0.members.1.name"),
        ("routing.yaml", line_of(BROKEN_ROUTING, "- id: emea"), "rules.0"),
        ("routing.yaml", line_of(BROKEN_ROUTING, "colour: red"), "rules.1.colour"),
    }
    assert expected <= found
    messages = {p.field: p.message for p in problems}
    assert messages["verticals.0.employees"] == "min (500) is greater than max (50)"
    assert messages["personas.0"] == "a persona needs functions or title_keywords"
    assert messages["classification"].startswith("engagement_bands must be [high, medium]")
    assert messages["rules.0"] == (
        "a rule needs exactly one of 'account_owner', 'team', 'queue', 'nurture' or 'archive'"
    )
    assert "Field required" in messages["teams.0.members.1.name"]


def test_the_error_message_lists_each_problem_as_file_line_field(tmp_path: Path) -> None:
    directory = write_config(tmp_path / "config", BROKEN_ICP, BROKEN_ROUTING)

    with pytest.raises(ConfigError) as caught:
        load_config(directory)

    text = str(caught.value)
    line = line_of(BROKEN_ICP, "max: 50")
    assert f"icp.yaml:{line}: verticals.0.employees: min (500) is greater than max (50)" in text.splitlines()
    assert len(text.splitlines()) == len(caught.value.problems)


def test_only_the_real_problems_are_reported(tmp_path: Path) -> None:
    directory = write_config(tmp_path / "config", CONFIG_DIR.joinpath("icp.yaml").read_text(), BROKEN_ROUTING)

    fields = [p.field for p in problems_of(directory)]

    assert sorted(fields) == ["rules.0", "rules.1.colour", "teams.0.members.1.name"]


def test_an_unknown_team_is_reported_at_the_rule_that_names_it(tmp_path: Path) -> None:
    directory = config_copy(tmp_path)
    routing = (directory / "routing.yaml").read_text().replace("team: Inside sales", "team: Nobody")
    (directory / "routing.yaml").write_text(routing)
    last_rule = len(load_config(CONFIG_DIR).routing.rules) - 1

    (problem,) = problems_of(directory)

    assert problem.file == "routing.yaml"
    assert "unknown team 'Nobody'" in problem.message
    assert problem.field.startswith(f"rules.{last_rule}")
    assert problem.line in {line_of(routing, "- id: fallback"), line_of(routing, "team: Nobody")}


def test_invalid_yaml_is_reported_with_file_and_line(tmp_path: Path) -> None:
    bad = "verticals:\n  - name: Logistics\n   industries: [logistics]\n"
    directory = config_copy(tmp_path)
    (directory / "icp.yaml").write_text(bad)

    (problem,) = problems_of(directory)

    assert problem.file == "icp.yaml"
    assert problem.line == line_of(bad, "   industries")
    assert problem.field == ""
    assert problem.message.startswith("not valid YAML")


def test_invalid_yaml_in_one_file_does_not_hide_problems_in_the_other(tmp_path: Path) -> None:
    directory = write_config(tmp_path / "config", "verticals: [\n", BROKEN_ROUTING)

    files = {p.file for p in problems_of(directory)}

    assert files == {"icp.yaml", "routing.yaml"}


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    directory = config_copy(tmp_path)
    (directory / "routing.yaml").unlink()

    (problem,) = problems_of(directory)

    assert problem == Problem("routing.yaml", None, "", "file is missing")
    assert str(problem) == "routing.yaml: (file): file is missing"


def test_an_empty_file_reports_each_required_section(tmp_path: Path) -> None:
    directory = config_copy(tmp_path)
    (directory / "icp.yaml").write_text("# nothing yet\n")

    problems = problems_of(directory)

    assert {(p.file, p.field, p.message) for p in problems} == {
        ("icp.yaml", "verticals", "Field required"),
        ("icp.yaml", "personas", "Field required"),
    }


def test_a_routing_rule_naming_an_unknown_vertical_is_reported_at_that_rule(tmp_path: Path) -> None:
    directory = config_copy(tmp_path)
    routing = (
        (directory / "routing.yaml").read_text().replace("[Enterprise logistics]", "[Enterprise logistic]")
    )
    (directory / "routing.yaml").write_text(routing)
    [problem] = problems_of(directory)
    assert (problem.file, problem.field) == ("routing.yaml", "rules.4.when.verticals")
    assert problem.line == line_of(routing, "Enterprise logistic]")
    assert "unknown vertical 'Enterprise logistic'" in problem.message


def test_a_key_given_twice_is_reported_at_its_second_line(tmp_path: Path) -> None:
    # YAML itself keeps the last of two equal keys: an edit that adds a second `review_queues:`
    # would silently drop the first one.
    first = "review_queues: [SDR review]\n"
    directory, routing = edited_copy(tmp_path, "routing.yaml", first, first + "review_queues: [X]\n")

    (problem,) = problems_of(directory)

    assert (problem.file, problem.line, problem.field) == (
        "routing.yaml",
        line_of(routing, "review_queues: [X]"),
        "review_queues",
    )
    assert problem.message == (
        f"'review_queues' is given twice (also on line {line_of(routing, 'review_queues: [SDR review]')})"
    )


def test_a_key_given_twice_inside_a_list_item_is_named_by_its_path(tmp_path: Path) -> None:
    directory, routing = edited_copy(
        tmp_path, "routing.yaml", "    queue: SDR review\n", "    queue: SDR review\n    queue: Later\n"
    )

    (problem,) = problems_of(directory)

    index = [r.id for r in load_config(CONFIG_DIR).routing.rules].index("needs-review")
    assert (problem.field, problem.line) == (f"rules.{index}.queue", line_of(routing, "queue: Later"))


def test_invalid_yaml_is_one_line_with_the_parser_s_reason(tmp_path: Path) -> None:
    directory, routing = edited_copy(
        tmp_path, "routing.yaml", "review_queues: [SDR review]", "review_queues: [SDR review"
    )

    (problem,) = problems_of(directory)

    assert "\n" not in str(problem)
    assert problem.line == line_of(routing, "overflow_queue: Unassigned")
    assert problem.message == (
        "not valid YAML: expected ',' or ']', but got ':' (column 15;"
        f" while parsing a flow sequence from line {line_of(routing, 'review_queues: [SDR review')})"
    )


def test_a_crm_owner_map_naming_no_routing_member_is_a_warning(tmp_path: Path) -> None:
    # A typo here leaves the real member unmapped: their leads reach HubSpot with no owner. A
    # warning: the entry of a member who left is harmless, and the config still loads.
    typo = '  owners: {ana.garcia: "71234567", ana.garcya: "71234568"}  '
    directory, crm = edited_copy(tmp_path, "crm.yaml", "  owners: {}  ", typo)

    result = check_config(directory)

    assert result.config is not None and result.errors == []
    (problem,) = result.warnings
    assert problem.severity == "warning"
    assert str(problem) == (
        f"crm.yaml:{line_of(crm, 'ana.garcya')}: hubspot.owners.ana.garcya:"
        " no member of a routing.yaml team has the id 'ana.garcya'"
    )


def test_a_file_not_in_utf8_is_reported_at_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    # Saved as "ANSI" (Windows-1252) by an editor: José's é is one byte that UTF-8 does not allow.
    directory = config_copy(tmp_path)
    routing = (directory / "routing.yaml").read_text().replace("name: Grace Lee", "name: José Lee")
    (directory / "routing.yaml").write_bytes(routing.encode("cp1252"))

    (problem,) = problems_of(directory)

    assert str(problem) == (
        f"routing.yaml:{line_of(routing, 'José')}: (file): not UTF-8 (byte 0xe9 at column"
        f" {routing.splitlines()[line_of(routing, 'José') - 1].index('é') + 1}): save the file as UTF-8"
    )
