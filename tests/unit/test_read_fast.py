"""The fast paths of reading, validating and sorting give what the plain ones give
(issue 16): a categorical text column becomes the same ``str`` column, a
dictionary-encoded events file validates to the same tables and problems as a plain
one, and the tie order of the feature index is ``np.lexsort``'s."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.config import DataParams
from healthscore.data.validate import _as_text
from healthscore.errors import ValidationError
from healthscore.features._windows import Clock, sort_order
from healthscore.io.sources import read_source


def _plain_text(series: pd.Series) -> pd.Series:
    return series.astype("str").where(series.notna())


@pytest.mark.parametrize("values", [
    ["login", None, "export", "login", None],
    ["a", "b", "c"],
    [None, None],
    [3, 1, None, 3],          # categories that are not text: str() of each
    [1.5, None, 2.0],
])
def test_as_text_of_a_categorical_is_the_plain_conversion(values):
    series = pd.Series(values, name="event", dtype="category", index=[7 + i for i in range(len(values))])
    fast, plain = _as_text(series), _plain_text(series)
    pd.testing.assert_series_equal(fast, plain, check_exact=True)
    assert fast.dtype == plain.dtype


def test_as_text_of_objects_and_numbers_is_unchanged():
    for series in (pd.Series(["x", None, 3], dtype=object), pd.Series([1, 2, 3])):
        pd.testing.assert_series_equal(_as_text(series), _plain_text(series), check_exact=True)


def _write_source(folder, *, dictionary: bool, bad: bool = False):
    rng = np.random.default_rng(11)
    folder.mkdir()
    ids = np.arange(1, 301, dtype=np.int64)
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 60, len(ids)), unit="D")
    pd.DataFrame({"account_id": ids, "created_at": start.astype("datetime64[us]")}).to_parquet(
        folder / "accounts.parquet", index=False)
    pd.DataFrame({"account_id": ids, "start_date": start.astype("datetime64[us]"),
                  "end_date": (start + pd.Timedelta(days=365)).astype("datetime64[us]")}).to_parquet(
        folder / "subscriptions.parquet", index=False)
    n = 3000
    event = pd.Series(rng.choice(["login", "export", "report_view"], n), dtype=object)
    event[rng.choice(n, 12, replace=False)] = None          # dropped: no value in a required column
    account = rng.integers(1, 301, n)
    account[rng.choice(n, 9, replace=False)] = 10_000       # dropped: orphans
    quantity = rng.gamma(2.0, 5.0, n).round(2)
    quantity[rng.choice(n, 5, replace=False)] = np.inf      # blanked
    if bad:
        quantity[17] = -1.0                                 # stops the run
    events = pd.DataFrame({
        "account_id": account,
        "timestamp": (np.datetime64("2023-03-01", "us")
                      + rng.integers(0, 300 * 86400, n).astype("timedelta64[s]")).astype("datetime64[us]"),
        "event": event.astype("category") if dictionary else event.astype("str").where(event.notna()),
        "quantity": quantity,
    })
    events.to_parquet(folder / "events.parquet", index=False)
    return folder


def test_a_dictionary_encoded_events_file_validates_like_a_plain_one(tmp_path):
    plain, plain_report = read_source(DataParams(source=str(_write_source(tmp_path / "p", dictionary=False))))
    coded, coded_report = read_source(DataParams(source=str(_write_source(tmp_path / "d", dictionary=True))))
    for name in plain.frames:
        pd.testing.assert_frame_equal(coded[name], plain[name], check_exact=True)
    assert [p.describe() for p in coded_report.problems] == [p.describe() for p in plain_report.problems]
    rules = {(p.column, p.action) for p in coded_report.problems}
    assert {("event", "dropped"), ("account_id", "dropped"), ("quantity", "blanked")} <= rules
    assert coded["events"]["event"].dtype == "str"


def test_a_negative_in_a_float_column_still_stops_the_run(tmp_path):
    with pytest.raises(ValidationError, match=r"events\.quantity: 1 row\(s\) are negative"):
        read_source(DataParams(source=str(_write_source(tmp_path / "b", dictionary=True, bad=True))))


def test_sort_order_with_a_tiebreak_is_lexsort_order():
    rng = np.random.default_rng(7)
    clock = Clock.for_queries(np.array([2_000_000, 3_000_000]), max_back_us=1_500_000)
    for trial in range(200):
        n = int(rng.integers(0, 300))
        code = rng.integers(0, 4, n).astype(np.int64)
        times = rng.integers(0, 12, n).astype(np.int64) * 250_000 + 100_000  # some before lo
        if trial % 2:
            times = np.sort(times)                  # the radix path of a time-sorted log
        tie = rng.integers(0, 4, n).astype(np.float64)
        tie[rng.random(n) < 0.1] = np.nan
        order = sort_order(code, times, clock=clock, n_accounts=4, tiebreak=tie)
        np.testing.assert_array_equal(order, np.lexsort((tie, times, code)))
        np.testing.assert_array_equal(sort_order(code, times, clock=clock, n_accounts=4),
                                      np.lexsort((times, code)))


def test_features_do_not_depend_on_the_order_of_the_cutoff_rows(tmp_path):
    """Cutoff rows sorted by account and time are written by slice, others by position."""
    from healthscore.config import FeatureParams
    from healthscore.features import build_features

    tables, _ = read_source(DataParams(source=str(_write_source(tmp_path / "s", dictionary=True))))
    months = pd.date_range("2023-04-01", "2024-01-01", freq="MS").to_numpy().astype("datetime64[us]")
    ids = tables.accounts["account_id"].to_numpy()
    cutoffs = pd.DataFrame({"account_id": np.repeat(ids, len(months)),
                            "cutoff_time": np.tile(months, len(ids))})
    params = FeatureParams(partition_accounts=100)
    ordered = build_features(tables, cutoffs, params)
    shuffle = np.random.default_rng(3).permutation(len(cutoffs))
    mixed = build_features(tables, cutoffs.iloc[shuffle].reset_index(drop=True), params)
    back = mixed.iloc[np.argsort(shuffle)].reset_index(drop=True)
    pd.testing.assert_frame_equal(back, ordered, check_exact=True)
    assert ordered["events__count__30d"].notna().all()


def test_tables_read_from_parquet_can_be_changed_in_place(tmp_path):
    """One block per column leaves a one-chunk column read-only; the reader copies it."""
    tables, _ = read_source(DataParams(source=str(_write_source(tmp_path / "w", dictionary=False))))
    for name, frame in tables.frames.items():
        for column in frame.columns:
            if isinstance(frame[column].dtype, np.dtype):
                assert np.asarray(frame[column].array).flags.writeable, (name, column)
    accounts = tables.accounts
    accounts.loc[0, "account_id"] = 99
    assert accounts["account_id"].iloc[0] == 99
