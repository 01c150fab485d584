"""The drift reference: the training window's bins and shares, fixed when the model is
trained and saved with it (``reference.json`` in the model bundle).

``{"format": 1, "bins": 10, "window": {"first_cutoff", "last_cutoff", "rows"},
"trained_until": ISO date (the exclusive end of the training data), "features": {name:
{"kind": "numeric", "edges": [...], "shares": [...]} or {"kind": "categorical",
"levels": [...], "shares": [...]}}, "score": {"kind": "numeric", "edges", "shares"},
"bands": {"red": share, "yellow": share, "green": share}}``.

The features are the model's own that the training set holds (the renewal calendar a
hazard model adds at scoring, ``exposure__*``, has no training-window column); the
score is the exported model's health score of the training window's rows.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.errors import ModelError
from healthscore.model.scale import BANDS
from healthscore.monitor.psi import (categorical_counts, categorical_shares, category_levels,
                                     numeric_counts, numeric_shares, quantile_edges)

REFERENCE_FORMAT = 1


def is_categorical(values: pd.Series) -> bool:
    """A categorical feature: ``category`` dtype (training) or text (stored points)."""
    return isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object \
        or pd.api.types.is_string_dtype(values.dtype)


def describe_values(values: pd.Series, *, bins: int) -> dict[str, Any]:
    """The bins and training shares of one feature (or of the score)."""
    if is_categorical(values):
        levels = category_levels(values)
        return {"kind": "categorical", "levels": levels,
                "shares": categorical_shares(values, levels).tolist()}
    x = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    edges = quantile_edges(x, bins=bins)
    return {"kind": "numeric", "edges": edges, "shares": numeric_shares(x, edges).tolist()}


def current_counts(values: Any, entry: Mapping[str, Any]) -> np.ndarray:
    """How many of ``values`` fall in each bin of a reference entry (float64, exact: a
    date's counts are the sums of its buckets' counts)."""
    if entry["kind"] == "categorical":
        return categorical_counts(values, entry["levels"])
    return numeric_counts(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64),
                          entry["edges"])


def current_shares(values: Any, entry: Mapping[str, Any]) -> np.ndarray:
    """Shares of ``values`` in the bins of a reference entry."""
    return current_counts(values, entry) / max(len(values), 1)


def build_reference(rows: pd.DataFrame, exported: Any, *, bins: int,
                    trained_until: Any = None) -> dict[str, Any]:
    """The reference of a model from its training window's rows.

    Parameters
    ----------
    rows : DataFrame
        The training window of the training set (``cutoff_time``, features and, for a
        hazard model, ``renewal_date`` and ``term_days``).
    exported : ExportedModel
        The model as exported; its health score of ``rows`` is the score's reference.
    bins : int
        Quantile bins per numeric feature (``params.monitor.bins``).
    trained_until : date, optional
        The exclusive end of the data the model was trained on (its age counts from it).
    """
    if rows.empty:
        raise ModelError("drift reference: the training window has no rows")
    names = [n for n in exported.feature_names if n in rows.columns]
    X = rows
    if exported.horizon is not None:
        from healthscore.model.exposure import account_exposure

        X = account_exposure(rows, exported.horizon)
    frame = exported.predict_frame(X[list(exported.feature_names)])
    bands = frame["band"].value_counts(normalize=True)
    cutoffs = pd.to_datetime(rows["cutoff_time"])
    return {
        "format": REFERENCE_FORMAT,
        "bins": int(bins),
        "window": {"first_cutoff": f"{cutoffs.min():%Y-%m-%d}", "last_cutoff": f"{cutoffs.max():%Y-%m-%d}",
                   "rows": int(len(rows))},
        "trained_until": None if trained_until is None else f"{pd.Timestamp(trained_until):%Y-%m-%d}",
        "features": {n: describe_values(rows[n], bins=bins) for n in names},
        "score": describe_values(frame["health_score"].astype(np.float64), bins=bins),
        "bands": {b: float(bands.get(b, 0.0)) for b in BANDS},
    }


def check_reference(reference: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``reference`` when this package reads its format; a ModelError otherwise."""
    if reference is None:
        return None
    if reference.get("format") != REFERENCE_FORMAT or not isinstance(reference.get("features"), Mapping):
        raise ModelError(f"reference.json: format {reference.get('format')!r}, expected "
                         f"{REFERENCE_FORMAT} with a 'features' object; retrain the model")
    return reference


def training_reference(frame: pd.DataFrame, exported: Any, params: Any, *, meta: Mapping[str, Any]) -> dict:
    """The reference saved with a model trained on ``frame`` (:func:`build_reference`
    over the latest ``params.monitor.reference_months`` of the window it was fitted on:
    the served hazard fit's for a horizon model, the split's training window otherwise;
    ``meta``: the training set's sidecar)."""
    from healthscore.model.split import split_by_time
    from healthscore.model.training import served_train_until

    observed_until = meta.get("observed_until")
    if exported.horizon is not None and observed_until:  # the served hazard fit's window
        until = served_train_until(pd.Timestamp(observed_until), horizon=exported.horizon,
                                   split=params.split)
        rows = frame.loc[frame["cutoff_time"] <= until]
    else:
        rows = split_by_time(frame, params.split).train
        until = rows["cutoff_time"].max()
    # its latest months: the earliest cutoffs of a data set have a short history
    rows = rows.loc[rows["cutoff_time"] > until - pd.DateOffset(months=params.monitor.reference_months)]
    return build_reference(rows, exported, bins=params.monitor.bins, trained_until=observed_until)
