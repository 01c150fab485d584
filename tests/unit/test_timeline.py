"""Cutoffs: which rows exist (renewal and horizon modes, bounds, explicit cutoffs)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.config import LabelParams, TimelineParams
from healthscore.errors import ConfigError, SchemaError, ValidationError
from healthscore.data.tables import Tables
from healthscore.dataset.timeline import check_cutoffs, data_start, make_cutoffs, make_periods
from healthscore.data.validate import validate_tables

T = pd.Timestamp


def tables_of(subs: list[tuple], *, accounts=None, observed_until="2022-01-01") -> Tables:
    """Subscriptions as (account_id, start, end[, mrr]) tuples; accounts from them."""
    columns = ["account_id", "start_date", "end_date", "mrr"][: len(subs[0])]
    subscriptions = pd.DataFrame(subs, columns=columns)
    if accounts is None:
        accounts = pd.DataFrame({"account_id": sorted(subscriptions["account_id"].unique())})
    tables, _ = validate_tables({"accounts": accounts, "subscriptions": subscriptions},
                                observed_until=T(observed_until))
    return tables


def keys(frame: pd.DataFrame) -> list[tuple]:
    return [(a, f"{t:%Y-%m-%d}") for a, t in zip(frame["account_id"], frame["cutoff_time"])]


# ---------------------------------------------------------------------- renewal


def test_renewal_cutoff_is_lead_time_before_each_end():
    tables = tables_of([(1, "2020-01-01", "2021-01-01"), (1, "2021-01-01", "2022-01-01")],
                       observed_until="2023-01-01")
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=90), LabelParams())
    assert keys(rows) == [(1, "2020-10-03"), (1, "2021-10-03")]
    assert list(rows["renewal_date"]) == [T("2021-01-01"), T("2022-01-01")]
    assert list(rows["subscription_id"]) == ["1-1", "1-2"]
    assert rows["cutoff_time"].dtype == "datetime64[us]"


def monthly(account, first: str, months: int) -> list[tuple]:
    starts = pd.date_range(first, periods=months + 1, freq="MS")
    return [(account, f"{a:%Y-%m-%d}", f"{b:%Y-%m-%d}") for a, b in zip(starts[:-1], starts[1:])]


def test_monthly_plan_with_long_lead_time_contract_rule_has_no_row():
    # Each renewal's contract starts after its cutoff: the contract rule keeps none.
    tables = tables_of(monthly(1, "2020-01-01", 6))
    timeline = TimelineParams(mode="renewal", lead_time_days=90)
    assert make_cutoffs(tables, timeline, LabelParams()).empty
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=5), LabelParams())
    assert len(rows) == 6 and keys(rows)[1] == (1, "2020-02-25")


def test_no_row_when_the_cutoff_falls_in_an_earlier_active_period():
    # Churned 2020-02-01, back 2020-03-15 (gap > 7 days of grace): the renewal of the
    # new period on 2020-04-15 is cut off on 2020-01-16, in the old period.
    tables = tables_of([(1, "2020-01-01", "2020-02-01"), (1, "2020-03-15", "2020-04-15")])
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=90), LabelParams(grace_days=7))
    assert rows.empty
    # However long the grace: the contract ending 2020-04-15 was signed after the cutoff.
    merged = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=90), LabelParams(grace_days=60))
    assert merged.empty


def test_no_row_when_the_cutoff_falls_in_a_gap_between_subscriptions():
    # A 10-day gap inside the 30-day grace: the account has no contract at 2020-02-05.
    tables = tables_of([(1, "2020-01-01", "2020-02-01"), (1, "2020-02-11", "2020-03-06")])
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=30), LabelParams(grace_days=30))
    assert keys(rows) == [(1, "2020-01-02")]


def test_account_created_at_or_after_the_cutoff_is_absent():
    accounts = pd.DataFrame({"account_id": [1, 2, 3],
                             "created_at": ["2019-12-01", "2020-10-03", "2020-10-04"]})
    tables = tables_of([(1, "2020-01-01", "2021-01-01"), (2, "2020-01-01", "2021-01-01"),
                        (3, "2020-01-01", "2021-01-01")], accounts=accounts)
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=90), LabelParams())
    assert keys(rows) == [(1, "2020-10-03")]  # cutoff 2020-10-03: 2 created at it, 3 after


def test_two_subscriptions_ending_the_same_day_make_one_row():
    tables = tables_of([(1, "2020-01-01", "2021-01-01"), (1, "2020-06-01", "2021-01-01")])
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=30), LabelParams())
    assert keys(rows) == [(1, "2020-12-02")]
    assert rows["subscription_id"].iloc[0] == "1-2"  # the latest-starting one


def test_cutoffs_respect_start_end_inclusive_and_observed_until():
    subs = [(a, "2020-01-01", end) for a, end in
            [(1, "2020-03-11"), (2, "2020-03-10"), (3, "2020-06-12"), (4, "2020-06-11"), (5, "2020-08-30")]]
    tables = tables_of(subs, observed_until="2020-08-01")
    timeline = TimelineParams(mode="renewal", lead_time_days=10, start="2020-03-01", end="2020-06-01")
    rows = make_cutoffs(tables, timeline, LabelParams())
    assert keys(rows) == [(1, "2020-03-01"), (4, "2020-06-01")]
    unbounded = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=10), LabelParams())
    # account 5's cutoff 2020-08-20 lies after the end of the data
    assert [a for a, _ in keys(unbounded)] == [2, 1, 4, 3]


def test_default_start_is_when_every_table_has_data():
    # Contracts since 2019, usage recorded only from 2020-03-01.
    subscriptions = pd.DataFrame({"account_id": [1, 1, 1],
                                  "start_date": ["2019-01-01", "2020-01-01", "2021-01-01"],
                                  "end_date": ["2020-01-01", "2021-01-01", "2022-01-01"]})
    events = pd.DataFrame({"account_id": [1], "timestamp": ["2020-03-01 08:00"], "event": ["login"]})
    tables, _ = validate_tables({"accounts": pd.DataFrame({"account_id": [1]}),
                                 "subscriptions": subscriptions, "events": events},
                                observed_until=T("2022-01-01"))
    assert data_start(tables) == T("2020-03-01 08:00")
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=90), LabelParams())
    assert keys(rows) == [(1, "2020-10-03"), (1, "2021-10-03")]  # not 2019-10-03: no usage yet
    early = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=90, start="2019-01-01"), LabelParams())
    assert keys(early) == [(1, "2019-10-03"), (1, "2020-10-03"), (1, "2021-10-03")]


def test_rows_are_sorted_by_cutoff_then_account():
    tables = tables_of([(3, "2020-01-01", "2020-09-01"), (1, "2020-01-01", "2020-09-01"),
                        (2, "2020-01-01", "2020-08-01")])
    rows = make_cutoffs(tables, TimelineParams(mode="renewal", lead_time_days=30), LabelParams())
    assert [a for a, _ in keys(rows)] == [2, 1, 3]


# ---------------------------------------------------------------------- horizon


def test_horizon_rows_for_accounts_active_at_each_cutoff():
    # Account 1 starts on a cadence date: invisible at that instant (start < t needed);
    # its subscription ending on 2020-04-01 still makes it active on 2020-04-01.
    tables = tables_of([(1, "2020-02-01", "2020-04-01"), (2, "2020-01-15", "2020-02-20"),
                        (2, "2020-05-10", "2020-06-10")], observed_until="2020-07-01")
    timeline = TimelineParams(mode="horizon", cadence="MS")
    rows = make_cutoffs(tables, timeline, LabelParams(grace_days=0))
    assert keys(rows) == [(2, "2020-02-01"), (1, "2020-03-01"), (1, "2020-04-01"),
                          (2, "2020-06-01"), ]
    # the contract held at the cutoff, known then: its end and its length
    assert [f"{r:%Y-%m-%d}" for r in rows["renewal_date"]] == ["2020-02-20", "2020-04-01",
                                                               "2020-04-01", "2020-06-10"]
    assert rows["term_days"].tolist() == [36.0, 60.0, 60.0, 31.0]
    assert "subscription_id" not in rows


def test_horizon_renewal_date_is_the_latest_covering_end():
    # An add-on ending first does not lose the account: the main contract's end does.
    tables = tables_of([(1, "2020-01-10", "2021-01-10"), (1, "2020-02-10", "2020-05-10")],
                       observed_until="2020-07-01")
    rows = make_cutoffs(tables, TimelineParams(mode="horizon"), LabelParams())
    assert set(rows["renewal_date"]) == {T("2021-01-10")}
    assert set(rows["term_days"]) == {366.0}


def test_cadence_cutoffs_fall_on_midnight_of_the_first_whatever_the_data_start():
    subs = pd.DataFrame({"account_id": [1], "start_date": [T("2020-01-01")],
                         "end_date": [T("2021-01-01")]})
    events = pd.DataFrame({"account_id": [1, 1], "timestamp": [T("2020-01-05 09:41:12"),
                                                                T("2020-05-01 10:00")],
                           "event": ["login", "login"]})
    tables, _ = validate_tables({"accounts": pd.DataFrame({"account_id": [1]}),
                                 "subscriptions": subs, "events": events},
                                observed_until=T("2020-06-01"))
    rows = make_cutoffs(tables, TimelineParams(mode="horizon", cadence="MS"), LabelParams())
    assert [f"{t}" for t in rows["cutoff_time"]] == [
        "2020-02-01 00:00:00", "2020-03-01 00:00:00", "2020-04-01 00:00:00",
        "2020-05-01 00:00:00", "2020-06-01 00:00:00"]


def test_horizon_bad_cadence_names_the_key():
    tables = tables_of([(1, "2020-02-01", "2020-04-01")])
    with pytest.raises(ConfigError, match="timeline.cadence"):
        make_cutoffs(tables, TimelineParams(mode="horizon", cadence="every month"), LabelParams())


def test_bad_dates_and_durations_are_config_errors():
    tables = tables_of([(1, "2020-02-01", "2020-04-01")])
    with pytest.raises(ConfigError, match="timeline.start"):
        make_cutoffs(tables, TimelineParams(start="soon"), LabelParams())
    with pytest.raises(ConfigError, match="before timeline.start"):
        make_cutoffs(tables, TimelineParams(start="2020-05-01", end="2020-04-01"), LabelParams())
    with pytest.raises(ConfigError, match="labels.grace_days"):
        make_cutoffs(tables, TimelineParams(), LabelParams(grace_days=-1))


def test_periods_merge_gaps_up_to_grace():
    tables = tables_of([(1, "2020-01-01", "2020-02-01"), (1, "2020-02-08", "2020-03-01"),
                        (1, "2020-03-09", "2020-04-01"), (2, "2020-01-01", "2020-12-01"),
                        (2, "2020-02-01", "2020-03-01")])
    periods, membership = make_periods(tables.subscriptions, grace_days=7)
    spans = [(a, f"{s:%m-%d}", f"{e:%m-%d}") for a, s, e in periods.itertuples(index=False)]
    assert spans == [(1, "01-01", "03-01"), (1, "03-09", "04-01"), (2, "01-01", "12-01")]
    assert list(membership) == [0, 0, 1, 2, 2]


# ------------------------------------------------------------- explicit cutoffs


def test_explicit_cutoffs_keep_order_and_labels_and_parse_text():
    tables = tables_of([(1, "2020-01-01", "2021-01-01"), (2, "2020-01-01", "2021-01-01")])
    given = pd.DataFrame({"account_id": ["2", "1", "1"],
                          "cutoff_time": ["2020-05-01", "2020-03-01", "2020-02-01T12:00:00"],
                          "label": ["1", "", "false"]})
    rows = check_cutoffs(given, tables, source="cut.csv")
    assert list(rows["account_id"]) == [2, 1, 1]
    assert rows["account_id"].dtype == tables.accounts["account_id"].dtype
    assert list(rows["cutoff_time"]) == [T("2020-05-01"), T("2020-03-01"), T("2020-02-01 12:00")]
    assert rows["label"].dtype == "Int8"
    assert rows["label"].tolist() == [1, pd.NA, 0]


@pytest.mark.parametrize("frame, column, words", [
    ({"account_id": [1]}, "cutoff_time", "no column 'cutoff_time'"),
    ({"account_id": [1, 9], "cutoff_time": ["2020-01-01", "2020-01-02"]}, "account_id",
     "not in the data source"),
    ({"account_id": [1, 1], "cutoff_time": ["2020-01-01", "yesterday"]}, "cutoff_time", "unparsable"),
    ({"account_id": [1], "cutoff_time": ["2020-01-01"], "label": ["maybe"]}, "label", "label other than"),
    ({"account_id": [1, 1], "cutoff_time": ["2020-01-01", "2020-01-01"]}, "cutoff_time", "repeat"),
])
def test_explicit_cutoffs_errors_name_file_column_and_example(frame, column, words):
    tables = tables_of([(1, "2020-01-01", "2021-01-01")])
    with pytest.raises((SchemaError, ValidationError)) as caught:
        check_cutoffs(pd.DataFrame(frame), tables, source="cuts.csv")
    message = str(caught.value)
    assert "cuts.csv" in message and column in message and words in message
    if isinstance(caught.value, ValidationError):
        assert "e.g. {" in message  # an example row


# -------------------------------------------------------------------- invariants

_subscription = st.tuples(st.integers(1, 3), st.integers(0, 400), st.integers(1, 200))


def _tables_from(draws) -> Tables:
    base = T("2020-01-01")
    subs = [(a, f"{base + pd.Timedelta(days=s):%Y-%m-%d}", f"{base + pd.Timedelta(days=s + n):%Y-%m-%d}")
            for a, s, n in draws]
    return tables_of(subs, observed_until="2021-12-01")


@settings(max_examples=40, deadline=None)
@given(st.lists(_subscription, min_size=1, max_size=8), st.sampled_from(["horizon", "contract"]))
def test_rows_at_a_cutoff_do_not_depend_on_subscriptions_starting_later(draws, mode):
    """Whether a row exists at t is known at t: later contracts change nothing."""
    tables = _tables_from(draws)
    timeline = (TimelineParams(mode="horizon", cadence="MS") if mode == "horizon"
                else TimelineParams(mode="renewal", lead_time_days=30))
    rows = make_cutoffs(tables, timeline, LabelParams(grace_days=7))
    subs = tables.subscriptions
    for t in rows["cutoff_time"].unique()[:4]:
        earlier = Tables({"accounts": tables.accounts,
                          "subscriptions": subs[subs["start_date"] < t].reset_index(drop=True)},
                         tables.observed_until)
        again = make_cutoffs(earlier, timeline, LabelParams(grace_days=7))
        assert keys(again[again["cutoff_time"] == t]) == keys(rows[rows["cutoff_time"] == t])


def test_the_books_observation_table_reads_as_explicit_cutoffs():
    """fightchurn's ``observation`` (observation_date, is_churn), as the book writes it,
    is an explicit cutoff frame; canonical names win when both are there."""
    tables = tables_of([(1, "2021-01-01", "2021-07-01"), (2, "2021-01-01", "2021-12-01")])
    book = pd.DataFrame({"account_id": [1, 2], "observation_date": ["2021-02-10", "2021-03-10"],
                         "is_churn": [True, False]})
    got = check_cutoffs(book, tables, source="observation")
    assert keys(got) == [(1, "2021-02-10"), (2, "2021-03-10")]
    assert got["label"].tolist() == [1, 0]
    both = book.assign(cutoff_time=["2021-04-01", "2021-05-01"])
    assert keys(check_cutoffs(both, tables)) == [(1, "2021-04-01"), (2, "2021-05-01")]
    with pytest.raises(SchemaError, match="no column 'cutoff_time'"):
        check_cutoffs(book.drop(columns="observation_date"), tables)
