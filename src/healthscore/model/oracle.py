"""The simulator's ground truth matched to rows: the oracle a model is compared with."""

from __future__ import annotations

import logging

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
