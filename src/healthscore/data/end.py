"""The data's end in time: ``observed_until``, the robust end, rows far after it.

``observed_until`` is the exclusive end of the data: rows dated at or after it are
ignored (counted), later facts at or after it blanked. By default it is the day after
the latest event time of the rows not far after the rest of the data; the data's
robust end (:func:`robust_end`) finds those rows so that one mistyped year never
becomes the data's end. An explicit ``observed_until`` far after the rows, or at or
before the first subscription's start, is a :class:`~healthscore.errors.ConfigError`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from healthscore.errors import ConfigError, SchemaError
from healthscore.data.problems import Checker, ValidationReport
from healthscore.data.schema import TABLES
from healthscore.data.tables import Tables

#: The data's robust end is this quantile of every dated row's event time ...
END_QUANTILE = 0.99
#: ... and a row dated more than ``max(LATE_MIN_DAYS, LATE_SPAN_SHARE x the data's
#: span)`` after it is "far after the rest of the data": dropped, never the data's end.
LATE_MIN_DAYS = 62
LATE_SPAN_SHARE = 0.1
#: Below this many dated rows no end is robust: the latest row is the end.
LATE_MIN_ROWS = 100
#: Rows sampled (evenly) to find the robust end of a big source.
END_SAMPLE = 1_000_000


def default_observed_until(frames: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    """The day after the latest event time of any table (midnight, exclusive)."""
    latest = []
    for name, frame in frames.items():
        column = TABLES[name].event_time
        if column and column in frame and len(frame):
            latest.append(frame[column].max())
    return observed_until_after(latest)


def observed_until_after(latest_times: Iterable[Any]) -> pd.Timestamp:
    """The end of the data given each table's latest event time (missing ones
    ignored): midnight after the latest of them."""
    latest = [pd.Timestamp(t) for t in latest_times if t is not None and pd.notna(t)]
    if not latest:
        raise SchemaError("no table holds a dated row; set data.observed_until in params.yaml")
    return max(latest).normalize() + pd.Timedelta(days=1)


def robust_end(frames: Mapping[str, pd.DataFrame]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``(end, limit)``: the data's robust end and the instant after which a row is far
    after the rest of the data; None when too few rows are dated.

    The data's robust end R is the :data:`END_QUANTILE` quantile of the event times of
    every dated row of every table (pooled, so the biggest tables weigh most; an even
    sample of at most :data:`END_SAMPLE` rows); the limit is R plus
    ``max(LATE_MIN_DAYS, LATE_SPAN_SHARE * (R - first row))``. None below
    :data:`LATE_MIN_ROWS` dated rows, where no end is robust.
    """
    columns = [frame[TABLES[name].event_time] for name, frame in frames.items()
               if TABLES[name].event_time and TABLES[name].event_time in frame]
    total = sum(len(c) for c in columns)
    if total < LATE_MIN_ROWS:
        return None
    step = max(1, total // END_SAMPLE)
    sample = np.concatenate([c.to_numpy("datetime64[us]")[::step].view(np.int64) for c in columns])
    sample = sample[sample != np.iinfo(np.int64).min]  # NaT
    if len(sample) < LATE_MIN_ROWS:
        return None
    first, end = np.quantile(sample, [0.0, END_QUANTILE], method="lower")
    span_days = (end - first) / 86_400e6
    slack = pd.Timedelta(days=max(LATE_MIN_DAYS, LATE_SPAN_SHARE * span_days))
    end = pd.Timestamp(int(end), unit="us")
    return end, end + slack


def check_observed_until(tables: Tables, *, key: str = "data.observed_until") -> None:
    """Raise :class:`ConfigError` when an explicit end of the data is far after its
    rows (later than :func:`robust_end`'s limit): every account still a customer at the
    data's real end would then read as lost."""
    found = robust_end(tables.frames)
    if found is not None and tables.observed_until > found[1]:
        raise ConfigError(
            f"{key}: {tables.observed_until:%Y-%m-%d} is far after the end of the data "
            f"({END_QUANTILE:.0%} of its dated rows are before {found[0]:%Y-%m-%d}); every "
            f"account still a customer then would read as lost. Set a date inside the data, "
            f"or null for the day after the latest row")


def check_start(observed_until: pd.Timestamp, subscriptions: pd.DataFrame) -> None:
    first = subscriptions["start_date"].min() if len(subscriptions) else pd.NaT
    if pd.notna(first) and observed_until <= first:
        raise ConfigError(
            f"data.observed_until: {observed_until:%Y-%m-%d} is at or before the start of the "
            f"data (the first subscription starts {first:%Y-%m-%d}); nothing would be observed. "
            f"Set a later date, or null for the day after the latest row")



def drop_far_after(name: str, frame: pd.DataFrame, limit: pd.Timestamp, report: ValidationReport,
                    strict: bool) -> pd.DataFrame:
    """Drop the rows dated far after the rest of the data (after ``limit``, from
    :func:`robust_end`), so that one mistyped year never becomes the data's end; an
    account's ``created_at`` that late is blanked (the account stays)."""
    hint = ("a mistyped year or a placeholder date? fix the rows, or set data.observed_until "
            "to where the data really ends")
    rule = f"are dated far after the rest of the data (after {limit:%Y-%m-%d})"
    check = Checker(name, frame, report, strict)
    if name == "accounts":
        if "created_at" in frame:
            frame["created_at"] = check.blank("created_at", frame["created_at"].to_numpy(),
                                              _after(frame["created_at"], limit), rule, hint=hint)
        return check.result()
    column = TABLES[name].event_time
    if column and column in frame:
        check.flag(column, _after(frame[column], limit), rule, droppable=True, hint=hint)
    return check.result()


def _after(times: pd.Series, when: pd.Timestamp, *, inclusive: bool = False) -> np.ndarray:
    """``times > when`` (``>=`` when inclusive) for a ``datetime64[us]`` column, NaT
    False, in one integer pass (pandas would first convert the column to ``when``'s unit)."""
    ticks = times.to_numpy("datetime64[us]").view(np.int64)
    bound = pd.Timestamp(when).to_datetime64().astype("datetime64[us]").astype(np.int64)
    return ticks >= bound if inclusive else ticks > bound


def apply_observed_until(name, frame, observed_until, report) -> pd.DataFrame:
    spec = TABLES[name]
    check = Checker(name, frame, report, strict=False)
    if spec.event_time:
        late = _after(frame[spec.event_time], observed_until, inclusive=True)
        check.ignore(spec.event_time, late,
                     f"are dated at or after the end of the data ({observed_until.date()})")
    frame = check.result()
    for column in spec.timestamps:
        if column != spec.event_time and column in frame and column not in spec.required:
            frame[column] = frame[column].where(frame[column] < observed_until)
    return frame


def parse_observed_until(text: Any) -> pd.Timestamp | None:
    """``data.observed_until`` as a naive-UTC instant (None when unset).

    Raises
    ------
    ConfigError
        Not an ISO date or instant.
    """
    if text is None:
        return None
    try:
        value = pd.to_datetime(str(text).strip(), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        value = pd.NaT
    if pd.isna(value):
        raise ConfigError(f"data.observed_until: expected an ISO date such as 2024-06-30, got {text!r}")
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value.as_unit("us")
