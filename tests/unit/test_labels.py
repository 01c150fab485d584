"""Labels: renewal (grace, outcome, contraction, censoring) and horizon window edges.

Every case is one or two accounts whose answer can be read off the dates.
"""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.config import LabelParams, TimelineParams
from healthscore.errors import SchemaError
from healthscore.dataset.labels import make_label_times
from healthscore.data.tables import Tables
from healthscore.data.validate import validate_tables

T = pd.Timestamp
RENEWAL = TimelineParams(mode="renewal", lead_time_days=30)


def tables_of(subs: list[dict], *, observed_until="2022-01-01", accounts=None) -> Tables:
    subscriptions = pd.DataFrame(subs)
    if accounts is None:
        accounts = pd.DataFrame({"account_id": sorted(subscriptions["account_id"].unique())})
    tables, _ = validate_tables({"accounts": accounts, "subscriptions": subscriptions},
                                observed_until=T(observed_until))
    return tables


def sub(account, start, end, **more) -> dict:
    return {"account_id": account, "start_date": start, "end_date": end, **more}


def label_of(rows: pd.DataFrame, account, renewal=None, cutoff=None):
    """The label of one row (None when censored); exactly one row must match."""
    mask = rows["account_id"] == account
    if renewal is not None:
        mask &= rows["renewal_date"] == T(renewal)
    if cutoff is not None:
        mask &= rows["cutoff_time"] == T(cutoff)
    assert mask.sum() == 1, rows
    value = rows.loc[mask, "label"].iloc[0]
    return None if pd.isna(value) else int(value)


# ---------------------------------------------------------------------- renewal

YEAR_1 = ("2020-01-01", "2021-01-01")


def test_successor_inside_grace_is_renewal_and_after_grace_is_churn():
    tables = tables_of([
        sub(1, *YEAR_1), sub(1, "2021-01-31", "2022-01-31"),   # 30 days late: inside grace 30
        sub(2, *YEAR_1), sub(2, "2021-02-01", "2022-02-01"),   # 31 days late: churn
        sub(3, *YEAR_1), sub(3, "2021-01-01", "2022-01-01"),   # same-day successor
        sub(4, *YEAR_1),                                       # nothing follows
    ], observed_until="2021-12-01")
    rows = make_label_times(tables, RENEWAL, LabelParams(grace_days=30))
    assert [label_of(rows, a, "2021-01-01") for a in (1, 2, 3, 4)] == [0, 1, 0, 1]
    assert rows["label"].dtype == "Int8"


def test_early_renewal_and_concurrent_subscription_count_as_staying():
    tables = tables_of([
        sub(1, *YEAR_1), sub(1, "2020-12-15", "2021-12-15"),   # renewed two weeks early
        sub(2, "2020-01-01", "2020-07-01"), sub(2, "2020-01-01", "2021-06-01"),  # add-on ends
    ], observed_until="2021-12-01")
    rows = make_label_times(tables, RENEWAL, LabelParams(grace_days=0))
    assert label_of(rows, 1, "2021-01-01") == 0
    assert label_of(rows, 2, "2020-07-01") == 0
    assert label_of(rows, 2, "2021-06-01") == 1


def test_explicit_outcome_overrides_the_subscriptions():
    tables = tables_of([
        sub(1, *YEAR_1, outcome="Churned"), sub(1, "2021-01-01", "2022-01-01", outcome=None),
        sub(2, *YEAR_1, outcome="renewed"),                     # no successor in the data
        sub(3, *YEAR_1, outcome="pending"),                     # unknown word: ignored
    ], observed_until="2021-12-01")
    rows = make_label_times(tables, RENEWAL, LabelParams(grace_days=30))
    assert label_of(rows, 1, "2021-01-01") == 1
    assert label_of(rows, 2, "2021-01-01") == 0
    assert label_of(rows, 3, "2021-01-01") == 1


def test_explicit_churn_outcome_is_known_even_before_the_grace_window_ends():
    tables = tables_of([sub(1, *YEAR_1, outcome="cancelled"), sub(2, *YEAR_1)],
                       observed_until="2021-01-10")
    rows = make_label_times(tables, RENEWAL, LabelParams(grace_days=30))
    assert label_of(rows, 1, "2021-01-01") == 1
    assert label_of(rows, 2, "2021-01-01") is None


def test_contraction_beyond_the_share_is_churn():
    subs = [
        sub(1, *YEAR_1, mrr=100.0), sub(1, "2021-01-01", "2022-01-01", mrr=40.0),   # -60 %
        sub(2, *YEAR_1, mrr=100.0), sub(2, "2021-01-01", "2022-01-01", mrr=60.0),   # -40 %
        sub(3, *YEAR_1, mrr=100.0), sub(3, "2021-01-01", "2022-01-01", mrr=50.0),   # exactly -50 %
    ]
    tables = tables_of(subs, observed_until="2021-12-01")
    plain = make_label_times(tables, RENEWAL, LabelParams(grace_days=7))
    assert [label_of(plain, a, "2021-01-01") for a in (1, 2, 3)] == [0, 0, 0]
    shrink = make_label_times(tables, RENEWAL, LabelParams(grace_days=7, contraction_share=0.5))
    assert [label_of(shrink, a, "2021-01-01") for a in (1, 2, 3)] == [1, 0, 0]


def test_contraction_needs_mrr():
    tables = tables_of([sub(1, *YEAR_1)])
    with pytest.raises(SchemaError, match="subscriptions.mrr"):
        make_label_times(tables, RENEWAL, LabelParams(contraction_share=0.5))


def test_censored_rows_are_unlabelled_never_retained():
    # Data ends 2021-01-20: a renewal on 2021-01-01 with 30 days of grace is open,
    # whatever it already shows (symmetric censoring).
    tables = tables_of([
        sub(1, *YEAR_1),                                        # no successor yet: unknown
        sub(2, *YEAR_1), sub(2, "2021-01-01", "2022-01-01"),    # successor visible: unknown too
        sub(3, "2020-01-01", "2020-12-01"),                     # 12-01 + 30 < 01-20: known churn
        sub(4, "2020-01-01", "2020-12-21"),                     # 12-21 + 30 = 01-20: unknown
        sub(5, "2020-01-01", "2020-12-01"), sub(5, "2020-12-01", "2021-12-01"),  # known renewal
    ], observed_until="2021-01-20")
    rows = make_label_times(tables, RENEWAL, LabelParams(grace_days=30))
    assert label_of(rows, 1, "2021-01-01") is None
    assert label_of(rows, 2, "2021-01-01") is None
    assert label_of(rows, 3, "2020-12-01") == 1
    assert label_of(rows, 4, "2020-12-21") is None
    assert label_of(rows, 5, "2020-12-01") == 0
    assert rows["label"].isna().sum() == 3


def test_account_created_after_the_cutoff_has_no_labelled_row():
    accounts = pd.DataFrame({"account_id": [1, 2], "created_at": ["2019-01-01", "2020-12-15"]})
    tables = tables_of([sub(1, *YEAR_1), sub(2, *YEAR_1)], accounts=accounts)
    rows = make_label_times(tables, RENEWAL, LabelParams())
    assert list(rows["account_id"]) == [1]


def test_output_columns_and_order():
    tables = tables_of([sub(2, *YEAR_1), sub(1, "2020-01-01", "2020-11-01")])
    rows = make_label_times(tables, RENEWAL, LabelParams())
    assert list(rows.columns) == ["account_id", "cutoff_time", "renewal_date", "label", "term_days",
                                  "subscription_id", "lost_at"]
    assert list(rows["account_id"]) == [1, 2]


# ---------------------------------------------------------------------- horizon


def horizon(lead=30, length=60) -> TimelineParams:
    return TimelineParams(mode="horizon", lead_time_days=lead, horizon_days=length,
                          cadence="MS", start="2020-03-01", end="2020-03-01")


def test_horizon_window_edges():
    # cutoff 2020-03-01, lead 30 days, horizon 60: window [2020-03-31, 2020-05-30)
    tables = tables_of([
        sub(1, "2020-01-01", "2020-03-31"),   # churns exactly at cutoff + lead: inside
        sub(2, "2020-01-01", "2020-05-29"),   # last day inside
        sub(3, "2020-01-01", "2020-05-30"),   # exactly at the window end: outside
        sub(4, "2020-01-01", "2020-03-30"),   # churns during the lead time: the row stays, unknown
        sub(5, "2020-01-01", "2021-01-01"),   # stays
    ], observed_until="2021-06-01")
    rows = make_label_times(tables, horizon(), LabelParams(grace_days=0))
    labels = dict(zip(rows["account_id"], rows["label"].astype("float")))
    assert pd.isna(labels.pop(4))  # a row decided at t, with no answer
    assert labels == {1: 1.0, 2: 1.0, 3: 0.0, 5: 0.0}
    assert rows.set_index("account_id")["lost_at"].to_dict()[2] == T("2020-05-29")


def test_horizon_gap_within_grace_is_not_churn():
    tables = tables_of([sub(1, "2020-01-01", "2020-04-01"), sub(1, "2020-04-10", "2020-12-01")],
                       observed_until="2021-06-01")
    assert label_of(make_label_times(tables, horizon(), LabelParams(grace_days=14)), 1) == 0
    assert label_of(make_label_times(tables, horizon(), LabelParams(grace_days=7)), 1) == 1


def test_horizon_censoring_only_when_the_answer_is_not_visible():
    # Data ends 2020-05-01, inside the window [2020-03-31, 2020-05-30): every label is
    # unknown, the visible loss as much as the visible stay (symmetric censoring); the
    # loss the data already shows is kept in lost_at for windows cut at the data's end.
    tables = tables_of([
        sub(1, "2020-01-01", "2020-04-15"),   # ended, 15 + 7 days of grace seen: churn known
        sub(2, "2020-01-01", "2020-04-28"),   # ended, grace not over: unknown
        sub(3, "2020-01-01", "2020-12-01"),   # contract runs past the window
        sub(4, "2020-01-01", "2020-05-20"),   # contract ends inside the window, later: unknown
    ], observed_until="2020-05-01")
    rows = make_label_times(tables, horizon(), LabelParams(grace_days=7))
    assert [label_of(rows, a) for a in (1, 2, 3, 4)] == [None, None, None, None]
    lost = rows.set_index("account_id")["lost_at"]
    assert lost[1] == T("2020-04-15") and lost[[2, 3, 4]].isna().all()
    later = tables_of([sub(a, "2020-01-01", e) for a, e in
                       [(1, "2020-04-15"), (2, "2020-04-28"), (3, "2020-12-01"), (4, "2020-05-20")]],
                      observed_until="2020-06-07")   # window end + 7 days of grace
    rows = make_label_times(later, horizon(), LabelParams(grace_days=7))
    assert [label_of(rows, a) for a in (1, 2, 3, 4)] == [1, 1, 0, 1]
