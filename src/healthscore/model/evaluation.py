"""Metrics of churn risks on a test window, overall and per segment, and their plots.

Every metric takes labels ``y`` (0/1) and risks ``p`` (``risk_proba``) of the same
rows. The expected calibration error uses ``n_bins`` equal-width bins of predicted
risk over [0, 1] (default 10): ``ECE = sum_b n_b / n * |mean(y_b) - mean(p_b)|``.
Top-decile figures rank rows by risk (ties broken by row order, stably) and take the
``ceil(n / 10)`` riskiest.

Plots are :class:`matplotlib.figure.Figure` objects built without pyplot (Agg
canvas, no global state); the caller saves them.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from healthscore.model.scale import BANDS

#: Metric columns of :func:`metrics_table`, in order.
METRICS: tuple[str, ...] = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "top_decile_lift",
    "recall_at_top10",
)


def expected_calibration_error(y: Any, p: Any, *, n_bins: int = 10) -> float:
    """ECE over ``n_bins`` equal-width bins of ``p`` in [0, 1] (empty bins skipped)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.size == 0:
        return math.nan
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p, minlength=n_bins)
    used = counts > 0
    return float(np.abs(sum_y[used] - sum_p[used]).sum() / y.size)


def top_share(p: Any, share: float = 0.1) -> np.ndarray:
    """Boolean mask of the ``ceil(n * share)`` highest risks (stable ranking)."""
    p = np.asarray(p, dtype=np.float64)
    k = int(math.ceil(len(p) * share))
    order = np.argsort(-p, kind="stable")
    mask = np.zeros(len(p), dtype=bool)
    mask[order[:k]] = True
    return mask


def classification_metrics(y: Any, p: Any, *, n_bins: int = 10) -> dict[str, float]:
    """All metrics of risks ``p`` against labels ``y``; NaN where undefined.

    Returns keys ``rows``, ``churned``, ``churn_rate`` and :data:`METRICS`. ROC-AUC and
    PR-AUC are NaN when ``y`` holds a single class.
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    n, churned = len(y), int(y.sum())
    out: dict[str, float] = {
        "rows": n, "churned": churned, "churn_rate": churned / n if n else math.nan
    }
    both = 0 < churned < n
    out["roc_auc"] = float(roc_auc_score(y, p)) if both else math.nan
    out["pr_auc"] = float(average_precision_score(y, p)) if both else math.nan
    out["log_loss"] = float(log_loss(y, p, labels=[0, 1])) if n else math.nan
    out["brier"] = float(brier_score_loss(y, p, pos_label=1)) if n else math.nan
    out["ece"] = expected_calibration_error(y, p, n_bins=n_bins)
    top = top_share(p, 0.1)
    rate_top = y[top].mean() if top.any() else math.nan
    out["top_decile_lift"] = float(rate_top / out["churn_rate"]) if churned else math.nan
    out["recall_at_top10"] = float(y[top].sum() / churned) if churned else math.nan
    return out


def metrics_table(
    y: Any,
    risks: Mapping[str, Any],
    *,
    segments: Any = None,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Metrics of several predictors side by side, overall and per segment.

    Parameters
    ----------
    y : array of shape (n,)
        0/1 labels of the test rows.
    risks : mapping of str to array of shape (n,)
        Predictor name (``model``, ``logistic``, ``scorecard``, ``base_rate``,
        ``oracle``) to its risks; an array may hold NaN where a predictor has no value
        (the oracle on unmatched rows): those rows are left out of its metrics.
    segments : array of shape (n,), optional
        Segment of each row; adds one block of rows per segment.

    Returns
    -------
    DataFrame
        Columns ``segment`` (``all`` first), ``predictor``, ``rows``, ``churned``,
        ``churn_rate`` and :data:`METRICS`; one row per (segment, predictor).
    """
    y = np.asarray(y, dtype=np.int64)
    groups: list[tuple[str, np.ndarray]] = [("all", np.ones(len(y), dtype=bool))]
    if segments is not None:
        seg = pd.Series(np.asarray(segments, dtype=object)).astype("string").fillna("(missing)")
        for value in sorted(seg.unique()):
            groups.append((str(value), (seg == value).to_numpy()))
    rows = []
    for segment, mask in groups:
        for name, p in risks.items():
            p = np.asarray(p, dtype=np.float64)
            keep = mask & ~np.isnan(p)
            rows.append(
                {"segment": segment, "predictor": name}
                | classification_metrics(y[keep], p[keep], n_bins=n_bins)
            )
    return pd.DataFrame(rows)


def reliability_table(y: Any, p: Any, *, n_bins: int = 10) -> pd.DataFrame:
    """Points of the reliability curve: per non-empty equal-width bin of ``p``,
    ``bin`` (0-based), ``predicted`` (mean risk), ``observed`` (churn rate), ``count``."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    used = np.flatnonzero(counts)
    return pd.DataFrame(
        {
            "bin": used,
            "predicted": np.bincount(bins, weights=p, minlength=n_bins)[used] / counts[used],
            "observed": np.bincount(bins, weights=y, minlength=n_bins)[used] / counts[used],
            "count": counts[used],
        }
    )


def band_table(y: Any, bands: Any) -> pd.DataFrame:
    """Observed churn per band: ``band``, ``rows``, ``churned``, ``churn_rate``, ``share``.

    Bands in the order red, yellow, green; a band with no row has NaN churn rate.
    """
    frame = pd.DataFrame({"y": np.asarray(y, dtype=np.int64), "band": np.asarray(bands)})
    grouped = frame.groupby("band")["y"].agg(rows="size", churned="sum")
    grouped = grouped.reindex(list(BANDS)).fillna(0).astype(np.int64)
    grouped["churn_rate"] = grouped["churned"] / grouped["rows"].where(grouped["rows"] > 0)
    grouped["share"] = grouped["rows"] / max(len(frame), 1)
    return grouped.reset_index()


# ------------------------------------------------------------------------ plots


def plot_reliability(y: Any, risks: Mapping[str, Any], *, n_bins: int = 10) -> Figure:
    """Reliability curve: mean observed churn against mean predicted risk per bin."""
    y = np.asarray(y, dtype=np.float64)
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    for name, p in risks.items():
        p = np.asarray(p, dtype=np.float64)
        keep = ~np.isnan(p)
        bins = np.minimum((p[keep] * n_bins).astype(np.int64), n_bins - 1)
        counts = np.bincount(bins, minlength=n_bins)
        used = counts > 0
        mean_p = np.bincount(bins, weights=p[keep], minlength=n_bins)[used] / counts[used]
        mean_y = np.bincount(bins, weights=y[keep], minlength=n_bins)[used] / counts[used]
        ax.plot(mean_p, mean_y, marker="o", label=name)
    ax.set(xlabel="predicted churn risk", ylabel="observed churn rate",
           title=f"Reliability ({n_bins} equal-width bins)", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    return fig


def plot_roc(y: Any, risks: Mapping[str, Any]) -> Figure:
    """ROC curves with their AUC in the legend."""
    y = np.asarray(y, dtype=np.int64)
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    for name, p in risks.items():
        p = np.asarray(p, dtype=np.float64)
        keep = ~np.isnan(p)
        if len(np.unique(y[keep])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[keep], p[keep])
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y[keep], p[keep]):.3f})")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    return fig


def plot_lift(y: Any, risks: Mapping[str, Any]) -> Figure:
    """Cumulative lift: churn rate among the top x% riskest over the overall rate."""
    y = np.asarray(y, dtype=np.float64)
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.axhline(1.0, linestyle="--", color="grey", linewidth=1)
    for name, p in risks.items():
        p = np.asarray(p, dtype=np.float64)
        keep = ~np.isnan(p)
        yk, pk = y[keep], p[keep]
        if yk.sum() == 0:
            continue
        order = np.argsort(-pk, kind="stable")
        counts = np.arange(1, len(yk) + 1)
        lift = (np.cumsum(yk[order]) / counts) / yk.mean()
        ax.plot(counts / len(yk), lift, label=name)
    ax.set(xlabel="share of accounts contacted (riskiest first)", ylabel="cumulative lift",
           title="Cumulative lift", xlim=(0, 1))
    ax.legend(loc="upper right")
    return fig
