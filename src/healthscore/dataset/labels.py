"""Labels with censoring (DESIGN.md section 2): 1 churned, 0 retained, <NA> unknown.

A label is given only when its whole outcome window is inside the data. Censoring is
symmetric: a window that runs past ``observed_until`` (the exclusive end of the data)
is censored whatever it already shows, a visible successor as much as a visible loss,
so the latest labelled rows are not a sample of the accounts that stayed.

``horizon`` mode, for a cutoff t with outcome window ``[a, b) = [t + lead_time,
t + lead_time + horizon)``: subscriptions are merged into active periods (gaps up to
``grace_days`` forgiven, :func:`healthscore.dataset.timeline.make_periods`); the period holding
t ends at E. E is a loss (``lost_at``) when ``E + grace_days < observed_until`` and no
explicit ``retained`` outcome ends it, or an explicit churn outcome ends it. The label
is known when ``b + grace_days <= observed_until``: 1 when the account is lost in
``[a, b)``, 0 when not; a loss before a (during the lead time) leaves the label
unknown (the row stays: its existence was decided at t). ``lost_at`` goes with every
row, so a model can learn from windows cut short by the end of the data
(:mod:`healthscore.model.exposure`).

``renewal`` mode, for the renewal date R of an account, known when ``R + grace_days <
observed_until``:

* *retained* (0) when some subscription of the account covers a moment after R and
  starts no later than ``R + grace_days`` (a same-day successor, a late one inside
  the grace period, an early renewal, a concurrent subscription that runs past R);
* *churned* (1) otherwise;
* with ``contraction_share`` set, a continuing account whose MRR at ``R + grace_days``
  is lower than its MRR at the cutoff by more than that share is churned too;
* an explicit ``subscriptions.outcome`` on a subscription ending at R decides the row
  whatever the data's end: one of :data:`healthscore.data.schema.CHURN_OUTCOMES` is 1, one
  of :data:`RETAINED_OUTCOMES` is 0, anything else is ignored.

A dropped row never makes a label: the rows of an account whose subscriptions lost a
row or a value in validation (``Tables.incomplete_accounts``) are censored in both
modes (``label`` <NA>, ``lost_at`` NaT) and, in horizon mode, carry no renewal
calendar (``renewal_date`` NaT, ``term_days`` NaN), so no hazard interval of theirs is
read as survived or lost either (:mod:`healthscore.model.exposure`). Their features
are untouched; ``on_invalid_rows: error`` stops the run instead.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from healthscore.config import LabelParams, TimelineParams
from healthscore.errors import SchemaError
from healthscore.data.schema import CHURN_OUTCOMES
from healthscore.data.tables import Tables
from healthscore.dataset.timeline import make_cutoffs, make_periods

log = logging.getLogger(__name__)

#: The ``subscriptions.outcome`` values that mean the account stayed.
RETAINED_OUTCOMES = frozenset({"renewed", "renew", "retained", "won", "expanded",
                               "contracted", "0", "false"})


def make_label_times(tables: Tables, timeline: TimelineParams, labels: LabelParams, *,
                     book_start: pd.Timestamp | None = None) -> pd.DataFrame:
    """Cutoffs and their labels: :func:`make_cutoffs` (``book_start`` as there) then
    :func:`make_labels`.

    Returns
    -------
    DataFrame
        ``account_id``, ``cutoff_time``, ``renewal_date``, ``label`` (Int8 with <NA>
        for censored rows) and, in renewal mode, ``subscription_id``; sorted by
        ``cutoff_time`` then ``account_id``.
    """
    cutoffs = make_cutoffs(tables, timeline, labels, book_start=book_start)
    return make_labels(cutoffs, tables, timeline=timeline, labels=labels)


def make_labels(
    cutoffs: pd.DataFrame, tables: Tables, *, timeline: TimelineParams, labels: LabelParams
) -> pd.DataFrame:
    """Add ``label`` to the rows of :func:`healthscore.dataset.timeline.make_cutoffs`.

    Parameters
    ----------
    cutoffs : DataFrame
        ``account_id``, ``cutoff_time`` and (renewal mode) ``renewal_date``.
    tables : Tables
        Validated tables; ``observed_until`` decides censoring.
    timeline, labels : TimelineParams, LabelParams
        Mode, lead time and horizon (days); grace period and contraction share.

    Returns
    -------
    DataFrame
        ``cutoffs`` plus ``label`` (Int8: 1 churned, 0 retained, <NA> censored) and
        ``lost_at`` (datetime64[us], horizon mode; NaT in renewal mode), same rows in
        the same order: a label never removes a row.
    """
    if timeline.mode == "renewal":
        label = _renewal_labels(cutoffs, tables, labels=labels)
        out = cutoffs.assign(label=label)
    else:
        out = _horizon_labels(cutoffs, tables, timeline=timeline, labels=labels)
    out = _put_label_after_renewal(out)
    out = _censor_incomplete(out, tables, horizon=timeline.mode != "renewal")
    counts = out["label"].value_counts(dropna=False)
    log.info("labels: %d rows, %d churned, %d retained, %d censored", len(out),
             int(counts.get(1, 0)), int(counts.get(0, 0)), int(out["label"].isna().sum()))
    return out


def _censor_incomplete(rows: pd.DataFrame, tables: Tables, *, horizon: bool) -> pd.DataFrame:
    """Censor the rows of accounts whose subscription history lost a row or a value."""
    if not tables.incomplete_accounts or rows.empty:
        return rows
    hit = rows["account_id"].isin(list(tables.incomplete_accounts)).to_numpy()
    if not hit.any():
        return rows
    rows = rows.copy()
    rows["label"] = rows["label"].mask(hit)
    rows["lost_at"] = rows["lost_at"].mask(hit)
    if horizon:
        rows["renewal_date"] = rows["renewal_date"].mask(hit)
        if "term_days" in rows:
            rows["term_days"] = rows["term_days"].mask(hit)
    log.warning("labels: %d row(s) of %d account(s) whose subscriptions lost a row or a value "
                "in validation are censored (e.g. account_id=%r)", int(hit.sum()),
                len(set(rows.loc[hit, "account_id"])), rows.loc[hit, "account_id"].iloc[0])
    return rows


# ---------------------------------------------------------------------- renewal


def _renewal_labels(rows: pd.DataFrame, tables: Tables, *, labels: LabelParams) -> pd.Series:
    subs = tables.subscriptions
    grace = pd.Timedelta(days=labels.grace_days)
    periods, membership = make_periods(subs, grace_days=labels.grace_days)
    ends = pd.DataFrame({
        "account_id": subs["account_id"],
        "renewal_date": subs["end_date"],
        "period_end": periods["period_end"].to_numpy()[membership.to_numpy()],
        "churn_said": _outcome_in(subs, CHURN_OUTCOMES),
        "retained_said": _outcome_in(subs, RETAINED_OUTCOMES),
    }).groupby(["account_id", "renewal_date"], as_index=False).agg(
        period_end=("period_end", "max"), churn_said=("churn_said", "any"),
        retained_said=("retained_said", "any"))
    found = rows[["account_id", "renewal_date"]].merge(ends, how="left", on=["account_id", "renewal_date"])
    renewal = found["renewal_date"]
    seen = (renewal + grace < tables.observed_until).to_numpy()
    continues = (found["period_end"] > renewal).to_numpy()
    matched = found["period_end"].notna().to_numpy()

    label = np.full(len(rows), -1, dtype=np.int8)  # -1 = unknown
    # Symmetric censoring: a grace window past the data's end is unknown either way.
    label[matched & continues & seen] = 0
    label[matched & ~continues & seen] = 1
    if labels.contraction_share is not None:
        if "mrr" not in subs:
            raise SchemaError("labels.contraction_share needs subscriptions.mrr, which the "
                              "data source does not have; map it under data.columns.subscriptions.mrr "
                              "or set labels.contraction_share to null")
        before = mrr_at(subs, rows["account_id"], rows["cutoff_time"])
        after = mrr_at(subs, rows["account_id"], renewal + grace)
        shrunk = (before > 0) & (after < (1.0 - labels.contraction_share) * before)
        label[matched & continues & shrunk & seen] = 1
    label[found["retained_said"].fillna(False).to_numpy(dtype=bool)] = 0
    label[found["churn_said"].fillna(False).to_numpy(dtype=bool)] = 1
    if (~matched).any():
        log.warning("labels: %d rows name a renewal date that ends no subscription; left unlabelled",
                    int((~matched).sum()))
    return _as_label(label, rows.index)


def _outcome_in(subs: pd.DataFrame, values: frozenset) -> pd.Series:
    if "outcome" not in subs:
        return pd.Series(False, index=subs.index)
    words = subs["outcome"].astype("str").str.strip().str.lower()
    return words.isin(values) & subs["outcome"].notna()


def mrr_at(subs: pd.DataFrame, accounts: pd.Series, when: pd.Series) -> np.ndarray:
    """Total MRR of each account's subscriptions with ``start_date <= when < end_date``."""
    mrr = subs["mrr"].fillna(0.0).to_numpy()
    steps = pd.DataFrame({
        "account_id": pd.concat([subs["account_id"], subs["account_id"]], ignore_index=True),
        "time": pd.concat([subs["start_date"], subs["end_date"]], ignore_index=True),
        "delta": np.concatenate([mrr, -mrr]),
    }).groupby(["account_id", "time"], as_index=False)["delta"].sum()
    steps["mrr"] = steps.groupby("account_id")["delta"].cumsum()
    query = pd.DataFrame({"account_id": accounts.to_numpy(), "time": when.to_numpy(),
                          "position": np.arange(len(accounts))})
    query["account_id"] = query["account_id"].astype(steps["account_id"].dtype)
    found = pd.merge_asof(query.sort_values("time"), steps.sort_values("time")[["account_id", "time", "mrr"]],
                          on="time", by="account_id", direction="backward")
    values = found.sort_values("position")["mrr"].fillna(0.0).to_numpy()
    return np.round(values, 9)  # cumulative sums of +/- amounts leave float dust


# ---------------------------------------------------------------------- horizon


def _horizon_labels(
    rows: pd.DataFrame, tables: Tables, *, timeline: TimelineParams, labels: LabelParams
) -> pd.DataFrame:
    lost_at = lost_dates(rows, tables, grace_days=labels.grace_days)
    t = rows["cutoff_time"].to_numpy()
    window_start = t + np.timedelta64(timeline.lead_time_days, "D")
    window_end = window_start + np.timedelta64(timeline.horizon_days, "D")
    grace = np.timedelta64(labels.grace_days, "D")
    seen = window_end + grace <= np.datetime64(tables.observed_until.as_unit("us"))
    lost = lost_at.to_numpy()
    has = ~pd.isna(lost)
    label = np.full(len(rows), -1, dtype=np.int8)
    label[seen] = 0
    label[seen & has & (lost < window_end)] = 1
    label[has & (lost < window_start)] = -1  # lost during the lead time: no answer
    return rows.assign(label=_as_label(label, rows.index), lost_at=lost_at.to_numpy())


def lost_dates(rows: pd.DataFrame, tables: Tables, *, grace_days: int) -> pd.Series:
    """The date each row's account stops being a customer, where the data shows it.

    The end E of the active period that holds the cutoff (subscriptions merged with
    gaps up to ``grace_days``), when that end is a loss: ``E + grace_days <
    observed_until`` and no explicit retained outcome, or an explicit churn outcome.
    NaT while the account is a customer through the data's end.

    Returns
    -------
    Series of datetime64[us], indexed like ``rows``.
    """
    subs = tables.subscriptions
    periods, membership = make_periods(subs, grace_days=grace_days)
    last = subs["end_date"].to_numpy() == periods["period_end"].to_numpy()[membership.to_numpy()]
    said = pd.DataFrame({"period": membership.to_numpy()[last],
                         "churn": _outcome_in(subs, CHURN_OUTCOMES).to_numpy()[last],
                         "retained": _outcome_in(subs, RETAINED_OUTCOMES).to_numpy()[last]})
    said = said.groupby("period").any().reindex(periods.index, fill_value=False)
    grace = pd.Timedelta(days=grace_days)
    ended = (periods["period_end"] + grace < tables.observed_until) & ~said["retained"]
    periods = periods.assign(known=(ended | said["churn"]).to_numpy())
    query = rows[["account_id", "cutoff_time"]].assign(position=np.arange(len(rows)))
    query["account_id"] = query["account_id"].astype(periods["account_id"].dtype)
    found = pd.merge_asof(
        query.sort_values("cutoff_time"), periods.sort_values("period_start"),
        left_on="cutoff_time", right_on="period_start", by="account_id",
        direction="backward", allow_exact_matches=False,
    ).sort_values("position")
    end = found["period_end"].where(found["known"].fillna(False).astype(bool))
    return pd.Series(end.to_numpy(), index=rows.index, name="lost_at").astype("datetime64[us]")


# ---------------------------------------------------------------------- helpers


def _as_label(codes: np.ndarray, index: pd.Index) -> pd.Series:
    label = pd.Series(codes, index=index).astype("Int8")
    return label.mask(label < 0)


def _put_label_after_renewal(frame: pd.DataFrame) -> pd.DataFrame:
    first = ["account_id", "cutoff_time", "renewal_date", "label"]
    if "lost_at" not in frame:
        frame = frame.assign(lost_at=pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]"))
    rest = [c for c in frame.columns if c not in first]
    return frame[first + rest]
