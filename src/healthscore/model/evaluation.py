"""Metrics of churn risks on a test window, overall and per segment, and their plots.

Every metric takes labels ``y`` (0/1) and risks ``p`` (``risk_proba``) of the same
rows. The expected calibration error uses ``n_bins`` equal-width bins of predicted
risk over [0, 1] (default 10): ``ECE = sum_b n_b / n * |mean(y_b) - mean(p_b)|``.
Top-decile figures take the ``ceil(n / 10)`` riskiest rows, rows tied at the boundary
sharing the places left (the expected value over a random order of the tie,
:func:`top_share`), so the order of the rows never moves them.

Plots are :class:`matplotlib.figure.Figure` objects built without pyplot (Agg
canvas, no global state); the caller saves them.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from healthscore.model.scale import BANDS

if TYPE_CHECKING:  # matplotlib loads only where a plot is drawn
    from matplotlib.figure import Figure

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
    if y.size == 0:
        return math.nan
    counts, sum_y, sum_p = _bin_sums(y, p, n_bins)
    used = counts > 0
    return float(np.abs(sum_y[used] - sum_p[used]).sum() / y.size)


def _bin_sums(y: Any, p: Any, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of ``p`` in [0, 1]: row count, sum of ``y``, sum of ``p``."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    return (np.bincount(bins, minlength=n_bins), np.bincount(bins, weights=y, minlength=n_bins),
            np.bincount(bins, weights=p, minlength=n_bins))


def top_share(p: Any, share: float = 0.1) -> np.ndarray:
    """Weight of each row in the ``k = ceil(n * share)`` highest risks, fair under ties.

    Rows riskier than the k-th highest risk weigh 1, rows below it 0, and the rows
    tied with it share the places left: each weighs ``(k - rows above) / rows tied``,
    the expected share of them a random order of the tie would put in the top. The
    weights sum to ``k``; without ties they are the 0/1 mask of the top k, and the row
    order never matters (a constant predictor's top decile holds 10 % of every row).
    """
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    k = int(math.ceil(n * share))
    weight = np.zeros(n)
    if k == 0:
        return weight
    threshold = np.partition(p, n - k)[n - k]  # the k-th highest risk
    above = p > threshold
    tied = p == threshold
    weight[above] = 1.0
    weight[tied] = (k - int(above.sum())) / int(tied.sum())
    return weight


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
    caught = float(top @ y)
    rate_top = caught / top.sum() if top.sum() else math.nan
    out["top_decile_lift"] = float(rate_top / out["churn_rate"]) if churned else math.nan
    out["recall_at_top10"] = caught / churned if churned else math.nan
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
    counts, sum_y, sum_p = _bin_sums(y, p, n_bins)
    used = np.flatnonzero(counts)
    return pd.DataFrame({"bin": used, "predicted": sum_p[used] / counts[used],
                         "observed": sum_y[used] / counts[used], "count": counts[used]})


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
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    for name, p in risks.items():
        p = np.asarray(p, dtype=np.float64)
        keep = ~np.isnan(p)
        curve = reliability_table(y[keep], p[keep], n_bins=n_bins)
        ax.plot(curve["predicted"], curve["observed"], marker="o", label=name)
    ax.set(xlabel="predicted churn risk", ylabel="observed churn rate",
           title=f"Reliability ({n_bins} equal-width bins)", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    return fig


def plot_roc(y: Any, risks: Mapping[str, Any]) -> Figure:
    """ROC curves with their AUC in the legend."""
    y = np.asarray(y, dtype=np.int64)
    from matplotlib.figure import Figure

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
    from matplotlib.figure import Figure

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


# ----------------------------------------------------- global drivers, leak check


def global_drivers(
    contributions: Any,
    feature_names: Any,
    *,
    points_per_logit: float | None = None,
) -> pd.DataFrame:
    """Global importance: mean absolute TreeSHAP contribution of each feature.

    Parameters
    ----------
    contributions : array of shape (n, p + 1)
        Raw-margin (log-odds) contributions of ``n`` rows, last column the base value
        (LightGBM's ``pred_contrib=True`` layout, ``HealthScoreModel.contributions``).
    feature_names : sequence of str, length p
    points_per_logit : float, optional
        Health-score points per unit of raw margin: ``factor * a`` (the scale's
        ``pdo / ln 2`` times the Platt slope), so a feature's points are
        ``-points_per_logit * phi``. Adds ``mean_abs_points`` when given.

    Returns
    -------
    DataFrame
        One row per feature, largest first: ``feature``, ``mean_abs_logit`` (mean of
        ``|phi|``, log-odds), ``share`` (of the sum of ``mean_abs_logit``, so the
        shares add up to 1), ``mean_logit`` (signed mean: > 0 pushes towards churn
        on average), ``mean_abs_points`` (when ``points_per_logit`` is given).
    """
    values = np.asarray(contributions, dtype=np.float64)
    names = [str(n) for n in feature_names]
    if values.ndim != 2 or values.shape[1] != len(names) + 1:
        raise ValueError(
            f"global_drivers: contributions of shape {values.shape}, expected (n, "
            f"{len(names) + 1}) for {len(names)} feature(s) plus the base column"
        )
    phi = values[:, :-1]
    mean_abs = np.abs(phi).mean(axis=0) if len(phi) else np.full(len(names), np.nan)
    total = np.nansum(mean_abs)
    out = pd.DataFrame({
        "feature": names,
        "mean_abs_logit": mean_abs,
        "share": mean_abs / total if total > 0 else np.full(len(names), np.nan),
        "mean_logit": phi.mean(axis=0) if len(phi) else np.full(len(names), np.nan),
    })
    if points_per_logit is not None:
        out["mean_abs_points"] = abs(float(points_per_logit)) * out["mean_abs_logit"]
    return out.sort_values("mean_abs_logit", ascending=False, kind="stable").reset_index(drop=True)


#: A feature whose AUC on its own exceeds this is flagged by :func:`single_feature_auc`.
LEAK_AUC = 0.95


def single_feature_auc(
    X: pd.DataFrame,
    y: Any,
    *,
    X_train: pd.DataFrame | None = None,
    y_train: Any = None,
    threshold: float = LEAK_AUC,
) -> pd.DataFrame:
    """Leak check: the ROC-AUC of every feature used on its own as a risk score.

    A numeric feature scores a row by its value, in whichever direction ranks better
    (``max(auc, 1 - auc)``), with missing values ranked lowest or highest, whichever
    ranks better (so a feature that is missing only for churned rows is caught too).
    A categorical feature scores a row by its level's churn rate in ``X_train`` /
    ``y_train`` (unseen levels: the training churn rate); without training rows, by
    the level's churn rate in ``X`` itself (in-sample, so optimistic for many levels).
    A feature that separates the classes almost perfectly on its own usually knows the
    outcome (a leak), rarely a real signal.

    Parameters
    ----------
    X : DataFrame of shape (n, p)
        Test rows, feature columns.
    y : array of shape (n,)
        0/1 labels of ``X``.
    X_train, y_train : optional
        Training rows, for the churn rate per categorical level.
    threshold : float
        ``flagged`` is ``auc > threshold`` (default :data:`LEAK_AUC`).

    Returns
    -------
    DataFrame
        One row per feature, highest AUC first: ``feature``, ``auc`` (in [0.5, 1];
        NaN when ``y`` holds one class), ``direction`` (+1: higher values mean more
        churn, -1: less; 0 for categorical features), ``missing_share``, ``flagged``.
    """
    from healthscore.model.encoding import is_categorical

    if (X_train is None) != (y_train is None):
        raise ValueError("single_feature_auc: give both X_train and y_train, or neither")
    labels = np.asarray(y, dtype=np.int64)
    if len(labels) != len(X):
        raise ValueError(f"single_feature_auc: X has {len(X)} rows but y has {len(labels)}")
    both = 0 < labels.sum() < len(labels)
    rows = []
    for column in X.columns:
        series = X[column]
        direction = 0
        auc = math.nan
        if is_categorical(series):
            if X_train is not None:
                score = _level_rates(X_train[column], np.asarray(y_train, dtype=np.int64), series)
            else:
                score = _level_rates(series, labels, series)
            if both:
                raw = float(roc_auc_score(labels, score))
                auc = max(raw, 1.0 - raw)
        elif both:
            numeric = pd.Series(series.to_numpy(dtype=np.float64, na_value=np.nan))
            best = -1.0
            for na_option in ("top", "bottom"):
                raw = float(roc_auc_score(labels, numeric.rank(na_option=na_option)))
                if max(raw, 1.0 - raw) > best:
                    best, direction = max(raw, 1.0 - raw), 1 if raw >= 0.5 else -1
            auc = best
        rows.append({
            "feature": str(column),
            "auc": auc,
            "direction": direction,
            "missing_share": float(series.isna().mean()) if len(series) else math.nan,
            "flagged": bool(auc > threshold),
        })
    out = pd.DataFrame(rows, columns=["feature", "auc", "direction", "missing_share", "flagged"])
    return out.sort_values("auc", ascending=False, kind="stable", na_position="last").reset_index(
        drop=True
    )


def _level_rates(levels: pd.Series, labels: np.ndarray, target: pd.Series) -> np.ndarray:
    """Churn rate of each row's level in ``target``, learned from ``levels``/``labels``
    (missing is a level of its own; an unseen level gets the overall rate)."""
    key = levels.astype("string").fillna("(missing)").to_numpy(dtype=object)
    rates = pd.Series(labels, dtype=np.float64).groupby(key).mean()
    overall = float(labels.mean()) if len(labels) else math.nan
    wanted = target.astype("string").fillna("(missing)").to_numpy(dtype=object)
    return rates.reindex(wanted).fillna(overall).to_numpy(dtype=np.float64)
