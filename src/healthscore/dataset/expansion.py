"""Expansion labels: did the account's MRR rise by ``min_increase`` within the horizon?

The rows are the churn model's (:func:`healthscore.dataset.timeline.make_cutoffs`: a
row exists because the account is a customer at its cutoff, from facts before it); only
the label differs. For a row cut off at ``t`` with outcome window ``[a, b) = [t +
lead_time_days, t + lead_time_days + horizon_days)``:

* the reference MRR is what the account pays just before ``t``: the sum of ``mrr``
  over its subscriptions with ``start_date < t <= end_date`` (the contracts that make
  it a customer at ``t``; a renewal starting at ``t`` is not seen yet);
* the account *expanded* (1) when at some moment ``x`` of ``[a, b)`` the MRR of its
  subscriptions with ``start_date <= x < end_date`` is at least ``(1 + min_increase)``
  times the reference: more seats, a plan upgrade or an add-on all raise the MRR of a
  renewal or of a concurrent subscription;
* an account lost in the window (``lost_at < b``, :func:`healthscore.dataset.labels.lost_dates`)
  did not expand (0), whatever it showed before leaving; one lost during the lead
  time has no answer (<NA>), as in the churn labels;
* the label is known when ``b + labels.grace_days <= observed_until``, the churn
  labels' rule: a window that runs past the data's end is censored (<NA>) whatever it
  already shows, a rise as much as none, so the latest labelled rows are not a sample
  of the accounts that grew early;
* a row with no reference MRR (0: nothing paid) has no answer (<NA>), and the rows of
  ``Tables.incomplete_accounts`` are censored, as in the churn labels.

Pure: frames in, frames out.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from healthscore.config import LabelParams, TimelineParams
from healthscore.config.expansion import ExpansionParams
from healthscore.data.tables import Tables
from healthscore.dataset.labels import mrr_at, lost_dates
from healthscore.dataset.timeline import make_cutoffs
from healthscore.errors import SchemaError

log = logging.getLogger(__name__)

#: One microsecond: the MRR at ``t - _TICK`` with ``start <= x < end`` is the MRR of
#: the subscriptions with ``start < t <= end`` (timestamps are datetime64[us]).
_TICK = pd.Timedelta(microseconds=1)


def make_expansion_label_times(
    tables: Tables, timeline: TimelineParams, labels: LabelParams, expansion: ExpansionParams
) -> pd.DataFrame:
    """The churn model's cutoffs (:func:`make_cutoffs`) with expansion labels.

    Returns
    -------
    DataFrame
        ``account_id``, ``cutoff_time``, ``renewal_date``, ``term_days`` then the
        columns of :func:`make_expansion_labels`.
    """
    cutoffs = make_cutoffs(tables, timeline, labels)
    return make_expansion_labels(cutoffs, tables, labels=labels, expansion=expansion)


def make_expansion_labels(
    rows: pd.DataFrame, tables: Tables, *, labels: LabelParams, expansion: ExpansionParams
) -> pd.DataFrame:
    """Add the expansion label to rows keyed by (``account_id``, ``cutoff_time``).

    Parameters
    ----------
    rows : DataFrame
        At least ``account_id`` and ``cutoff_time`` (e.g. a training set's keys).
    tables : Tables
        Validated tables; ``subscriptions.mrr`` is required, ``observed_until``
        decides censoring.
    labels : LabelParams
        ``grace_days``: active periods (losses) and the censoring margin.
    expansion : ExpansionParams
        ``min_increase``, ``lead_time_days``, ``horizon_days``.

    Returns
    -------
    DataFrame
        ``rows`` (same rows, same order) with ``label`` replaced by the expansion label
        (Int8: 1 expanded, 0 not, <NA> unknown) and ``mrr_before`` (the reference MRR),
        ``mrr_peak`` (the highest MRR in the window, as far as the data shows) and
        ``lost_at`` (when the data shows the account lost) added or replaced.

    Raises
    ------
    SchemaError
        ``subscriptions`` has no ``mrr`` column.
    """
    subs = tables.subscriptions
    if "mrr" not in subs:
        raise SchemaError("expansion labels need subscriptions.mrr, which the data source does not "
                          "have (found columns: " + ", ".join(map(str, subs.columns)) + "); map it "
                          "under data.columns.subscriptions.mrr")
    rows = rows.reset_index(drop=True) if not rows.index.equals(pd.RangeIndex(len(rows))) else rows
    t = pd.to_datetime(rows["cutoff_time"]).astype("datetime64[us]")
    start = t + pd.Timedelta(days=expansion.lead_time_days)
    end = start + pd.Timedelta(days=expansion.horizon_days)
    before = mrr_at(subs, rows["account_id"], t - _TICK)
    peak = window_peak_mrr(subs, rows["account_id"], start, end)
    lost = lost_dates(rows, tables, grace_days=labels.grace_days).to_numpy()
    has_lost = ~pd.isna(lost)
    grace = np.timedelta64(labels.grace_days, "D")
    seen = (end.to_numpy() + grace) <= np.datetime64(tables.observed_until.as_unit("us"))

    code = np.full(len(rows), -1, dtype=np.int8)
    code[seen] = 0
    grew = peak >= (1.0 + expansion.min_increase) * before - 1e-9
    code[seen & grew] = 1
    code[seen & has_lost & (lost < end.to_numpy())] = 0  # lost in the window: no expansion
    code[has_lost & (lost < start.to_numpy())] = -1  # lost in the lead time: no answer
    code[before <= 0] = -1
    if tables.incomplete_accounts:
        code[rows["account_id"].isin(list(tables.incomplete_accounts)).to_numpy()] = -1
    label = pd.Series(code, index=rows.index).astype("Int8")
    out = rows.assign(label=label.mask(label < 0), mrr_before=before, mrr_peak=peak,
                      lost_at=pd.Series(lost, index=rows.index).astype("datetime64[us]"))
    counts = out["label"].value_counts(dropna=False)
    log.info("expansion labels (+%.0f%% MRR within %d days): %d rows, %d expanded, %d not, %d unknown",
             100 * expansion.min_increase, expansion.horizon_days, len(out), int(counts.get(1, 0)),
             int(counts.get(0, 0)), int(out["label"].isna().sum()))
    return out


def window_peak_mrr(
    subscriptions: pd.DataFrame, account_ids: pd.Series, start: pd.Series, end: pd.Series
) -> np.ndarray:
    """The highest MRR of each account at some moment of ``[start, end)``.

    The MRR at ``x`` is the sum of ``mrr`` over subscriptions with ``start_date <= x <
    end_date``; it changes only where a subscription starts or ends, so its maximum
    over the window is reached at ``start`` or at a subscription start inside it.

    Returns
    -------
    ndarray of float64, one value per query (0 when nothing is paid in the window).
    """
    n = len(account_ids)
    ids = pd.Series(np.asarray(account_ids))
    lo = pd.Series(pd.to_datetime(start).to_numpy()).astype("datetime64[us]")
    hi = pd.Series(pd.to_datetime(end).to_numpy()).astype("datetime64[us]")
    at_start = mrr_at(subscriptions, ids, lo)
    query = pd.DataFrame({"account_id": ids.to_numpy(), "lo": lo.to_numpy(), "hi": hi.to_numpy(),
                          "position": np.arange(n)})
    starts = subscriptions[["account_id", "start_date"]].drop_duplicates()
    query["account_id"] = query["account_id"].astype(starts["account_id"].dtype)
    pairs = query.merge(starts, on="account_id", how="inner")
    pairs = pairs.loc[(pairs["start_date"] > pairs["lo"]) & (pairs["start_date"] < pairs["hi"])]
    peak = at_start.copy()
    if len(pairs):
        values = mrr_at(subscriptions, pairs["account_id"], pairs["start_date"])
        best = pd.Series(values).groupby(pairs["position"].to_numpy()).max()
        positions = best.index.to_numpy()
        peak[positions] = np.maximum(peak[positions], best.to_numpy())
    return peak


def expansion_dataset(
    dataset: pd.DataFrame, tables: Tables, *, labels: LabelParams, expansion: ExpansionParams
) -> pd.DataFrame:
    """A churn training set relabelled for expansion: same rows, same features.

    ``label`` and ``lost_at`` become the expansion label's (:func:`make_expansion_labels`
    on the set's keys, from ``tables``: the source the set was built from), and
    ``mrr_before`` and ``mrr_peak`` are inserted after the key columns (no ``__``: not
    features).
    """
    keys = dataset[["account_id", "cutoff_time"]].reset_index(drop=True)
    found = make_expansion_labels(keys, tables, labels=labels, expansion=expansion)
    out = dataset.reset_index(drop=True).copy()
    out["label"] = found["label"].to_numpy()
    out["lost_at"] = found["lost_at"].to_numpy()
    at = list(out.columns).index("lost_at") + 1
    out.insert(at, "mrr_before", found["mrr_before"].to_numpy())
    out.insert(at + 1, "mrr_peak", found["mrr_peak"].to_numpy())
    return out
