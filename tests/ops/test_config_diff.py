"""`leadflow config diff`: the pure replay (services/config_diff.py) and the command on a
generated history and on the X Education history."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas.config import LeadflowConfig, Range
from schemas.lead import Lead
from services.cli import app
from services.config import load_config
from services.config_diff import diff
from services.demo import sample_leads
from services.model.policy import Case
from tests.conftest import CONFIG_DIR, ROOT
from tests.examples import EXAMPLE

CONFIG = load_config(CONFIG_DIR)
NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
X_EDUCATION = ROOT.parent / "shared" / "data" / "x-education-leads" / "Leads.csv"
X_MAPPING = ROOT / "deploy" / "mappings" / "x-education-leads.yaml"


def case(lead_id: str, **changes: Any) -> Case:
    data = {**EXAMPLE, **changes}
    return Case(lead_id, Lead.model_validate(data), None, NOW)


def with_verticals(config: LeadflowConfig, **employees: Range) -> LeadflowConfig:
    verticals = tuple(
        v.model_copy(update={"employees": employees[v.name]}) if v.name in employees else v
        for v in config.icp.verticals
    )
    return config.model_copy(update={"icp": config.icp.model_copy(update={"verticals": verticals})})


def with_rules(config: LeadflowConfig, order: list[str]) -> LeadflowConfig:
    rules = {r.id: r for r in config.routing.rules}
    routing = config.routing.model_copy(update={"rules": tuple(rules[i] for i in order)})
    return config.model_copy(update={"routing": routing})


def test_a_changed_vertical_range_moves_a_founder_from_qualified_to_potential() -> None:
    founder = case("founder", title="Founder and CEO")
    # 150 employees now falls in 'Enterprise logistics', whose personas leave founders out.
    after = with_verticals(
        CONFIG,
        **{"Mid-market logistics": Range(min=200, max=500), "Enterprise logistics": Range(min=100)},
    )
    report = diff(CONFIG, after, [founder, case("ops")])
    moved = report.leads[0]
    assert (moved.before.status, moved.after.status) == ("qualified", "potential")
    assert (moved.before.tier, moved.after.tier) == ("hot", "nurture")
    assert moved.changes[:2] == ("status", "tier")
    assert report.changed["status"] == report.changed["tier"] == 1  # the operations leader still fits
    assert report.transitions["status"][("qualified", "potential")] == 1
    example = report.as_dict()["examples"]["status"][0]
    assert example["lead_id"] == "founder" and example["company"] == "Acme Logistics"
    assert any("Founder" in r or "Enterprise logistics" in r for r in example["reasons_after_only"])
    assert any("Mid-market logistics" in r for r in example["reasons_before_only"])


def test_a_rule_order_change_moves_customers_between_queues() -> None:
    # An existing customer we know too little about: insufficient_info, for account management.
    customer = case(
        "customer", title=None, company={"name": "Atlas Freight", "domain": "atlas-freight.example"}
    )
    order = [r.id for r in CONFIG.routing.rules]
    swapped = list(order)
    i, j = order.index("existing-customer"), order.index("needs-review")
    swapped[i], swapped[j] = swapped[j], swapped[i]
    report = diff(CONFIG, with_rules(CONFIG, swapped), [customer, case("fit")])
    moved = report.leads[0]
    assert moved.before.destination == "queue 'Account management'"
    assert moved.after.destination == "queue 'SDR review'"
    assert report.changed["destination"] == report.changed["rule"] == report.changed["any"] == 1
    assert report.changed["status"] == report.changed["tier"] == 0
    assert report.transitions["destination"][("queue 'Account management'", "queue 'SDR review'")] == 1
    rows = {r.rule_id: r for r in report.rules}
    assert (rows["existing-customer"].before, rows["existing-customer"].after) == (1, 0)
    assert (rows["existing-customer"].moved_out, rows["needs-review"].moved_in) == (1, 1)
    assert [r.rule_id for r in report.rules] == order  # the old config's order


def test_identical_configs_report_zero_changes() -> None:
    cases = [Case(f"l{i}", Lead.model_validate(d), None, NOW) for i, d in enumerate(sample_leads(60))]
    report = diff(CONFIG, CONFIG, cases)
    assert len(report.leads) == 60
    assert set(report.changed.values()) == {0}
    assert report.examples == {}
    assert all(r.moved_in == r.moved_out == 0 and r.before == r.after for r in report.rules)
    # The rotation advanced lead by lead: more than one person got a lead.
    assert len({d.after.owner for d in report.leads if d.after.owner}) > 1


def test_a_weight_change_is_a_person_only_change_not_a_destination_change() -> None:
    teams = tuple(
        t.model_copy(update={"members": tuple(m.model_copy(update={"weight": 1}) for m in t.members)})
        for t in CONFIG.routing.teams
    )
    after = CONFIG.model_copy(update={"routing": CONFIG.routing.model_copy(update={"teams": teams})})
    report = diff(CONFIG, after, [case(f"es{i}") for i in range(8)])
    assert report.changed["destination"] == 0
    assert report.changed["person_only"] == report.changed["owner"] > 0


def write_history(path: Path) -> Path:
    """Twelve leads as a CRM export: logistics firms in Spain, banks, people with no company."""
    rows = [
        ["id", "company", "industry", "employees", "country", "title", "won"],
        *[[f"r{i}", f"Haul {i}", "Logistics", str(60 + 20 * i), "ES", "Head of Ops", "1"] for i in range(6)],
        *[[f"b{i}", f"Bank {i}", "Banking", "900", "DE", "Analyst", "0"] for i in range(3)],
        *[[f"n{i}", "", "", "", "", "", "0"] for i in range(3)],
    ]  # fmt: skip
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


MAPPING = """\
label: {column: won, positive: ["1"]}
id: id
fields:
  company: company.name
  industry: company.industry
  employees: company.employees
  country: company.country
  title: person.title
"""


def command(new: Path, history: Path, mapping: Path) -> list[str]:
    return ["config", "diff", str(CONFIG_DIR), str(new), "--history", str(history), "--mapping", str(mapping)]


def copy_config(
    tmp_path: Path, routing_edit: tuple[str, str] | None = None, icp_edit: tuple[str, str] | None = None
) -> Path:
    new = tmp_path / "new-config"
    shutil.copytree(CONFIG_DIR, new)
    for name, edit in (("routing.yaml", routing_edit), ("icp.yaml", icp_edit)):
        if edit is not None:
            text = (new / name).read_text()
            assert edit[0] in text
            (new / name).write_text(text.replace(edit[0], edit[1], 1))
    return new


def test_cli_on_a_generated_history(tmp_path: Path) -> None:
    history, mapping = write_history(tmp_path / "history.csv"), tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    # Mid-market now starts at 100 employees: the smaller hauliers fit no vertical any more.
    new = copy_config(
        tmp_path, icp_edit=("employees: {min: 50, max: 500}", "employees: {min: 100, max: 500}")
    )
    args = command(new, history, mapping)
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["leads"] == 12 and result["model"] is None
    # r0 (60 employees) and r1 (80) were qualified; now unqualified and nurtured.
    assert result["changed"]["status"] == 2 and result["changed"]["destination"] == 2
    assert {e["lead_id"] for e in result["examples"]["status"]} == {"r0", "r1"}
    assert {"before": "qualified", "after": "unqualified", "leads": 2} in result["transitions"]["status"]
    nurture = next(r for r in result["rules"] if r["rule_id"] == "nurture")
    assert nurture["moved_in"] == 2
    text = CliRunner().invoke(app, [*args, "--examples", "1", "--limit", "3"])
    assert text.exit_code == 0, text.output
    assert "Replayed 3 leads" in text.stdout and "qualified -> unqualified: 2" in text.stdout
    assert "Examples: status changed" in text.stdout and "  r0 (Haul 0)" in text.stdout
    assert "  r1 (Haul 1)" not in text.stdout  # --examples 1
    assert "Round robin" in text.stdout
    assert "@" not in text.stdout


def test_cli_enrich_completes_the_company_from_the_offline_providers(tmp_path: Path) -> None:
    history, mapping = tmp_path / "history.csv", tmp_path / "mapping.yaml"
    mapping.write_text(
        "label: {column: won, positive: ['1']}\nid: id\n"
        "fields: {company: company.name, title: person.title}\n"
    )
    # Only a name: the domain finder and the demo firmographic table know it (logistics, 80, PT).
    history.write_text("id,company,title,won\nr0,Iberia Freight,Head of Operations,1\nr1,,,0\n")
    new = copy_config(
        tmp_path, icp_edit=("employees: {min: 50, max: 500}", "employees: {min: 100, max: 500}")
    )
    plain = CliRunner().invoke(app, [*command(new, history, mapping), "--json"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["changed"]["status"] == 0  # its size unknown: the range cannot matter
    enriched = CliRunner().invoke(app, [*command(new, history, mapping), "--enrich", "--json"])
    assert enriched.exit_code == 0, enriched.output
    result = json.loads(enriched.stdout)
    assert result["enrichment"] == "offline providers"
    assert result["changed"]["status"] == 1
    assert {"before": "qualified", "after": "unqualified", "leads": 1} in result["transitions"]["status"]


def test_cli_refuses_an_invalid_new_config(tmp_path: Path) -> None:
    history, mapping = write_history(tmp_path / "history.csv"), tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    new = copy_config(tmp_path, routing_edit=("team: Inside sales\n", "team: Nobody\n"))
    args = command(new, history, mapping)
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2
    assert "routing.yaml" in out.output and "not valid" in out.output


@pytest.mark.skipif(not X_EDUCATION.exists(), reason=f"dataset absent: {X_EDUCATION}")
def test_x_education_history_with_a_new_rule(tmp_path: Path) -> None:
    # RevOps sends leads from the course's own lead form to a queue of their own.
    rule = (
        "  - id: lead-add-form\n"
        '    when: {field: {"lead.attributes.Lead Origin": Lead Add Form}}\n'
        "    queue: Inbound forms\n"
    )
    new = copy_config(tmp_path, routing_edit=("  - id: needs-review\n", rule + "  - id: needs-review\n"))
    out = CliRunner().invoke(app, [*command(new, X_EDUCATION, X_MAPPING), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["leads"] == 9240
    changed = result["changed"]
    assert 0 < changed["destination"] == changed["rule"] == changed["any"] < result["leads"]
    assert changed["status"] == changed["tier"] == 0  # routing only: the judgment stands
    rows = {r["rule_id"]: r for r in result["rules"]}
    assert rows["lead-add-form"]["before"] == 0 and rows["lead-add-form"]["after"] == changed["rule"]
    examples = result["examples"]["destination"]
    assert len(examples) == 3 and all(e["after"]["destination"] == "queue 'Inbound forms'" for e in examples)
    assert all("lead-add-form" in " ".join(e["reasons_after_only"]) for e in examples)
