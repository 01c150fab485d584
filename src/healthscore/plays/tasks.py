"""Plays turn the alerts of one as-of date into tasks.

A play (``params.plays``) is a scenario, an action, an owner role and a due date. Its
scenario is a set of conditions over what the run already knows about an alerted
account: the alert's kinds (new red, band drop, score drop), the band now, the next
renewal date on the risk list, the driver families of the account's points, its
segment. Plays are tried in the order written; the first that applies to an account
makes its task, so an account gets one task per run, from the most specific play
listed first.

Every condition uses the scoring outputs of the date, which use only data strictly
before the as-of date: a task is as point-in-time as the alert it comes from.

A task row carries the play, the account and its ``arm``: ``task``, or ``holdout``
when the play holds out a share of its accounts (``Play.holdout``,
:mod:`healthscore.plays.assign`): such a row is no task to do (it is never sent) but
records the assignment, so the play's uplift can be measured.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.config.plays import Play
from healthscore.errors import DataError
from healthscore.data.schema import ALERT_COLUMNS, TASK_COLUMNS
from healthscore.plays.assign import ARM_TASK, STRATA, assign_arms

__all__ = ["ARM_TASK", "empty_tasks", "make_tasks", "play_applies", "task_id"]

_RISK_NEEDED = ("account_id", "name", "owner", "segment", "renewal_date", "days_to_renewal")


def make_tasks(
    alerts: pd.DataFrame,
    risk_list: pd.DataFrame,
    history: pd.DataFrame,
    plays: Sequence[Play],
    *,
    as_of: pd.Timestamp,
    earlier: Mapping[str, Mapping[Any, str]] | None = None,
) -> pd.DataFrame:
    """The tasks of one as-of date: one per alerted account a play applies to (a
    held-out account's row has arm ``holdout`` and is no task to do).

    Parameters
    ----------
    alerts : DataFrame
        Columns :data:`~healthscore.data.schema.ALERT_COLUMNS` (the date's alerts).
    risk_list : DataFrame
        The date's risk list (:data:`~healthscore.data.schema.RISK_LIST_COLUMNS`): name,
        owner, segment and the next renewal of each account.
    history : DataFrame
        The date's history rows: ``account_id`` and one ``points_<family>`` column per
        driver family (points, negative = lowers the health score).
    plays : sequence of Play
        ``params.plays``, in order of priority.
    as_of : Timestamp
        The as-of date; due dates are ``as_of + due_days``.
    earlier : mapping, optional
        play -> {account -> arm} of earlier dates (:func:`~healthscore.plays.assign.earlier_arms`):
        an account keeps the arm it first got for a play.

    Returns
    -------
    DataFrame
        Columns :data:`~healthscore.data.schema.TASK_COLUMNS`, sorted by due date, then the
        largest score drop; empty (same columns) when no play applies.

    Raises
    ------
    DataError
        A frame lacks a column a play needs (named with the table and an example).
    """
    as_of = pd.Timestamp(as_of)
    if not plays or alerts.empty:
        return empty_tasks()
    _require(alerts, "alerts", ALERT_COLUMNS)
    _require(risk_list, "risk_list", _RISK_NEEDED)
    accounts = alerts.merge(risk_list.loc[:, list(_RISK_NEEDED)], on="account_id", how="left",
                            validate="one_to_one")
    accounts = accounts.merge(_family_points(history, plays), on="account_id", how="left",
                              validate="one_to_one")
    taken = np.zeros(len(accounts), dtype=bool)
    parts = []
    for play in plays:
        hit = play_applies(accounts, play, as_of=as_of) & ~taken
        if hit.any():
            chosen = accounts.loc[hit]
            arms = assign_arms(chosen["account_id"].tolist(), chosen.loc[:, list(STRATA)],
                               play=play.name, share=play.holdout, seed=play.holdout_seed,
                               earlier=(earlier or {}).get(play.name))
            parts.append(_task_rows(chosen, play, as_of=as_of, arms=arms))
            taken |= hit
    if not parts:
        return empty_tasks()
    tasks = pd.concat(parts, ignore_index=True)
    return tasks.sort_values(["due_date", "score_change", "account_id"], kind="stable",
                             na_position="last").reset_index(drop=True)


def play_applies(accounts: pd.DataFrame, play: Play, *, as_of: pd.Timestamp) -> np.ndarray:
    """Boolean mask of the alerted ``accounts`` (alerts joined to the risk list and the
    family points) to which ``play`` applies on ``as_of``."""
    when = play.when
    hit = np.zeros(len(accounts), dtype=bool)
    for kind in when.alerts:
        hit |= accounts[kind].to_numpy(dtype=bool)
    if when.bands:
        hit &= accounts["band"].isin(when.bands).to_numpy(dtype=bool)
    if when.segments:
        hit &= accounts["segment"].astype("string").isin(when.segments).fillna(False).to_numpy(bool)
    if when.renewal_within_days is not None:
        renewal = pd.to_datetime(accounts["renewal_date"])
        days = (renewal - as_of).dt.days.to_numpy(np.float64, na_value=np.nan)
        hit &= (days >= 0) & (days <= when.renewal_within_days)
    if when.family is not None:
        points = accounts[f"points_{when.family}"].to_numpy(np.float64, na_value=np.nan)
        hit &= points <= -when.min_points
    return hit


def empty_tasks() -> pd.DataFrame:
    """A tasks table without rows, with the columns and dtypes of a full one."""
    dtypes = {"as_of": "datetime64[us]", "due_date": "datetime64[us]", "renewal_date": "datetime64[us]",
              "health_score": "Int64", "score_change": "Int64", "days_to_renewal": "Float64"}
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, "string")) for c in TASK_COLUMNS})


def task_id(as_of: pd.Timestamp, play: str, account_id: object) -> str:
    """A stable id of the task of ``play`` for ``account_id`` on ``as_of`` (rerunning a date
    gives the same ids, so a receiver can drop what it already has)."""
    text = f"{pd.Timestamp(as_of):%Y-%m-%d}|{play}|{account_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _task_rows(accounts: pd.DataFrame, play: Play, *, as_of: pd.Timestamp,
               arms: np.ndarray) -> pd.DataFrame:
    n = len(accounts)
    frame = pd.DataFrame({
        "task_id": [task_id(as_of, play.name, a) for a in accounts["account_id"]],
        "as_of": pd.Series([as_of] * n, dtype="datetime64[us]"),
        "play": play.name,
        "account_id": accounts["account_id"].to_numpy(),
        "name": accounts["name"].to_numpy(),
        "owner": accounts["owner"].to_numpy(),
        "owner_role": play.owner,
        "action": play.action,
        "due_date": pd.Series([as_of + pd.Timedelta(days=play.due_days)] * n, dtype="datetime64[us]"),
        "arm": arms,
        "alert_kind": accounts["kind"].to_numpy(),
        "band": accounts["band"].to_numpy(),
        "health_score": accounts["health_score"].to_numpy(),
        "score_change": accounts["score_change"].to_numpy(),
        "renewal_date": pd.to_datetime(accounts["renewal_date"]).astype("datetime64[us]").to_numpy(),
        "days_to_renewal": accounts["days_to_renewal"].to_numpy(),
        "reason": accounts["reason"].to_numpy(),
    })
    for column in ("task_id", "play", "name", "owner", "owner_role", "action", "arm", "alert_kind",
                   "band", "reason"):
        frame[column] = frame[column].astype("string")
    for column in ("health_score", "score_change"):
        frame[column] = frame[column].astype("Int64")
    frame["days_to_renewal"] = frame["days_to_renewal"].astype("Float64")
    return frame.loc[:, list(TASK_COLUMNS)]


def _family_points(history: pd.DataFrame, plays: Sequence[Play]) -> pd.DataFrame:
    families = sorted({p.when.family for p in plays if p.when.family is not None})
    columns = [f"points_{f}" for f in families]
    _require(history, "history", ("account_id", *columns))
    return history.loc[:, ["account_id", *columns]]


def _require(frame: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        example = frame.head(1).to_dict("records")
        raise DataError(f"{table}: column {missing[0]!r} is missing (plays need "
                        f"{', '.join(missing)}); example row: {example[0] if example else 'none'}")
