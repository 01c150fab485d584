"""The simulator's ground truth matched to rows: the oracle a model is compared with."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.errors import DataError

log = logging.getLogger(__name__)


def oracle_risk(
    rows: pd.DataFrame,
    ground_truth: pd.DataFrame,
    *,
    keys: tuple[str, ...] = ("account_id", "renewal_date"),
    value: str = "churn_proba",
) -> np.ndarray:
    """The simulator's true churn probability of each row (NaN where unmatched).

    Joins ``rows`` to ``ground_truth`` on ``keys``; ground truth must have one row per
    key. ``value``: ``churn_proba`` (a renewal's) or ``risk_horizon`` (the oracle table's
    chance of a loss within the horizon, keyed by ``account_id`` and ``cutoff_time``).
    """
    missing = [k for k in (*keys, value) if k not in ground_truth.columns]
    if missing:
        raise DataError(f"ground_truth: missing column(s) {', '.join(missing)}")
    truth = ground_truth[[*keys, value]].rename(columns={value: "churn_proba"})
    if truth.duplicated(list(keys)).any():
        raise DataError(f"ground_truth: several rows per ({', '.join(keys)})")
    left = rows[list(keys)].reset_index(drop=True)
    for key in keys:  # align key dtypes (e.g. datetime64[us] vs [ns])
        if pd.api.types.is_datetime64_any_dtype(left[key]):
            truth = truth.assign(**{key: pd.to_datetime(truth[key]).astype(left[key].dtype)})
    merged = left.merge(truth, on=list(keys), how="left", validate="many_to_one")
    unmatched = int(merged["churn_proba"].isna().sum())
    if unmatched:
        log.warning("oracle: %d of %d test row(s) have no ground truth", unmatched, len(merged))
    return merged["churn_proba"].to_numpy(dtype=np.float64, na_value=np.nan)


#: The direct traces a simulated cause leaves in the tables (:mod:`healthscore.sim.observe`),
#: as a reader sees them at a cutoff: ``cause -> [(table, time column, which rows)]``. A
#: cause not listed always leaves one (champion_left: the champion's usage goes silent;
#: bad_release and support_escalation: bug reports and escalated tickets).
TRACES = {
    # an invoice due since the strike and overdue at the cutoff (paid late or not yet)
    "payment_trouble": [("invoices", "due_at",
                         lambda t: t["paid_at"].isna() | (t["paid_at"] > t["due_at"]))],
    # the CRM recorded the downgrade request (7 times in 10)
    "budget_cut": [("signals", "timestamp", lambda t: t["signal"] == "downgrade_request")],
    # a competitor mention (about 1 in 3) or a passive or detractor NPS answer
    "competitor_evaluation": [("signals", "timestamp", lambda t: t["signal"] == "competitor_mention"),
                              ("surveys", "responded_at", lambda t: t["score"] <= 6)],
}
#: :data:`TRACES` in words, for the tables that report a fidelity over traced causes.
TRACES_IN_WORDS = ("an overdue invoice, a recorded downgrade request, a competitor mention or an "
                   "NPS answer of 6 or less; the usage and support causes always leave one")


def trace_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The tables of :data:`TRACES` in a simulator's output ``folder`` (those present)."""
    names = {table for traces in TRACES.values() for table, _, _ in traces}
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in sorted(names)
            if (folder / f"{t}.parquet").exists()}


def cause_traced(rows: pd.DataFrame, tables, *, cutoff: str = "cutoff_time") -> np.ndarray:
    """Whether each row's ``primary_cause`` left its direct trace in the data between
    the strike (``cause_at``) and the row's ``cutoff``, by :data:`TRACES`.

    A row without a cause, or whose cause struck at or after its cutoff, has none
    (False). ``tables`` maps table names to canonical frames (a :class:`~healthscore.data.
    tables.Tables` does); an absent table shows no trace. The explanation fidelity of
    the rows with a trace is what an explanation reading the data can reach; the others
    are named only by chance.
    """
    missing = [c for c in ("account_id", "primary_cause", "cause_at", cutoff) if c not in rows.columns]
    if missing:
        raise DataError(f"cause_traced: rows have no column {missing[0]!r}")
    start = pd.to_datetime(rows["cause_at"]).to_numpy("datetime64[us]")
    end = pd.to_datetime(rows[cutoff]).to_numpy("datetime64[us]")
    cause = rows["primary_cause"].astype(object).to_numpy()
    struck = ~np.isnat(start) & (start < end)
    traced = struck & ~np.isin(cause, list(TRACES)) & ~pd.isna(cause)
    for name, traces in TRACES.items():
        mine = np.flatnonzero(struck & (cause == name))
        if len(mine) == 0:
            continue
        for table, column, keep in traces:
            if table not in tables:
                continue
            frame = tables[table]
            frame = frame.loc[keep(frame), ["account_id", column]]
            pairs = pd.DataFrame({"account_id": rows["account_id"].to_numpy()[mine], "row": mine,
                                  "start": start[mine], "end": end[mine]}).merge(frame, on="account_id")
            when = pairs[column].to_numpy("datetime64[us]")
            inside = (when >= pairs["start"].to_numpy()) & (when < pairs["end"].to_numpy())
            traced[pairs["row"].to_numpy()[inside]] = True
    return traced
