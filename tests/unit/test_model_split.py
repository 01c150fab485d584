"""split_by_time: out of time, censored rows out, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.config import SplitParams
from healthscore.errors import DataError
from healthscore.model.split import split_by_time, split_windows
from healthscore.model.synthetic import make_training_frame


def _frame(cutoffs, labels):
    return pd.DataFrame(
        {
            "account_id": range(len(cutoffs)),
            "cutoff_time": pd.to_datetime(cutoffs).astype("datetime64[us]"),
            "label": pd.array(labels, dtype="Int8"),
            "x__y": range(len(cutoffs)),
        }
    )


def test_windows_by_calendar_months_back_from_the_last_labelled_cutoff():
    frame = _frame(
        ["2023-01-15", "2023-06-30", "2023-07-01", "2023-09-30", "2023-10-01", "2023-12-31", "2024-02-01"],
        [0, 1, 0, 1, 0, 1, None],  # the last row is censored: it sets no boundary
    )
    train, validation, test = split_by_time(frame, SplitParams(test_months=3, validation_months=3))
    # last labelled cutoff 2023-12-31: test after 2023-09-30, validation after 2023-06-30
    assert train["cutoff_time"].dt.strftime("%Y-%m-%d").tolist() == ["2023-01-15", "2023-06-30"]
    assert validation["cutoff_time"].dt.strftime("%Y-%m-%d").tolist() == ["2023-07-01", "2023-09-30"]
    assert test["cutoff_time"].dt.strftime("%Y-%m-%d").tolist() == ["2023-10-01", "2023-12-31"]


def test_split_never_mixes_times_and_drops_censored_rows():
    frame, _ = make_training_frame(300, random_state=5)
    shuffled = frame.sample(frac=1.0, random_state=1)
    train, validation, test = split_by_time(shuffled, SplitParams(test_months=6, validation_months=6))
    assert train["cutoff_time"].max() < validation["cutoff_time"].min()
    assert validation["cutoff_time"].max() < test["cutoff_time"].min()
    kept = pd.concat([train, validation, test])
    assert kept["label"].notna().all()
    assert len(kept) == frame["label"].notna().sum()
    assert not kept.index.duplicated().any()


def test_an_empty_window_is_an_error_naming_it():
    frame = _frame(["2023-11-01", "2023-12-01"], [0, 1])
    with pytest.raises(DataError, match="the train window .* holds no labelled row"):
        split_by_time(frame, SplitParams(test_months=1, validation_months=1))


def test_no_labelled_row_and_missing_columns_are_errors():
    with pytest.raises(DataError, match="no labelled rows"):
        split_windows(_frame(["2023-01-01"], [None]), SplitParams())
    with pytest.raises(DataError, match="missing column"):
        split_by_time(pd.DataFrame({"label": [1]}), SplitParams())
