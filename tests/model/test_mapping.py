from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from services.model.history import load_history
from services.model.mapping import MappingError, load_mapping
from tests.model.helpers import MAPPING, write_history, write_mapping


def problems(tmp_path: Path, mapping_text: str, **history: object) -> list[str]:
    data = write_history(tmp_path, rows=200, **history)  # type: ignore[arg-type]
    with pytest.raises(MappingError) as caught:
        load_history(data, load_mapping(write_mapping(tmp_path, mapping_text)))
    return [str(p) for p in caught.value.problems]


def mapping_problems(tmp_path: Path, mapping_text: str) -> list[str]:
    """The problems of a mapping on its own, before any data is read."""
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, mapping_text))
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
    assert mapping_problems(tmp_path, text) == [
        "mapping.yaml:7: exclude: 'exclude' is given twice (also on line 4)"
    ]


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, "label: {column: won, positive: [yes]\nid: record\n"))
    [problem] = caught.value.problems
    assert "\n" not in str(problem)
    assert str(problem).startswith("mapping.yaml:2: (file): not valid YAML: expected ',' or '}'")


def _export(directory: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A tiny CRM export: id, created (as the CRM wrote it), stage."""
    path = directory / "export.csv"
    lines = ["id,created,visits,stage", *(f"{i},{c},{n % 7},{s}" for n, (i, c, s) in enumerate(rows))]
    path.write_text("\n".join(lines) + "\n")
    return path


DATED = "label: {column: stage, positive: [Won], negative: [Lost]}\nid: id\ndate: created\n"


def test_day_first_dates_are_read_whatever_the_first_row_looks_like(tmp_path: Path) -> None:
    # 02/10/2024 first: pandas guessed month-first from it and dropped every day past the 12th.
    rows = [("a", "02/10/2024", "Won"), ("b", "19/01/2024", "Lost"), ("c", "25/12/2023 10:30", "Won")]
    rows += [(f"x{i}", f"{i + 1:02d}/03/2024", "Won" if i % 2 else "Lost") for i in range(20)]
    history = load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, DATED)))
    assert len(history.leads) == len(rows)
    dates = {lead.source_record_id: str(d)[:16] for lead, d in zip(history.leads, history.dates, strict=True)}  # type: ignore[arg-type]
    assert dates["a"] == "2024-10-02T00:00"
    assert dates["b"] == "2024-01-19T00:00"
    assert dates["c"] == "2023-12-25T10:30"
    assert history.notes == ()


def test_iso_dates_are_never_read_day_first(tmp_path: Path) -> None:
    rows = [("a", "2024-01-02", "Won"), ("b", "19/01/2024", "Lost"), ("c", "2024-03-04T05:06:07Z", "Lost")]
    rows += [(f"x{i}", f"{i + 1:02d}/03/2024", "Won" if i % 2 else "Lost") for i in range(20)]
    history = load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, DATED)))
    dates = {lead.source_record_id: str(d)[:19] for lead, d in zip(history.leads, history.dates, strict=True)}  # type: ignore[arg-type]
    assert dates["a"] == "2024-01-02T00:00:00"
    assert dates["c"] == "2024-03-04T05:06:07"


def test_rows_left_out_are_counted_in_notes(tmp_path: Path) -> None:
    rows = [(f"x{i}", f"2024-03-{i % 28 + 1:02d}", ["Won", "Lost", "Open"][i % 3]) for i in range(30)]
    rows += [("blank", "", "Won"), ("junk", "soon", "Lost")]
    history = load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, DATED)))
    assert len(history.leads) == 20
    assert history.notes == (
        "10 rows whose stage is neither positive nor negative were left out (Open: 10)",
        "2 rows without a date in created were left out (1 blank, 1 not a date, e.g. 'soon')",
    )


def test_non_positive_values_counted_as_lost_are_named_without_negative(tmp_path: Path) -> None:
    rows = [(f"x{i}", "2024-03-01", ["Won", "Lost", "Open"][i % 3]) for i in range(30)]
    text = "label: {column: stage, positive: [Won]}\nid: id\n"
    history = load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, text)))
    assert len(history.leads) == 30
    assert history.notes == (
        "stage values counted as not converted: Lost (10), Open (10)"
        " (list the lost ones under label.negative to leave the others out)",
    )


def test_a_date_column_without_any_date_is_refused(tmp_path: Path) -> None:
    rows = [(f"x{i}", "soon", ["Won", "Lost"][i % 2]) for i in range(10)]
    with pytest.raises(MappingError) as caught:
        load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, DATED)))
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:3: date: no value of column 'created' is a date, e.g. 'soon'"
    ]


def test_label_values_that_never_occur_are_named(tmp_path: Path) -> None:
    rows = [(f"x{i}", "2024-03-01", ["Won", "Lost", "Open"][i % 3]) for i in range(30)]
    text = "label: {column: stage, positive: [won], negative: [lost]}\nid: id\n"
    with pytest.raises(MappingError) as caught:
        load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, text)))
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:1: label.positive: no row of column 'stage' has 'won' (its values: Lost, Open, Won)",
        "mapping.yaml:1: label.negative: no row of column 'stage' has 'lost' (its values: Lost, Open, Won)",
    ]


def test_one_listed_label_value_that_never_occurs_is_a_note(tmp_path: Path) -> None:
    # A mapping may list spellings of several CRMs; only a list none of whose values occur fails.
    rows = [(f"x{i}", "2024-03-01", ["Won", "Lost"][i % 2]) for i in range(30)]
    text = "label: {column: stage, positive: [Won, Closed Won], negative: [Lost]}\nid: id\n"
    history = load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, text)))
    assert history.notes == ("no row of column 'stage' has 'Closed Won' (label.positive)",)


def test_unquoted_numeric_label_values_are_read_as_text(tmp_path: Path) -> None:
    text = "label: {column: Converted, positive: [1], negative: [0]}\n"
    loaded = load_mapping(write_mapping(tmp_path, text))
    assert (loaded.mapping.label.positive, loaded.mapping.label.negative) == (("1",), ("0",))


def test_an_unquoted_yes_is_refused_with_a_hint_in_one_problem(tmp_path: Path) -> None:
    # YAML 1.1 reads Yes, No, On, Off, true, false unquoted as booleans.
    assert mapping_problems(tmp_path, "label: {column: won, positive: [Yes]}\n") == [
        "mapping.yaml:1: label.positive: YAML reads Yes, No, On, Off, true and false unquoted as"
        ' true/false: quote the value, e.g. ["Yes"]'
    ]


def test_two_columns_for_one_lead_field_are_refused(tmp_path: Path) -> None:
    # Row by row the later column would overwrite the earlier one where both are given.
    text = MAPPING + "  channel: company.industry\n"
    assert mapping_problems(tmp_path, text) == [
        "mapping.yaml:6: fields: company.industry is filled from two columns: channel, industry"
    ]


def test_a_column_both_excluded_and_mapped_is_refused(tmp_path: Path) -> None:
    text = MAPPING.replace("exclude: [note_after_call]", "exclude: [note_after_call, industry]")
    assert mapping_problems(tmp_path, text) == [
        "mapping.yaml:6: fields: columns both excluded and mapped to a field: industry"
    ]


def test_a_semicolon_separated_export_with_a_bom_is_read(tmp_path: Path) -> None:
    # What Excel writes as "CSV" where the decimal separator is a comma, and "CSV UTF-8" with a BOM.
    data = write_history(tmp_path, rows=200)
    text = data.read_text().replace(",", ";")
    data.write_text("\ufeff" + text, encoding="utf-8")
    history = load_history(data, load_mapping(write_mapping(tmp_path)))
    assert len(history.leads) == 200
    assert history.leads[0].source_record_id == "r0"


def test_two_columns_with_one_name_are_refused(tmp_path: Path) -> None:
    # pandas would rename the second to "channel.1", a feature no live lead ever sends.
    data = write_history(tmp_path, rows=200)
    lines = data.read_text().splitlines()
    lines[0] = lines[0].replace("visits", "channel")
    data.write_text("\n".join(lines) + "\n")
    expected = "history.csv has 2 columns named 'channel' (columns 3 and 4)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_history(data, load_mapping(write_mapping(tmp_path)))


def test_a_mapping_not_in_utf8_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_bytes("label: {column: Situación, positive: [Ganado]}\n".encode("cp1252"))
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:1: (file): not UTF-8 (byte 0xf3 at column 24): save the file as UTF-8"
    ]


def test_an_export_not_in_utf8_says_how_to_save_it(tmp_path: Path) -> None:
    data = write_history(tmp_path, rows=50)
    data.write_bytes(data.read_text().replace("Retail", "Télécoms").encode("cp1252"))
    with pytest.raises(
        ValueError, match=r"history.csv is not UTF-8 \(byte 0xe9 at offset \d+\): save it as CSV UTF-8"
    ):
        load_history(data, load_mapping(write_mapping(tmp_path)))


def test_a_column_declared_numeric_with_text_in_it_is_named(tmp_path: Path) -> None:
    data = write_history(tmp_path, rows=50)
    with pytest.raises(MappingError) as caught:
        load_history(data, load_mapping(write_mapping(tmp_path, MAPPING + "kinds: {channel: numeric}\n")))
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:7: kinds.channel: column 'channel' has values that are not numbers: 'ads', 'seo'"
        " (list them under missing, or leave the kind to the data)"
    ]


def test_a_number_field_filled_from_text_ranges_is_named(tmp_path: Path) -> None:
    # "11-50": how CRMs often export company size; company.employees is a number.
    data = write_history(tmp_path, rows=50)
    data.write_text(data.read_text().replace("Banking", "11-50"))
    text = MAPPING.replace("company.industry", "company.employees")
    with pytest.raises(MappingError) as caught:
        load_history(data, load_mapping(write_mapping(tmp_path, text)))
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:6: fields.industry: column 'industry' fills company.employees, a number, but has"
        " values that are not numbers: '11-50', 'Logistics', 'Retail' (list them under missing, or"
        " leave the column out of fields: it is then a feature of its own)"
    ]


def test_ids_given_more_than_once_are_noted(tmp_path: Path) -> None:
    # One row per activity rather than per lead: the same lead can land on both sides of the split.
    data = write_history(tmp_path, rows=50)
    data.write_text(
        data.read_text().replace("r1,", "r0,", 1).replace("r2,", "r0,", 1).replace("r3,", "r4,", 1)
    )
    history = load_history(data, load_mapping(write_mapping(tmp_path)))
    assert (
        "2 ids are given on more than one row (3 rows for 'r0'): one lead may be on both sides of the split"
        in (history.notes)
    )


def test_a_recursive_yaml_alias_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(MappingError):
        load_mapping(write_mapping(tmp_path, "label: &a {column: won, positive: [yes], more: *a}\n"))


def test_a_date_column_that_is_all_blank_is_refused(tmp_path: Path) -> None:
    rows = [(f"x{i}", "", ["Won", "Lost"][i % 2]) for i in range(10)]
    with pytest.raises(MappingError) as caught:
        load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, DATED)))
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:3: date: column 'created' is blank on every row with an outcome"
    ]


def test_one_class_left_after_rows_without_a_date_is_refused(tmp_path: Path) -> None:
    rows = [(f"x{i}", "2024-03-01" if i % 2 else "", ["Won", "Lost"][i % 2]) for i in range(10)]
    with pytest.raises(MappingError) as caught:
        load_history(_export(tmp_path, rows), load_mapping(write_mapping(tmp_path, DATED)))
    assert [str(p) for p in caught.value.problems] == [
        "mapping.yaml:1: label.positive: the label has one class only: every row is not converted"
        " (of the rows with a date)"
    ]


@pytest.mark.parametrize(
    ("name", "rows", "empty"),
    [
        ("empty.csv", None, b""),
        ("bom.csv", None, b"\xef\xbb\xbf"),  # Excel's CSV UTF-8 of an empty sheet
        ("blank.csv", None, b"\r\n\r\n"),
        ("header.csv", 0, b""),
        ("header.parquet", 0, b""),
    ],
)
def test_an_export_without_rows_says_so(tmp_path: Path, name: str, rows: int | None, empty: bytes) -> None:
    # Not "no row of column 'won' has 'yes' (its values: )", which reads as a typo in the mapping,
    # nor pandas' "No columns to parse from file".
    data = tmp_path / name
    header = write_history(tmp_path, rows=1).read_text().splitlines()[0]
    if rows is None:
        data.write_bytes(empty)
    elif name.endswith(".parquet"):
        pd.DataFrame(columns=header.split(",")).to_parquet(data)
    else:
        data.write_text(header + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{name} has no rows")):
        load_history(data, load_mapping(write_mapping(tmp_path)))
