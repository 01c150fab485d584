"""Tables and SHAP objects for the notebooks: what a data scientist looks at.

Pure functions of validated :class:`~healthscore.data.tables.Tables`, training sets and
fitted models, except :func:`find_project_root` and :func:`ensure_source`, which look
at (and, for the demo fallback, write) the file system. The notebooks under
``notebooks/`` import these instead of defining any pipeline code themselves.

* :func:`missing_values`, :func:`monthly_rows`: profile of a data source.
* :func:`renewal_outcomes`, :func:`churn_rate_by`: churn by cohort, segment, month.
* :func:`compare_signals`: features at the cutoff, churned against retained rows.
* :func:`shap_explanation`, :func:`driver_table`: a model's contributions as a
  :class:`shap.Explanation` (log-odds or score points) and one row's drivers in words.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.errors import DataError
from healthscore.data.schema import TABLES
from healthscore.data.tables import Tables

#: Files that mark the repository root.
_ROOT_MARKERS = ("pyproject.toml", "params.yaml")


# ------------------------------------------------------------------- locations


def find_project_root(start: str | Path | None = None) -> Path:
    """The healthscore project folder: the first of ``start`` (default: the current
    directory) and its parents holding both ``pyproject.toml`` and ``params.yaml``;
    failing that, the source tree of the installed package (editable install); failing
    that, ``start`` itself.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).is_file() for marker in _ROOT_MARKERS):
            return folder
    package = Path(__file__).resolve().parent  # src/healthscore -> the repository
    for folder in package.parents:
        if all((folder / marker).is_file() for marker in _ROOT_MARKERS):
            return folder
    return here


def ensure_source(
    data_dir: str | Path | None,
    *,
    fallback: str | Path,
    spec: Any,
) -> Path:
    """The data folder a notebook reads.

    Parameters
    ----------
    data_dir : path or None
        Given: it must exist. None: ``fallback`` when it exists (e.g. ``data/demo``
        after ``make demo``), else ``spec`` simulated into a new temporary folder.
    fallback : path
        The project's own source (``params.data.source`` from the project root).
    spec : healthscore.sim.simulate.SimulationSpec
        What to simulate when nothing else is there.
    """
    if data_dir is not None:
        path = Path(data_dir)
        if not path.exists():
            raise DataError(f"data source {path} does not exist")
        return path
    if Path(fallback).exists():
        return Path(fallback)
    from healthscore.sim.simulate import write_simulation

    target = Path(tempfile.mkdtemp(prefix="healthscore-demo-")) / "data"
    write_simulation(spec, target)
    return target


# --------------------------------------------------------------------- profile


def missing_values(tables: Tables) -> pd.DataFrame:
    """Missing values of every column of every table.

    Returns
    -------
    DataFrame
        ``table``, ``column``, ``rows``, ``missing`` (count), ``share`` (in [0, 1]);
        tables in contract order, columns in table order.
    """
    rows = []
    for name in TABLES:
        if name not in tables:
            continue
        frame = tables[name]
        for column in frame.columns:
            missing = int(frame[column].isna().sum())
            rows.append({"table": name, "column": str(column), "rows": len(frame),
                         "missing": missing, "share": missing / len(frame) if len(frame) else np.nan})
    return pd.DataFrame(rows, columns=["table", "column", "rows", "missing", "share"])


def monthly_rows(tables: Tables) -> pd.DataFrame:
    """Rows per calendar month of each table's event time (``schema.TABLES``).

    Returns
    -------
    DataFrame
        Index: month start (datetime64), every month from the first to the last dated
        row of any table; one int64 column per dated table (0 where none).
    """
    counts = {}
    for name, spec in TABLES.items():
        if name not in tables or not spec.event_time:
            continue
        times = tables[name][spec.event_time].dropna()
        counts[name] = times.dt.to_period("M").value_counts()
    if not counts:
        return pd.DataFrame()
    frame = pd.DataFrame(counts).sort_index()
    months = pd.period_range(frame.index.min(), frame.index.max(), freq="M")
    frame = frame.reindex(months).fillna(0).astype(np.int64)
    frame.index = months.to_timestamp()
    frame.index.name = "month"
    return frame


# ------------------------------------------------------------------------ churn


def renewal_outcomes(dataset: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """The labelled rows of a training set with what churn is grouped by.

    Parameters
    ----------
    dataset : DataFrame
        A training set (``pipeline.build_dataset``); censored rows (label <NA>) are
        left out.
    tables : Tables
        The source it was built from: ``accounts`` gives ``segment`` and
        ``created_at``.

    Returns
    -------
    DataFrame
        ``account_id``, ``cutoff_time``, ``renewal_date``, ``label`` (int64),
        ``segment`` (text, ``(unknown)`` when absent), ``cohort`` (quarter the account
        was created, e.g. ``2023Q2``, ``(unknown)`` when absent) and ``renewal_month``
        (month start of ``renewal_date``; of ``cutoff_time`` in horizon mode).
    """
    labelled = dataset.loc[dataset["label"].notna(),
                           ["account_id", "cutoff_time", "renewal_date", "label"]]
    out = labelled.reset_index(drop=True).astype({"label": np.int64})
    accounts = tables.accounts.set_index("account_id")
    ids = out["account_id"]
    out["segment"] = _account_text(accounts, "segment", ids)
    if "created_at" in accounts:
        created = ids.map(accounts["created_at"])
        cohort = created.dt.to_period("Q").astype("string")
        out["cohort"] = cohort.fillna("(unknown)").astype(object)
    else:
        out["cohort"] = "(unknown)"
    when = out["renewal_date"].fillna(out["cutoff_time"])
    out["renewal_month"] = when.dt.to_period("M").dt.to_timestamp()
    return out


def _account_text(accounts: pd.DataFrame, column: str, ids: pd.Series) -> pd.Series:
    if column not in accounts:
        return pd.Series("(unknown)", index=ids.index, dtype=object)
    values = ids.map(accounts[column].astype("string"))
    return values.fillna("(unknown)").astype(object)


def churn_rate_by(outcomes: pd.DataFrame, by: str, *, confidence: float = 0.95) -> pd.DataFrame:
    """Churn rate of labelled rows per value of ``by``, with a Wilson interval.

    Parameters
    ----------
    outcomes : DataFrame
        Holds ``label`` (0/1) and the column ``by`` (e.g. from :func:`renewal_outcomes`).
    by : str
        Column to group by (``segment``, ``cohort``, ``renewal_month``, ...).
    confidence : float
        Coverage of the interval.

    Returns
    -------
    DataFrame
        ``by``, ``rows``, ``churned``, ``churn_rate``, ``low``, ``high``; sorted by ``by``.
    """
    from scipy.stats import binomtest

    if by not in outcomes.columns:
        raise DataError(f"churn_rate_by: no column {by!r} (found: {', '.join(map(str, outcomes.columns))})")
    grouped = (outcomes.groupby(by, sort=True, observed=True)["label"]
               .agg(rows="size", churned="sum").reset_index())
    grouped["churned"] = grouped["churned"].astype(np.int64)
    grouped["churn_rate"] = grouped["churned"] / grouped["rows"]
    bounds = [binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
              for k, n in zip(grouped["churned"], grouped["rows"])]
    grouped["low"] = [b.low for b in bounds]
    grouped["high"] = [b.high for b in bounds]
    return grouped


def compare_signals(dataset: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Numeric features at the cutoff, churned (label 1) against retained (label 0).

    Returns
    -------
    DataFrame
        One row per feature (in the given order): ``feature``, ``retained_median``,
        ``churned_median``, ``retained_mean``, ``churned_mean``, ``missing_share``
        (over labelled rows) and ``roc_auc`` of the value alone as a churn score on
        the rows where it is present: 0.5 = no signal, above = higher values go with
        churn, below = higher values go with retention.
    """
    from sklearn.metrics import roc_auc_score

    missing = [f for f in features if f not in dataset.columns]
    if missing:
        raise DataError(f"compare_signals: the training set has no feature {missing[0]!r}")
    labelled = dataset.loc[dataset["label"].notna()]
    y = labelled["label"].to_numpy(dtype=np.int64)
    rows = []
    for name in features:
        values = pd.to_numeric(labelled[name], errors="coerce").to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        kept_y, kept = y[present], values[present]
        both = 0 < kept_y.sum() < len(kept_y)
        rows.append({
            "feature": name,
            "retained_median": _stat(np.median, kept[kept_y == 0]),
            "churned_median": _stat(np.median, kept[kept_y == 1]),
            "retained_mean": _stat(np.mean, kept[kept_y == 0]),
            "churned_mean": _stat(np.mean, kept[kept_y == 1]),
            "missing_share": float(1 - present.mean()) if len(values) else np.nan,
            "roc_auc": float(roc_auc_score(kept_y, kept)) if both else np.nan,
        })
    return pd.DataFrame(rows)


def _stat(function: Any, values: np.ndarray) -> float:
    return float(function(values)) if len(values) else np.nan


# ---------------------------------------------------------------- explanations


def shap_explanation(
    model: Any,
    X: pd.DataFrame,
    *,
    scale: Any = None,
    labels: Mapping[str, str] | None = None,
):
    """A :class:`shap.Explanation` of a fitted tree model's rows, for shap's plots.

    Parameters
    ----------
    model : HealthScoreModel or ExportedModel (``lightgbm`` kind)
    X : DataFrame
        n rows holding the model's feature columns.
    scale : HealthScale, optional
        None: values are LightGBM's TreeSHAP contributions in raw log-odds of churn
        (base = expected margin; base + values = raw margin). Given (or when ``model``
        is an ``ExportedModel``): values are health-score points (positive =
        healthier) and the base is the score of an average account, so base + values
        = the unclipped health score (:mod:`healthscore.scoring.explain`).
    labels : mapping, optional
        Feature name -> the name shown on the plot (e.g. catalogue labels).

    Returns
    -------
    shap.Explanation
        ``values`` (n, p), ``base_values`` (n,), ``data`` (n, p) float with categories
        as level codes (for colouring), ``display_data`` the raw values.
    """
    import shap

    from healthscore.scoring.explain import explain_model
    from healthscore.model.encoding import encode_frame

    exported_scale = getattr(model, "scale", None)
    from healthscore.model.export import ExportedModel

    inner = model.model if isinstance(model, ExportedModel) else model
    if not hasattr(inner, "contributions"):
        raise TypeError(f"shap_explanation: {type(model).__name__} is not a tree model")
    # a hazard model's points are of its horizon score (intervals combined)
    horizon = getattr(model, "horizon", None) is not None
    names = list(model.feature_names) if horizon else list(inner.feature_names_)
    frame = X.loc[:, names]
    if scale is None and exported_scale is not None:
        scale = exported_scale
    if scale is None:
        contributions = inner.contributions(frame)
        values, base = contributions[:, :-1], contributions[:, -1]
    else:
        explanation = explain_model(model if horizon else inner, frame, scale=scale)
        values, base = explanation.points, explanation.base
    shown = [str((labels or {}).get(n, n)) for n in names]
    return shap.Explanation(
        values=values,
        base_values=base,
        data=encode_frame(frame, names, inner.categories_),
        display_data=frame.to_numpy(dtype=object),
        feature_names=shown,
    )


def driver_table(
    explanation: Any,
    X: pd.DataFrame,
    row: int,
    *,
    catalogue: Mapping[str, Any],
    k: int = 5,
) -> pd.DataFrame:
    """The top ``k`` hurting and helping features of one explained row, in words.

    Parameters
    ----------
    explanation : healthscore.scoring.explain.Explanation
        Explanation of the rows of ``X`` (same order).
    X : DataFrame
        Feature values of the explained rows (for the phrases).
    row : int
        Position of the row in ``X`` and ``explanation``.
    catalogue : mapping
        Feature name -> :class:`~healthscore.features.FeatureInfo`.

    Returns
    -------
    DataFrame
        ``direction`` (hurting, helping), ``feature``, ``family``, ``value``,
        ``points`` (health-score points, negative hurts) and ``phrase``; hurting
        first, each by size of its points.
    """
    from healthscore.scoring.drivers import catalogue_entry, find_drivers
    from healthscore.features.catalogue import FeatureInfo
    from healthscore.features.phrases import render_phrase

    drivers = find_drivers(explanation.points[row:row + 1], k=k)
    values = X.iloc[row]
    lines = []
    for direction, indices in (("hurting", drivers.hurting[0]), ("helping", drivers.helping[0])):
        for index in indices[indices >= 0]:
            name = explanation.feature_names[index]
            info = catalogue.get(name)
            if isinstance(info, Mapping):  # an exported catalogue holds plain dicts
                info = FeatureInfo(**info)
            lines.append({
                "direction": direction,
                "feature": name,
                "family": catalogue_entry(catalogue, name)["family"],
                "value": values.get(name),
                "points": float(explanation.points[row, index]),
                "phrase": render_phrase(info, values) if info is not None else name,
            })
    return pd.DataFrame(lines, columns=["direction", "feature", "family", "value", "points", "phrase"])
