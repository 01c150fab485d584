"""A small generator of training-set frames with known churn probabilities.

For the model's tests and smoke runs of the quality benchmark: it writes the frame
``build-dataset`` produces (keys, ``label`` with censoring, ``__`` features named as the
feature builder names them) straight from a latent account health, without raw tables.
The account-level simulator (:mod:`healthscore.sim.simulate`) is the realistic source; this
one is only fast and its truth is simple to read: ``churn_proba`` is a fixed function
of the features (:func:`true_logit`), so an oracle is known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

SEGMENTS = ("smb", "mid_market", "enterprise")


def true_logit(features: pd.DataFrame) -> np.ndarray:
    """Log-odds of churn of each row, from its features (non-linear on purpose)."""
    util = features["events__seat_utilisation__30d"].to_numpy(dtype=float)
    trend = np.log(features["events__count__30d_vs_prev_30d"].to_numpy(dtype=float))
    quiet = features["events__days_since_last"].to_numpy(dtype=float) > 21
    open_tickets = features["tickets__open__now"].to_numpy(dtype=float)
    overdue = features["invoices__days_overdue__now"].to_numpy(dtype=float)
    nps = features["surveys__nps_last"].to_numpy(dtype=float, na_value=np.nan)
    segment = features["accounts__segment"].astype("string").to_numpy(dtype=object)
    logit = (
        -2.6
        - 3.0 * (util - 0.5)
        - 0.8 * trend
        + 0.9 * quiet
        + 0.25 * np.minimum(open_tickets, 6)
        + 0.02 * np.minimum(overdue, 90)
        - 0.25 * np.nan_to_num(nps - 7.0)
        - 0.5 * (segment == "enterprise")
        + 0.8 * ((segment == "smb") & (util < 0.3))
    )
    return logit


def make_training_frame(
    n_accounts: int = 2000,
    *,
    start: str = "2022-01-01",
    months: int = 36,
    censored_months: int = 3,
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A training-set frame and its ground truth.

    Each account renews yearly from a random first renewal within the first year;
    rows are cut off 90 days before each renewal. Rows whose cutoff falls in the last
    ``censored_months`` months are censored (``label`` ``<NA>``).

    Returns
    -------
    dataset : DataFrame
        ``account_id`` (int64), ``cutoff_time``, ``renewal_date`` (datetime64[us]),
        ``label`` (Int8), then the features (float64, ``accounts__segment`` category).
    ground_truth : DataFrame
        ``account_id``, ``renewal_date``, ``churn_proba`` (one row per dataset row).
    """
    rng = np.random.default_rng(random_state)
    origin = pd.Timestamp(start)
    end = origin + pd.DateOffset(months=months)
    first = origin + pd.to_timedelta(rng.integers(90, 455, n_accounts), unit="D")
    rows_acc, rows_renewal = [], []
    for account, renewal in enumerate(first):
        while renewal < end + pd.Timedelta(days=90):
            rows_acc.append(account + 1)
            rows_renewal.append(renewal)
            renewal = renewal + pd.DateOffset(years=1)
    n = len(rows_acc)
    account_id = np.asarray(rows_acc, dtype=np.int64)
    renewal_date = pd.DatetimeIndex(rows_renewal).astype("datetime64[us]")
    cutoff = renewal_date - pd.Timedelta(days=90)

    health = rng.normal(size=n_accounts)[account_id - 1] + rng.normal(scale=0.6, size=n)
    segment_of = rng.choice(len(SEGMENTS), size=n_accounts, p=[0.6, 0.3, 0.1])
    segment = np.asarray(SEGMENTS, dtype=object)[segment_of[account_id - 1]]
    seats = np.array([10, 40, 200])[segment_of[account_id - 1]] * rng.uniform(0.5, 1.5, n)
    util = np.clip(expit(0.9 * health + rng.normal(scale=0.5, size=n)), 0, 1)
    active = np.round(util * seats)
    opened = rng.poisson(np.exp(0.8 - 0.4 * health))
    csat = np.clip(3.8 + 0.5 * health + rng.normal(scale=0.6, size=n), 1, 5)
    nps = np.clip(np.round(7 + 1.5 * health + rng.normal(scale=1.5, size=n)), 0, 10)
    overdue_any = rng.random(n) < expit(-2.0 - 0.8 * health)
    features = pd.DataFrame(
        {
            "events__active_users__30d": active,
            "events__count__30d": rng.poisson(active * 20 * np.exp(0.3 * health)).astype(float),
            "events__count__30d_vs_prev_30d": np.exp(rng.normal(0.15 * health, 0.3, n)),
            "events__days_since_last": np.clip(np.exp(1.6 - 0.9 * health + rng.normal(0, 0.7, n)), 0, 180).round(),
            "events__seat_utilisation__30d": util,
            "tickets__open__now": rng.poisson(np.exp(-0.3 - 0.5 * health)).astype(float),
            "tickets__opened__90d": opened.astype(float),
            "tickets__csat_mean__90d": np.where(opened > 0, csat, np.nan),
            "invoices__days_overdue__now": np.where(overdue_any, rng.exponential(25, n).round(), 0.0),
            "invoices__late_count__180d": rng.poisson(np.exp(-1.2 - 0.6 * health)).astype(float),
            "surveys__nps_last": np.where(rng.random(n) < 0.5, nps, np.nan),
            "emails__open_rate__90d": np.clip(0.25 + 0.08 * health + rng.normal(0, 0.08, n), 0, 1),
            "subscriptions__mrr": seats * np.array([30.0, 25.0, 20.0])[segment_of[account_id - 1]],
            "accounts__segment": pd.Categorical(segment, categories=list(SEGMENTS)),
        }
    )
    proba = expit(true_logit(features))
    label = pd.array((rng.random(n) < proba).astype(np.int8), dtype="Int8")
    label[np.asarray(cutoff >= end - pd.DateOffset(months=censored_months))] = pd.NA
    keys = pd.DataFrame(
        {"account_id": account_id, "cutoff_time": cutoff, "renewal_date": renewal_date, "label": label}
    )
    dataset = pd.concat([keys, features], axis=1)
    dataset = dataset.sort_values(["cutoff_time", "account_id"], kind="stable").reset_index(drop=True)
    truth = pd.DataFrame({"account_id": account_id, "renewal_date": renewal_date, "churn_proba": proba})
    return dataset, truth
