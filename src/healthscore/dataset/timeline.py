"""Cutoffs: which (account, instant) rows a training set describes (DESIGN.md section 2).

Whether a row exists depends only on what is known strictly before its cutoff: the
account is a customer then (a subscription that started before the cutoff covers it)
and the contract it holds, with its end date, was signed before it. No row exists
because the account renewed after its cutoff. Two modes:

``horizon`` (default)
    One row per account that is a customer at each cutoff of a fixed cadence (``MS``
    = midnight of the 1st of each month). An account is a customer at ``t`` when one
    of its subscriptions started strictly before ``t`` and has not ended before ``t``
    (``start_date < t <= end_date``): a subscription starting at ``t`` is invisible
    under the time rule. ``renewal_date`` is the latest end of those subscriptions (the
    first date the account can be lost) and ``term_days`` the length of the contract
    that ends then: the renewal calendar known at the cutoff.
``renewal``
    One row per renewal date R of an account (the ``end_date`` of its subscriptions),
    cut off at ``R - lead_time_days``, kept when the subscription ending at R started
    strictly before the cutoff and covers it (a monthly plan with a 90-day lead time
    then has no rows: use horizon mode). Several subscriptions of one account ending
    on the same day make one row (``subscription_id`` names the latest-starting).

In both modes an account created at or after the cutoff has no row, cutoffs lie in
``[timeline.start, timeline.end]`` (inclusive) and never after ``observed_until``.
Without ``timeline.start``, cutoffs start when every dated table has data
(:func:`data_start`). Cadence cutoffs fall on the calendar boundary the cadence names
(midnight), whatever the time of day of the first data. Labels are added by
:func:`healthscore.dataset.labels.make_labels`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from healthscore.config import LabelParams, TimelineParams
from healthscore.errors import ConfigError, SchemaError, ValidationError
from healthscore.data.problems import Problem
from healthscore.data.schema import TABLES
from healthscore.data.tables import Tables

log = logging.getLogger(__name__)

def make_cutoffs(tables: Tables, timeline: TimelineParams, labels: LabelParams, *,
                 book_start: pd.Timestamp | None = None) -> pd.DataFrame:
    """The rows of a training set, before labels.

    Parameters
    ----------
    tables : Tables
        Validated tables; ``subscriptions`` drives both modes.
    timeline : TimelineParams
        Mode, lead time (days), cadence and the ``start``/``end`` bounds of cutoffs.
    labels : LabelParams
        Only ``grace_days`` is used here (active periods; validated with the rest).
    book_start : Timestamp, optional
        The :func:`data_start` of the whole data when ``tables`` is one part of it (a
        bucket of accounts): the first cutoff without ``timeline.start``, the same for
        every part. Default: that of ``tables``.

    Returns
    -------
    DataFrame
        ``account_id``, ``cutoff_time`` (datetime64[us]), ``renewal_date``
        (datetime64[us]: the end of the contract held at the cutoff), ``term_days``
        (float: that contract's length in days) and, in renewal mode,
        ``subscription_id``. One row per (account_id, cutoff_time), sorted by
        ``cutoff_time`` then ``account_id``.
    """
    check_timeline(timeline, labels)
    start, end = _bounds(timeline)
    if start is None:
        start = book_start if book_start is not None else data_start(tables)
        log.info("timeline.start not set: cutoffs from %s, when every table has data", f"{start:%Y-%m-%d}")
    if timeline.mode == "renewal":
        rows = _renewal_rows(tables, lead_days=timeline.lead_time_days)
    else:
        rows = _horizon_rows(tables, cadence=timeline.cadence, start=start, end=end)
    keep = rows["cutoff_time"] <= tables.observed_until
    if start is not None:
        keep &= rows["cutoff_time"] >= start
    if end is not None:
        keep &= rows["cutoff_time"] <= end
    rows = rows.loc[keep]
    rows["term_days"] = rows["term_days"].astype(np.float64)
    rows = _drop_not_yet_created(rows, tables.accounts)
    rows = rows.sort_values(["cutoff_time", "account_id"], kind="stable").reset_index(drop=True)
    log.info("%s cutoffs: %d rows for %d accounts", timeline.mode, len(rows),
             rows["account_id"].nunique())
    return rows


def data_start(tables: Tables) -> pd.Timestamp:
    """The first instant at which every dated table has data.

    The latest of the tables' earliest event times (``schema.TABLES[name].event_time``).
    A cutoff before it would describe an account with, say, no usage at all only
    because usage was not recorded yet, so the default ``timeline.start`` is this.
    """
    return pd.Timestamp(max(table_starts(tables).values())).as_unit("us")


def table_starts(tables: Tables) -> dict[str, pd.Timestamp]:
    """Each dated table's earliest event time (tables without one left out): over
    parts of the data, the earliest of each table's parts, then the latest of those,
    is :func:`data_start` of the whole."""
    firsts = {}
    for name, frame in tables.frames.items():
        column = TABLES[name].event_time
        if column and column in frame and len(frame) and frame[column].notna().any():
            firsts[name] = pd.Timestamp(frame[column].min())
    return firsts


def check_timeline(timeline: TimelineParams, labels: LabelParams) -> None:
    """Raise :class:`ConfigError` for durations or dates that cannot work."""
    if timeline.lead_time_days < 0:
        raise ConfigError(f"timeline.lead_time_days: expected 0 or more days, got {timeline.lead_time_days}")
    if timeline.horizon_days <= 0:
        raise ConfigError(f"timeline.horizon_days: expected 1 or more days, got {timeline.horizon_days}")
    if labels.grace_days < 0:
        raise ConfigError(f"labels.grace_days: expected 0 or more days, got {labels.grace_days}")
    share = labels.contraction_share
    if share is not None and not 0 < share <= 1:
        raise ConfigError(f"labels.contraction_share: expected a share in (0, 1], got {share}")
    start, end = _bounds(timeline)
    if start is not None and end is not None and end < start:
        raise ConfigError(f"timeline.end ({timeline.end}) is before timeline.start ({timeline.start})")


def make_periods(
    subscriptions: pd.DataFrame, *, grace_days: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Merge each account's subscriptions into active periods.

    Subscriptions overlapping, touching, or separated by a gap of at most
    ``grace_days`` belong to one period (the gap is forgiven, as a late renewal).

    Parameters
    ----------
    subscriptions : DataFrame
        ``account_id``, ``start_date``, ``end_date``, ``subscription_id``.
    grace_days : int
        Longest gap, in days, that does not end a period.

    Returns
    -------
    periods : DataFrame
        ``account_id``, ``period_start``, ``period_end`` (the churn date if nothing
        follows), one row per period, sorted by account and start.
    membership : Series
        Period number (row position in ``periods``) per subscription, indexed like
        ``subscriptions``.
    """
    subs = subscriptions.sort_values(["account_id", "start_date", "end_date"], kind="stable")
    reach = subs.groupby("account_id", sort=False)["end_date"].cummax()
    previous = reach.groupby(subs["account_id"], sort=False).shift()
    new = previous.isna() | (subs["start_date"] > previous + pd.Timedelta(days=grace_days))
    number = new.cumsum().to_numpy() - 1
    grouped = subs.groupby(number, sort=True)
    periods = pd.DataFrame({
        "account_id": grouped["account_id"].first().reset_index(drop=True),
        "period_start": grouped["start_date"].min().to_numpy(),
        "period_end": grouped["end_date"].max().to_numpy(),
    })
    membership = pd.Series(number, index=subs.index, name="period").reindex(subscriptions.index)
    return periods, membership


#: Column names of "Fighting Churn with Data"'s observation table (fightchurn) read as
#: an explicit cutoff frame's.
CUTOFF_ALIASES = {"observation_date": "cutoff_time", "is_churn": "label"}


def check_cutoffs(frame: pd.DataFrame, tables: Tables, *, source: str = "cutoffs") -> pd.DataFrame:
    """Check and normalise an explicit cutoff frame (``build-dataset --cutoffs``).

    Parameters
    ----------
    frame : DataFrame
        ``account_id`` and ``cutoff_time``; optionally ``label`` (1/0/true/false/empty)
        and ``renewal_date``; without ``cutoff_time``, the book's ``observation_date``
        and ``is_churn`` (:data:`CUTOFF_ALIASES`). Other columns are ignored. Text is parsed (a CSV file
        read as strings works).
    tables : Tables
        The source whose accounts the rows must name.
    source : str
        What to call the frame in error messages (the file name).

    Returns
    -------
    DataFrame
        ``account_id`` (dtype of ``accounts.account_id``), ``cutoff_time`` and
        ``renewal_date`` (datetime64[us]), ``label`` (Int8, <NA> where not given), in
        the given row order.

    Raises
    ------
    SchemaError
        A required column is missing.
    ValidationError
        Unparsable times or labels, missing values, unknown accounts or duplicate
        (account_id, cutoff_time) keys; each problem names the column and a row.
    """
    if "cutoff_time" not in frame.columns:  # the book's observation table, as it is
        frame = frame.rename(columns=CUTOFF_ALIASES)
    missing = [c for c in ("account_id", "cutoff_time") if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{source} has no column {missing[0]!r} (required: account_id, cutoff_time; "
            f"optional: label, renewal_date; found: {', '.join(map(str, frame.columns))})")
    raw = frame.reset_index(drop=True)
    problems = []

    def flag(column: str, mask, rule: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            row = raw.loc[mask].iloc[0]
            example = {str(k): _plain(v) for k, v in row.items()}
            problems.append(Problem(source, column, rule, int(mask.sum()), example, "stop"))

    out = pd.DataFrame(index=raw.index)
    ids = _as_account_ids(raw["account_id"], tables.accounts["account_id"])
    blank = raw["account_id"].isna() | (raw["account_id"].astype("str").str.strip() == "")
    flag("account_id", blank, "have no account_id")
    unknown = ~blank & ~ids.isin(tables.accounts["account_id"]).fillna(False)
    flag("account_id", unknown, "name an account that is not in the data source")
    out["account_id"] = ids
    for column in ("cutoff_time", "renewal_date"):
        if column not in raw:
            out[column] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
            continue
        parsed = _as_times(raw[column])
        present = raw[column].notna().to_numpy() & (raw[column].astype("str").str.strip() != "")
        flag(column, present & parsed.isna().to_numpy(), "have an unparsable timestamp")
        if column == "cutoff_time":
            flag(column, ~present, "have no cutoff_time")
        out[column] = parsed
    if "label" in raw:
        labels = _as_labels(raw["label"])
        given = raw["label"].notna().to_numpy() & (raw["label"].astype("str").str.strip() != "")
        flag("label", given & labels.isna().to_numpy(), "have a label other than 1, 0, true, false or empty")
        out["label"] = labels
    else:
        out["label"] = pd.Series(pd.NA, index=raw.index, dtype="Int8")
    if not problems:
        twice = out.duplicated(["account_id", "cutoff_time"], keep=False).to_numpy()
        flag("cutoff_time", twice, "repeat an (account_id, cutoff_time) pair")
    if problems:
        raise ValidationError(problems)
    return out[["account_id", "cutoff_time", "renewal_date", "label"]]


# ------------------------------------------------------------------------ modes


def _renewal_rows(tables: Tables, *, lead_days: int) -> pd.DataFrame:
    subs = tables.subscriptions
    lead = pd.Timedelta(days=lead_days)
    candidates = subs[["account_id", "subscription_id", "start_date", "end_date"]].rename(
        columns={"end_date": "renewal_date"})
    candidates.insert(1, "cutoff_time", candidates["renewal_date"] - lead)
    # Known at the cutoff: the renewing contract was signed before it and covers it.
    keep = (candidates["start_date"] < candidates["cutoff_time"]).to_numpy()
    dropped = int((~keep).sum())
    if dropped:
        log.info("renewal cutoffs: %d of %d renewals skipped: their subscription starts at or "
                 "after the cutoff (%d days before the renewal)", dropped, len(candidates), lead_days)
    candidates = candidates.loc[keep]
    candidates["term_days"] = (candidates["renewal_date"] - candidates["start_date"]) / pd.Timedelta(days=1)
    # One row per account and renewal date: the latest-starting subscription names it.
    candidates = candidates.sort_values(
        ["account_id", "renewal_date", "start_date", "subscription_id"], kind="stable")
    rows = candidates.drop_duplicates(["account_id", "renewal_date"], keep="last")
    return rows[["account_id", "cutoff_time", "renewal_date", "term_days", "subscription_id"]]


def count_covering(subscriptions: pd.DataFrame, account_ids: pd.Series, times: pd.Series) -> np.ndarray:
    """How many of each account's subscriptions have ``start_date < time <= end_date``.

    Parameters
    ----------
    subscriptions : DataFrame
        ``account_id``, ``start_date``, ``end_date``.
    account_ids, times : Series
        One query per position (same length).

    Returns
    -------
    ndarray of int64, one count per query.
    """
    subs = subscriptions
    steps = pd.DataFrame({
        "account_id": pd.concat([subs["account_id"], subs["account_id"]], ignore_index=True),
        "time": pd.concat([subs["start_date"], subs["end_date"]], ignore_index=True),
        "delta": np.concatenate([np.ones(len(subs), np.int64), -np.ones(len(subs), np.int64)]),
    }).groupby(["account_id", "time"], as_index=False)["delta"].sum()
    steps["covering"] = steps.groupby("account_id")["delta"].cumsum()
    query = pd.DataFrame({"account_id": account_ids.to_numpy(), "time": times.to_numpy(),
                          "position": np.arange(len(times))})
    query["account_id"] = query["account_id"].astype(steps["account_id"].dtype)
    # strictly before the query time: a start at t does not cover t, an end at t does
    found = pd.merge_asof(query.sort_values("time"), steps.sort_values("time")[["account_id", "time", "covering"]],
                          on="time", by="account_id", direction="backward", allow_exact_matches=False)
    return found.sort_values("position")["covering"].fillna(0).to_numpy(dtype=np.int64)


def _horizon_rows(tables: Tables, *, cadence: str, start, end) -> pd.DataFrame:
    subs = tables.subscriptions
    account_dtype = tables.accounts["account_id"].dtype
    empty = pd.DataFrame({
        "account_id": pd.Series([], dtype=account_dtype),
        "cutoff_time": pd.Series([], dtype="datetime64[us]"),
        "renewal_date": pd.Series([], dtype="datetime64[us]"),
        "term_days": pd.Series([], dtype=np.float64),
    })
    if subs.empty:
        return empty
    grid = cadence_grid(start if start is not None else subs["start_date"].min(),
                        end if end is not None else tables.observed_until, cadence)
    if grid.empty:
        return empty
    values = grid.to_numpy()
    # A subscription covers the grid points t with start_date < t <= end_date.
    lo = np.searchsorted(values, subs["start_date"].to_numpy(), side="right")
    hi = np.searchsorted(values, subs["end_date"].to_numpy(), side="right")
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(subs)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    starts = subs["start_date"].to_numpy()[owner]
    ends = subs["end_date"].to_numpy()[owner]
    rows = pd.DataFrame({
        "account_id": subs["account_id"].iloc[owner].reset_index(drop=True),
        "cutoff_time": values[lo[owner] + offsets],
        "renewal_date": ends,
        "term_days": (ends - starts) / np.timedelta64(1, "D"),
        "_start": starts,
    })
    # The contract that ends last is the one whose end can lose the account.
    rows = rows.sort_values(["account_id", "cutoff_time", "renewal_date", "_start"], kind="stable")
    rows = rows.drop_duplicates(["account_id", "cutoff_time"], keep="last").drop(columns="_start")
    rows["renewal_date"] = rows["renewal_date"].astype("datetime64[us]")
    return rows


def cadence_grid(first: pd.Timestamp, last: pd.Timestamp, cadence: str) -> pd.DatetimeIndex:
    """Cutoffs of ``cadence`` in ``[first, last]``, on the calendar boundaries it names.

    ``MS`` gives midnight of each 1st, ``W-MON`` midnight of each Monday, whatever the
    time of day of ``first``.

    Raises
    ------
    ConfigError
        ``cadence`` is not a pandas offset alias.
    """
    try:
        grid = pd.date_range(pd.Timestamp(first).normalize(), last, freq=cadence, normalize=True)
    except ValueError as exc:
        raise ConfigError(f"timeline.cadence: {cadence!r} is not a pandas offset alias "
                          f"such as MS, W-MON or 7D ({exc})") from None
    grid = grid[(grid >= pd.Timestamp(first)) & (grid <= pd.Timestamp(last))]
    return grid.astype("datetime64[us]")


def _drop_not_yet_created(rows: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Drop rows of accounts created at or after the cutoff (the time rule)."""
    if "created_at" not in accounts or rows.empty:
        return rows
    created = accounts.set_index("account_id")["created_at"]
    when = rows["account_id"].map(created)
    early = (when >= rows["cutoff_time"]).fillna(False).to_numpy(dtype=bool)
    if early.any():
        log.info("cutoffs: %d rows dropped: the account was created at or after the cutoff",
                 int(early.sum()))
    return rows.loc[~early]


def _as_account_ids(ids: pd.Series, reference: pd.Series) -> pd.Series:
    """``ids`` in the dtype of ``accounts.account_id``; <NA>/NaN where not convertible."""
    if ids.dtype == reference.dtype:
        return ids
    if pd.api.types.is_integer_dtype(reference):
        numbers = pd.to_numeric(ids, errors="coerce")
        whole = numbers.notna() & (numbers == numbers.round())
        return numbers.where(whole).astype("Int64").astype(
            reference.dtype if whole.all() else "Int64")
    return ids.astype("str").where(ids.notna()).astype(reference.dtype)


def _as_times(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[us]")
    text = values.astype("str").where(values.notna())
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


_LABEL_WORDS = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0}


def _as_labels(values: pd.Series) -> pd.Series:
    words = values.astype("str").str.strip().str.lower().where(values.notna())
    return words.map(_LABEL_WORDS).astype("Int8")


def _plain(value):
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _bounds(timeline: TimelineParams) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    out = []
    for key in ("start", "end"):
        text = getattr(timeline, key)
        if text is None:
            out.append(None)
            continue
        try:
            out.append(pd.Timestamp(text).as_unit("us"))
        except (ValueError, TypeError):
            raise ConfigError(f"timeline.{key}: expected an ISO date such as 2024-01-31, "
                              f"got {text!r}") from None
    return out[0], out[1]
