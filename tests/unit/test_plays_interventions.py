"""The optional interventions table (what customer success did): validated like the
others on tiny hand-written rows, read from a folder like any optional table, and
never a feature nor the data's start."""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.dataset.timeline import data_start
from healthscore.errors import SchemaError, ValidationError
from healthscore.data.validate import validate_tables
from healthscore.io.sources import read_source


END = pd.Timestamp("2024-06-01")


def base():
    return {
        "accounts": pd.DataFrame({"account_id": [1, 2], "name": ["Acme", "Globex"]}),
        "subscriptions": pd.DataFrame({
            "account_id": [1, 2], "subscription_id": ["s1", "s2"],
            "start_date": ["2024-01-01", "2024-02-01"], "end_date": ["2025-01-01", "2025-02-01"],
            "mrr": [10.0, 20.0]}),
    }


def touches(**overrides):
    data = {"account_id": [1, 2, 1], "play": ["health_check", "renewal_save", "health_check"],
            "date": ["2024-03-01", "2024-03-02 10:00", "2024-04-01"],
            "outcome": ["done", "no_answer", "done"]}
    data.update(overrides)
    return pd.DataFrame(data)


def problems(report, column):
    return [p for p in report.problems if p.table == "interventions" and p.column == column]


def test_clean_interventions_are_canonical():
    tables, report = validate_tables(base() | {"interventions": touches()}, observed_until=END)
    frame = tables["interventions"]
    assert str(frame["date"].dtype) == "datetime64[us]"
    assert frame["account_id"].dtype == tables.accounts["account_id"].dtype
    assert list(frame["outcome"]) == ["done", "no_answer", "done"]
    assert [p for p in report.problems if p.table == "interventions"] == []


def test_missing_play_column_names_table_and_column():
    with pytest.raises(SchemaError, match="table interventions has no column 'play'"):
        validate_tables(base() | {"interventions": touches().drop(columns="play")})


def test_bad_rows_are_dropped_and_counted_with_an_example():
    frame = pd.concat([touches(), touches(account_id=[2, 9, 1], date=["2024-05-01", "2024-03-02", "yesterday"])],
                      ignore_index=True)
    tables, report = validate_tables(base() | {"interventions": frame}, observed_until=END)
    orphan, = problems(report, "account_id")
    assert orphan.rows == 1 and orphan.example["account_id"] == 9 and orphan.action == "dropped"
    bad_date, = problems(report, "date")
    assert bad_date.example["date"] == "yesterday"
    assert list(tables["interventions"]["account_id"]) == [1, 2, 1, 2]


def test_the_same_touch_twice_with_different_outcomes_stops():
    frame = touches(date=["2024-03-01", "2024-03-02", "2024-03-01"], outcome=["done", "done", "no_show"])
    with pytest.raises(ValidationError, match="interventions"):
        validate_tables(base() | {"interventions": frame}, observed_until=END)


def test_touches_after_the_end_are_ignored_and_never_move_the_data_start():
    frame = touches(date=["2024-03-01", "2024-03-02", "2024-09-01"])
    tables, report = validate_tables(base() | {"interventions": frame},
                                     observed_until=END)
    late, = problems(report, "date")
    assert late.action == "ignored" and late.rows == 1
    assert len(tables["interventions"]) == 2
    # interventions start in March; the data starts with the subscriptions in January
    assert data_start(tables) == pd.Timestamp("2024-01-01")  # the subscriptions' start
    without, _ = validate_tables(base(), observed_until=END)
    assert data_start(without) == data_start(tables)


def test_read_from_a_folder_like_any_optional_table(tmp_path):
    for name, frame in (base() | {"interventions": touches()}).items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    tables, _ = read_source(make_params({"data": {"observed_until": "2024-06-01"}}).data, source=tmp_path)
    assert "interventions" in tables and len(tables["interventions"]) == 3
    (tmp_path / "interventions.csv").unlink()
    tables, _ = read_source(make_params({"data": {"observed_until": "2024-06-01"}}).data, source=tmp_path)
    assert "interventions" not in tables
