"""The data's end on tiny hand-written event times: the robust end, its limit, the
midnight after the latest row."""

import pandas as pd
import pytest

from healthscore.data.end import LATE_MIN_DAYS, LATE_MIN_ROWS, observed_until_after, robust_end
from healthscore.errors import SchemaError


def daily_events(first: str, days: int, *extra: str) -> dict[str, pd.DataFrame]:
    """One event a day from ``first`` for ``days`` days, then the ``extra`` times."""
    times = list(pd.date_range(first, periods=days, freq="D")) + [pd.Timestamp(t) for t in extra]
    return {"events": pd.DataFrame({"account_id": 1, "timestamp": pd.Series(times, dtype="datetime64[us]")})}


def test_one_mistyped_year_is_never_the_end():
    # 200 days and one row in 2099: the 99 % quantile (lower) of 201 rows is row 198,
    # 2024-07-17; the span is 198 days, so the slack is LATE_MIN_DAYS (62 > 19.8).
    end, limit = robust_end(daily_events("2024-01-01", 200, "2099-01-01"))
    assert end == pd.Timestamp("2024-07-17")
    assert limit == pd.Timestamp("2024-07-17") + pd.Timedelta(days=LATE_MIN_DAYS)
    assert limit < pd.Timestamp("2099-01-01")


def test_a_long_span_widens_the_slack_to_a_tenth_of_it():
    # 1,001 days: the quantile is row 990 (2026-09-17), the span 990 days, the slack 99 days.
    end, limit = robust_end(daily_events("2024-01-01", 1001))
    assert end == pd.Timestamp("2024-01-01") + pd.Timedelta(days=990)
    assert limit - end == pd.Timedelta(days=99)


def test_too_few_dated_rows_have_no_robust_end():
    assert robust_end(daily_events("2024-01-01", LATE_MIN_ROWS - 1)) is None
    # missing times are not dated rows
    frames = daily_events("2024-01-01", LATE_MIN_ROWS)
    frames["events"].loc[0, "timestamp"] = pd.NaT
    assert robust_end(frames) is None
    assert robust_end(daily_events("2024-01-01", LATE_MIN_ROWS)) is not None


def test_observed_until_is_the_midnight_after_the_latest_time():
    latest = [pd.Timestamp("2024-06-30 23:59:59"), None, pd.NaT, pd.Timestamp("2024-01-01")]
    assert observed_until_after(latest) == pd.Timestamp("2024-07-01")
    assert observed_until_after([pd.Timestamp("2024-06-30")]) == pd.Timestamp("2024-07-01")


def test_no_dated_row_asks_for_observed_until():
    with pytest.raises(SchemaError, match="data.observed_until"):
        observed_until_after([None, pd.NaT])
