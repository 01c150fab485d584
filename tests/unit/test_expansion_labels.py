"""Expansion labels: a rise of the MRR by the share within the horizon, point in time.

Every case is one account whose answer can be read off the dates and amounts. The
cutoff is 2020-03-01, lead 0, horizon 60 days: window [2020-03-01, 2020-04-30).
"""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.config import LabelParams, TimelineParams
from healthscore.config.expansion import ExpansionParams
from healthscore.data.tables import Tables
from healthscore.data.validate import validate_tables
from healthscore.dataset.expansion import make_expansion_label_times, make_expansion_labels
from healthscore.dataset.labels import make_label_times
from healthscore.errors import SchemaError

T = pd.Timestamp
TIMELINE = TimelineParams(mode="horizon", lead_time_days=0, horizon_days=60, cadence="MS",
                          start="2020-03-01", end="2020-03-01")
EXPANSION = ExpansionParams(min_increase=0.10, horizon_days=60, lead_time_days=0)
LABELS = LabelParams(grace_days=0)


def tables_of(subs: list[dict], *, observed_until="2021-01-01") -> Tables:
    subscriptions = pd.DataFrame(subs)
    accounts = pd.DataFrame({"account_id": sorted(subscriptions["account_id"].unique())})
    tables, _ = validate_tables({"accounts": accounts, "subscriptions": subscriptions},
                                observed_until=T(observed_until))
    return tables


def sub(account, start, end, mrr) -> dict:
    return {"account_id": account, "start_date": start, "end_date": end, "mrr": float(mrr)}


def labels_of(tables: Tables, expansion: ExpansionParams = EXPANSION) -> dict:
    rows = make_expansion_label_times(tables, TIMELINE, LABELS, expansion)
    return {a: (None if pd.isna(v) else int(v)) for a, v in zip(rows["account_id"], rows["label"])}


def test_a_rise_by_the_share_inside_the_window_is_an_expansion():
    tables = tables_of([
        sub(1, "2020-01-01", "2020-04-01", 100), sub(1, "2020-04-01", "2021-01-01", 110),  # +10 %: 1
        sub(2, "2020-01-01", "2020-04-01", 100), sub(2, "2020-04-01", "2021-01-01", 109),  # +9 %: 0
        sub(3, "2020-01-01", "2020-04-30", 100), sub(3, "2020-04-30", "2021-01-01", 200),  # at the end: 0
        sub(4, "2020-01-01", "2020-04-29", 100), sub(4, "2020-04-29", "2021-01-01", 200),  # last day: 1
        sub(5, "2020-01-01", "2021-01-01", 100), sub(5, "2020-03-10", "2020-03-20", 10),   # an add-on: 1
    ])
    assert labels_of(tables) == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}


def test_the_reference_is_the_mrr_before_the_cutoff_not_a_renewal_starting_at_it():
    # Account 1 renews at the cutoff with +50 %: the reference is the old 100, so the
    # renewal is the expansion. Account 2 rose before the cutoff: the reference is 150.
    tables = tables_of([
        sub(1, "2020-01-01", "2020-03-01", 100), sub(1, "2020-03-01", "2021-01-01", 150),
        sub(2, "2020-01-01", "2020-02-01", 100), sub(2, "2020-02-01", "2021-01-01", 150),
    ])
    rows = make_expansion_label_times(tables, TIMELINE, LABELS, EXPANSION)
    assert rows.set_index("account_id")["mrr_before"].to_dict() == {1: 100.0, 2: 150.0}
    assert labels_of(tables) == {1: 1, 2: 0}


def test_lost_in_the_window_is_no_expansion_and_the_rows_are_the_churn_models():
    tables = tables_of([
        sub(1, "2020-01-01", "2020-03-10", 100), sub(1, "2020-03-10", "2020-04-10", 200),  # up, then lost
        sub(2, "2020-01-01", "2021-01-01", 100),
        sub(3, "2020-03-01", "2021-01-01", 100),  # starts at the cutoff: no row
    ])
    assert labels_of(tables) == {1: 0, 2: 0}
    churn = make_label_times(tables, TIMELINE, LABELS)
    rows = make_expansion_label_times(tables, TIMELINE, LABELS, EXPANSION)
    assert rows[["account_id", "cutoff_time"]].equals(churn[["account_id", "cutoff_time"]])
    assert rows.set_index("account_id")["lost_at"][1] == T("2020-04-10")


def test_a_window_past_the_data_end_is_censored_whatever_it_shows():
    subs = [sub(1, "2020-01-01", "2020-04-01", 100), sub(1, "2020-04-01", "2021-01-01", 200),
            sub(2, "2020-01-01", "2021-01-01", 100)]
    # window end 2020-04-30 + 0 days of grace: known from observed_until 2020-04-30 on
    assert labels_of(tables_of(subs, observed_until="2020-04-29")) == {1: None, 2: None}
    assert labels_of(tables_of(subs, observed_until="2020-04-30")) == {1: 1, 2: 0}


def test_rows_decided_at_the_cutoff_survive_a_rebuild_from_the_data_known_then():
    subs = [sub(1, "2020-01-01", "2020-04-01", 100), sub(1, "2020-04-01", "2021-01-01", 200)]
    full = make_expansion_label_times(tables_of(subs), TIMELINE, LABELS, EXPANSION)
    known = [sub(1, "2020-01-01", "2020-04-01", 100)]  # the renewal not signed yet
    early = make_expansion_label_times(tables_of(known, observed_until="2020-03-15"), TIMELINE,
                                       LABELS, EXPANSION)
    assert early[["account_id", "cutoff_time"]].equals(full[["account_id", "cutoff_time"]])
    assert early["label"].isna().all() and full["label"].tolist() == [1]
    assert early["mrr_before"].tolist() == full["mrr_before"].tolist() == [100.0]


def test_a_larger_share_needs_a_larger_rise():
    tables = tables_of([sub(1, "2020-01-01", "2020-04-01", 100), sub(1, "2020-04-01", "2021-01-01", 130)])
    assert labels_of(tables, ExpansionParams(min_increase=0.3, horizon_days=60)) == {1: 1}
    assert labels_of(tables, ExpansionParams(min_increase=0.31, horizon_days=60)) == {1: 0}


def test_no_mrr_column_is_an_error_naming_it():
    tables = tables_of([sub(1, "2020-01-01", "2021-01-01", 100)])
    tables.frames["subscriptions"] = tables.subscriptions.drop(columns="mrr")
    rows = pd.DataFrame({"account_id": [1], "cutoff_time": [T("2020-03-01")]})
    with pytest.raises(SchemaError, match="subscriptions.mrr"):
        make_expansion_labels(rows, tables, labels=LABELS, expansion=EXPANSION)
