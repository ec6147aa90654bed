from __future__ import annotations

from pathlib import Path

import pytest

from services.model.history import load_history
from services.model.mapping import MappingError, load_mapping
from tests.model.helpers import MAPPING, write_history, write_mapping


def problems(tmp_path: Path, mapping_text: str, **history: object) -> list[str]:
    data = write_history(tmp_path, rows=200, **history)  # type: ignore[arg-type]
    with pytest.raises(MappingError) as caught:
        load_history(data, load_mapping(write_mapping(tmp_path, mapping_text)))
    return [str(p) for p in caught.value.problems]


def test_a_missing_label_column_is_named_with_file_and_line(tmp_path: Path) -> None:
    found = problems(tmp_path, MAPPING.replace("column: won", "column: outcome"))
    assert found == ["mapping.yaml:1: label.column: label column 'outcome' is not in history.csv"]


def test_an_unknown_lead_field_is_refused_before_reading_data(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, MAPPING.replace("company.industry", "company.sector")))
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("mapping.yaml", 6, "fields.industry")
    assert "unknown field 'company.sector'" in problem.message


def test_a_label_with_one_class_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, MAPPING.replace('positive: ["yes"]', 'positive: ["yes", "no"]'))
    assert found == ["mapping.yaml:1: label.positive: the label has one class only: every row is converted"]


def test_an_unknown_column_anywhere_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, MAPPING.replace("exclude: [note_after_call]", "exclude: [Tags]"))
    assert found == ["mapping.yaml:4: exclude.0: column 'Tags' is not in history.csv"]


def test_rows_become_leads_with_fields_attributes_and_missing_values(tmp_path: Path) -> None:
    data = write_history(tmp_path, rows=300)
    history = load_history(data, load_mapping(write_mapping(tmp_path)))
    assert len(history.leads) == 300 and set(history.labels.tolist()) == {0, 1}
    assert "note_after_call" not in history.features and "won" not in history.features
    assert history.features["industry"] == "company.industry"
    assert history.kinds == {"industry": "categorical", "visits": "numeric", "channel": "categorical"}
    lead = history.leads[0]
    assert lead.source_record_id == "r0" and "visits" in lead.attributes
    assert all(lead.company.industry != "Select" for lead in history.leads)
    assert any(lead.company.industry is None for lead in history.leads)  # "Select" means missing


def test_shipped_mappings_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "deploy" / "mappings"
    for name in ("x-education-leads.yaml", "maven-crm.yaml"):
        assert load_mapping(root / name).mapping.label.column


def test_a_key_given_twice_is_refused_not_silently_replaced(tmp_path: Path) -> None:
    # Two `exclude:` blocks: YAML keeps the last, so the leaking column would be trained on.
    text = MAPPING + "exclude: [channel]\n"
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, text))
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:7: exclude: 'exclude' is given twice (also on line 4)"
    ]


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, "label: {column: won, positive: [yes]\nid: record\n"))
    [problem] = caught.value.problems
    assert "\n" not in str(problem)
    assert str(problem).startswith("mapping.yaml:2: (file): not valid YAML: expected ',' or '}'")
