"""Each validation rule on tiny hand-written tables: what is dropped, what stops."""

import pandas as pd
import pytest

from healthscore.errors import SchemaError, ValidationError
from healthscore.data.validate import validate_tables


def base():
    return {
        "accounts": pd.DataFrame({"account_id": [1, 2], "name": ["Acme", "Globex"]}),
        "subscriptions": pd.DataFrame({
            "account_id": [1, 2], "subscription_id": ["s1", "s2"],
            "start_date": ["2024-01-01", "2024-02-01"], "end_date": ["2025-01-01", "2025-02-01"],
            "mrr": [10.0, 20.0]}),
    }


def with_table(name, frame):
    frames = base()
    frames[name] = frame
    return frames


def events(**overrides):
    data = {"account_id": [1, 2], "timestamp": ["2024-03-01 10:00", "2024-03-02 10:00"], "event": ["login", "login"]}
    data.update(overrides)
    return pd.DataFrame(data)


def the_problem(report, table, column):
    found = [p for p in report.problems if p.table == table and p.column == column]
    assert len(found) == 1, report.problems
    return found[0]


def test_clean_tables_have_no_problems():
    tables, report = validate_tables(with_table("events", events()))
    assert [p for p in report.problems if p.action != "ignored"] == []
    assert len(tables["events"]) == 2


def test_missing_required_table():
    frames = base()
    del frames["subscriptions"]
    with pytest.raises(SchemaError, match="required table 'subscriptions'"):
        validate_tables(frames)


def test_missing_required_column_names_table_and_column():
    with pytest.raises(SchemaError, match="table events has no column 'event'"):
        validate_tables(with_table("events", events().drop(columns="event")))


def test_unparsable_timestamp_is_dropped_and_counted():
    tables, report = validate_tables(with_table("events", events(timestamp=["2024-03-01", "not a date"])))
    problem = the_problem(report, "events", "timestamp")
    assert (problem.rows, problem.action) == (1, "dropped")
    assert problem.example["timestamp"] == "not a date"
    assert tables["events"]["account_id"].tolist() == [1]


def test_unparsable_timestamp_stops_when_strict():
    with pytest.raises(ValidationError, match=r"events.timestamp: 1 row\(s\) have an unparsable timestamp"):
        validate_tables(with_table("events", events(timestamp=["2024-03-01", "nope"])), on_invalid_rows="error")


def test_mixed_timezones_stop_the_run():
    with pytest.raises(ValidationError, match="mix timezone-aware and naive"):
        validate_tables(with_table("events", events(timestamp=["2024-03-01T10:00:00+02:00", "2024-03-01T10:00:00"])))


def test_aware_timestamps_are_converted_to_utc():
    tables, _ = validate_tables(with_table("events", events(timestamp=["2024-03-01T10:00:00+02:00", "2024-03-01T10:00:00Z"])))
    assert tables["events"]["timestamp"].tolist() == [pd.Timestamp("2024-03-01 08:00"), pd.Timestamp("2024-03-01 10:00")]


def test_duplicate_account_ids_stop_the_run():
    frames = base()
    frames["accounts"] = pd.DataFrame({"account_id": [1, 1, 2], "name": ["Acme", "Acme Inc", "Globex"]})
    with pytest.raises(ValidationError, match=r"accounts.account_id: 2 row\(s\) share a account_id"):
        validate_tables(frames)


def test_exact_duplicate_rows_are_dropped():
    frames = base()
    frames["subscriptions"] = pd.concat([frames["subscriptions"], frames["subscriptions"].iloc[[0]]])
    tables, report = validate_tables(frames)
    assert the_problem(report, "subscriptions", "subscription_id").action == "dropped"
    assert len(tables["subscriptions"]) == 2


def test_negative_amount_stops_with_example():
    invoices = pd.DataFrame({"account_id": [1], "issued_at": ["2024-02-01"], "due_at": ["2024-03-01"],
                             "amount": [-5.0]})
    with pytest.raises(ValidationError) as err:
        validate_tables(with_table("invoices", invoices))
    problem = err.value.problems[0]
    assert (problem.table, problem.column, problem.rows) == ("invoices", "amount", 1)
    assert problem.example["amount"] == -5.0


def test_subscription_ending_before_it_starts_stops():
    frames = base()
    frames["subscriptions"].loc[1, "end_date"] = "2023-01-01"
    with pytest.raises(ValidationError, match="subscriptions.end_date: 1 row.*end before start_date"):
        validate_tables(frames)


def test_ticket_closed_before_opened_is_dropped():
    tickets = pd.DataFrame({"account_id": [1, 2], "opened_at": ["2024-03-05", "2024-03-05"],
                            "closed_at": ["2024-03-01", "2024-03-06"]})
    tables, report = validate_tables(with_table("tickets", tickets))
    assert the_problem(report, "tickets", "closed_at").action == "dropped"
    assert tables["tickets"]["account_id"].tolist() == [2]
    assert tables["tickets"]["ticket_id"].tolist() == [2]


def test_orphan_rows_are_dropped():
    tables, report = validate_tables(with_table("events", events(account_id=[1, 99])))
    problem = the_problem(report, "events", "account_id")
    assert (problem.rows, problem.example["account_id"]) == (1, 99)
    assert tables["events"]["account_id"].tolist() == [1]


def test_empty_required_table_stops():
    frames = base()
    frames["subscriptions"] = frames["subscriptions"].iloc[:0]
    with pytest.raises(ValidationError, match="empty table"):
        validate_tables(frames)


def test_empty_optional_table_is_left_out():
    tables, report = validate_tables(with_table("events", events().iloc[:0]))
    assert "events" not in tables
    assert the_problem(report, "events", "*").action == "ignored"


def test_rows_after_the_end_of_the_data_are_ignored_and_late_facts_blanked():
    invoices = pd.DataFrame({"account_id": [1, 1], "issued_at": ["2024-02-01", "2024-07-01"],
                             "due_at": ["2024-03-01", "2024-08-01"], "paid_at": ["2024-06-15", None],
                             "amount": [10.0, 10.0]})
    tables, _ = validate_tables(with_table("invoices", invoices), observed_until=pd.Timestamp("2024-06-01"))
    kept = tables["invoices"]
    assert len(kept) == 1
    assert pd.isna(kept["paid_at"].iloc[0])  # paid after the end of the data: not yet known


def test_ids_are_cast_to_the_accounts_dtype():
    tables, _ = validate_tables(with_table("events", events(account_id=["1", "2"])))
    assert tables["events"]["account_id"].dtype == tables["accounts"]["account_id"].dtype


def test_a_value_outside_its_scale_is_blanked_and_the_row_kept():
    tickets = pd.DataFrame({"account_id": [1, 2], "opened_at": ["2024-03-01", "2024-03-02"],
                            "csat": [500.0, 4.0]})
    tables, report = validate_tables(with_table("tickets", tickets))
    problem = the_problem(report, "tickets", "csat")
    assert (problem.rows, problem.action, problem.example["csat"]) == (1, "blanked", 500.0)
    assert tables["tickets"]["csat"].isna().tolist() == [True, False]


def test_magnitudes_up_to_the_bound_pass_and_beyond_it_are_blanked():
    from healthscore.data.validate import MAX_MAGNITUDE

    frames = base()
    frames["subscriptions"]["mrr"] = [MAX_MAGNITUDE, MAX_MAGNITUDE * 10]
    tables, report = validate_tables(frames)
    assert tables["subscriptions"]["mrr"].tolist()[0] == MAX_MAGNITUDE
    assert pd.isna(tables["subscriptions"]["mrr"].iloc[1])
    assert the_problem(report, "subscriptions", "mrr").action == "blanked"
    assert tables.incomplete_accounts == frozenset({2})


def test_with_few_dated_rows_a_late_row_is_data_not_an_outlier():
    frames = base()
    frames["subscriptions"].loc[1, ["start_date", "end_date"]] = ["2026-02-01", "2027-02-01"]
    tables, report = validate_tables(frames)
    assert len(tables["subscriptions"]) == 2
    assert tables.observed_until == pd.Timestamp("2026-02-02")
